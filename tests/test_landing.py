"""The package's dataset card (index.html), README and CITATION.cff: content, links and escaping."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from isaprofile.model import DataFile, Investigation, Person, Sample, Scan, Segmentation, Study, Subject, Value
from isaprofile.package.deposit import package_dataset
from isaprofile.package.landing import (
    DOI_PLACEHOLDER,
    citation_bibtex,
    citation_cff,
    citation_text,
    index_html,
    md,
    readme,
)

EVIL = '<script>alert("x")</script>'


class Page(HTMLParser):
    """The parts of a page the tests look at: links, images, element ids, table headers, JSON-LD, text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: dict[str, str] = {}
        self.headers: dict[str, list[str]] = {}
        self.scripts: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._in: list[str] = []
        self._script: str | None = None
        self.meta: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        d = {k: v or "" for k, v in attrs}
        self._in.append(tag)
        if tag == "a" and "href" in d:
            self.links.append(d["href"])
        if tag == "img":
            self.images.append(d.get("src", ""))
        if "id" in d:
            self.ids[d["id"]] = tag
        if tag == "table":
            self._table = d.get("id", "")
            self.headers[self._table] = []
        if tag == "script":
            self._script = d.get("type", "")
        if tag == "meta" and "name" in d:
            self.meta[d["name"]] = d.get("content", "")

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts.append((self._script, data))
        elif self._in and self._in[-1] == "th" and self._table is not None:
            self.headers[self._table].append(data)
        else:
            self.text.append(data)

    def jsonld(self) -> dict:
        (doc,) = [json.loads(body) for kind, body in self.scripts if kind == "application/ld+json"]
        return doc


def _hostile() -> Investigation:
    subj = Subject(id="S1<b>", comments={"licence": Value("CC-BY-4.0")})
    subj2 = Subject(id="S2", comments={"licence": Value("CC-BY-NC-4.0")})
    scans = [Scan(id="scan-1", sample="smp-1", modality="CT", files=[DataFile(path="images/a&b.nii.gz")],
                  segmentations=[Segmentation(path="masks/m.nii.gz")]),
             Scan(id="scan-2", sample="smp-2", modality="CT", files=[DataFile(path="images/c.nii.gz")])]  # fmt: skip
    study = Study(
        identifier="st",
        subjects=[subj, subj2],
        samples=[Sample(id="smp-1", subject="S1<b>"), Sample(id="smp-2", subject="S2")],
        scans=scans,
    )
    return Investigation(
        identifier="inv",
        title=f"Title {EVIL}",
        description=f"About </script><!-- {EVIL} & more",
        submission_date="2026-01-02",
        public_release_date="2026-02-03",
        contacts=[
            Person(last_name=f"Doe{EVIL}", first_name="Jane_{x}", orcid="0000-0002-1825-0097", affiliation="Lab & Co")
        ],  # fmt: skip
        licences=["CC-BY-4.0", "CC-BY-NC-4.0"],
        keywords=["k<1>", "CT"],
        publications=[{"doi": "10.1000/xyz<1>", "title": f"Paper {EVIL}"}],
        funding=[{"funder": "Fund <x>", "award": "A-1"}],
        studies=[study],
        profile="clinical-ct@1.0",
        comments={"doi": "https://doi.org/10.5281/zenodo.123", "publisher": "Pub", "version": "2.0"},
    )


def test_card_escapes_everything_and_embeds_valid_json_ld() -> None:
    inv = _hostile()
    text = index_html(inv, {"previews/scan-1.png"}).decode("utf-8")
    assert "<script>alert" not in text and "<b>" not in text.replace("<b>Built", "")
    assert text.count("</script>") == 1  # only the JSON-LD element's own end tag
    assert "<!--" not in text.split("</style>", 1)[1]
    page = Page(text)
    doc = page.jsonld()
    assert doc["@type"] == "Dataset" and doc["name"] == f"Title {EVIL}"  # the same text, escaped only for HTML
    assert doc["identifier"] == "https://doi.org/10.5281/zenodo.123" and doc["version"] == "2.0"
    assert doc["keywords"] == ["k<1>", "CT"]
    assert doc["creator"][0]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    body = " ".join(page.text)
    assert f"Title {EVIL}" in body and f"Doe{EVIL}" in body
    assert "https://orcid.org/0000-0002-1825-0097" in page.links
    assert "https://doi.org/10.5281/zenodo.123" in page.links and page.ids["doi"] == "a"
    assert "https://doi.org/10.1000/xyz%3C1%3E" in page.links  # related publication, URL-encoded
    assert "images/a%26b.nii.gz" in page.links and "masks/m.nii.gz" in page.links
    assert page.images == ["previews/scan-1.png"]
    assert page.meta["viewport"] == "width=device-width, initial-scale=1"
    assert "@media print" in text
    assert "Funding" in body and "Fund <x> — A-1" in body and "Version" in body and "2.0" in body
    assert "Related publication" in body and f"Paper {EVIL}" in body
    # per-subject licences, and only columns that have values (no Time point, no Study, no Size)
    assert page.headers["licences"] == ["Licence", "Subjects", "Count"]
    assert page.headers["scan-table"] == ["Subject", "Scan", "Modality", "Licence", "Image", "Segmentations", "Preview"]
    assert page.headers["per-modality"] == ["Modality", "Scans"]
    assert "invalid-banner" not in page.ids


def test_banner_placeholder_sizes_and_links_given_by_the_package(tmp_path: Path) -> None:
    inv = _hostile()
    inv.comments.pop("doi")
    img = tmp_path / "a.nii.gz"
    img.write_bytes(b"x" * 2500)
    files = {"README.md", "CITATION.cff", "metadata/validation-report.json", "metadata/isatab/s_st.txt"}
    page = Page(index_html(inv, set(), invalid=True, files=files, payload={"images/a&b.nii.gz": img}).decode())
    assert page.ids["invalid-banner"] == "p" and "metadata/validation-report.json" in page.links
    assert page.ids["doi"] == "span"  # a marked placeholder, not a link
    body = " ".join(page.text)
    assert DOI_PLACEHOLDER in body and "placeholder: no DOI assigned yet" in body
    assert "2.5 kB in 1 files" in body
    assert page.headers["scan-table"][-2:] == ["Size", "Segmentations"]  # no Preview column: no previews
    assert {"README.md", "CITATION.cff", "metadata/isatab/s_st.txt"} <= set(page.links)
    assert "ro-crate-metadata.json" not in page.links  # not in the package, so not linked


def test_citation_text_bibtex_and_cff() -> None:
    inv = _hostile()
    assert citation_text(inv) == (f"Doe{EVIL}, J. (2026). Title {EVIL} (Version 2.0) [Data set]. Pub. "
                                  "https://doi.org/10.5281/zenodo.123")  # fmt: skip
    bib = citation_bibtex(inv)
    assert bib.startswith("@misc{Doescriptalertxscript2026,\n")
    assert '  author = {Doe<script>alert("x")</script>, Jane\\_\\{x\\}},' in bib
    assert "  doi = {10.5281/zenodo.123}," in bib and "  version = {2.0}," in bib
    assert bib.count("{") - bib.count("\\{") == bib.count("}") - bib.count("\\}")
    cff = yaml.safe_load(citation_cff(inv))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset"
    assert cff["title"] == f"Title {EVIL}" and cff["doi"] == "10.5281/zenodo.123"
    orcid = "https://orcid.org/0000-0002-1825-0097"
    assert cff["authors"] == [{"family-names": f"Doe{EVIL}", "given-names": "Jane_{x}", "orcid": orcid,
                               "affiliation": "Lab & Co"}]  # fmt: skip
    assert cff["date-released"] == "2026-02-03" and cff["version"] == "2.0"
    assert cff["license"] == ["CC-BY-4.0", "CC-BY-NC-4.0"] and cff["keywords"] == ["k<1>", "CT"]
    assert cff["identifiers"] == [{"type": "doi", "value": "10.1000/xyz<1>",
                                   "description": f"Related publication: Paper {EVIL}"}]  # fmt: skip
    inv.comments.pop("doi")
    assert "doi" not in yaml.safe_load(citation_cff(inv))
    assert "note = {DOI not yet assigned}" in citation_bibtex(inv)


def test_readme_escapes_markdown() -> None:
    inv = _hostile()
    inv.title = "*bold* [link](http://x) <img src=x onerror=alert(1)> | pipe"
    text = readme(inv).decode("utf-8")
    assert text.startswith("# \\*bold\\* \\[link\\](http://x) &lt;img src=x onerror=alert(1)&gt; \\| pipe\n")
    assert "<img" not in text and "<script" not in text
    assert md("a_b `c` #1 & <d>") == "a\\_b \\`c\\` \\#1 &amp; &lt;d&gt;"
    assert md("- item") == "\\- item" and md("12. x") == "12\\. x" and md("a - b. c") == "a - b. c"
    assert "## How to cite" in text and "not yet assigned" not in text  # this one has a DOI


@pytest.mark.parametrize("name", ["preclinical-liver", "crlm-ct", "enhance-petct"])
def test_packaged_cards_link_only_files_that_exist(name: str, request, tmp_path: Path) -> None:
    fixture = {"preclinical-liver": "example", "crlm-ct": "crlm", "enhance-petct": "enhance"}[name]
    result = package_dataset(request.getfixturevalue(fixture), tmp_path / "pkg")
    assert result.path is not None, result.report.codes()
    data = result.path / "data"
    page = Page((data / "index.html").read_text(encoding="utf-8"))
    local = [unquote(h) for h in page.links if not re.match(r"^https?://", h)]
    assert local and all((data / h).exists() for h in local), [h for h in local if not (data / h).exists()]
    # and every metadata file the package holds is linked, the crate too (written with the copy's digests)
    assert {"ro-crate-metadata.json", "datapackage.json", "metadata/isa.json", "README.md"} <= set(local)
    assert all((data / unquote(src)).is_file() for src in page.images) and page.images
    doc = page.jsonld()
    assert (
        doc["@type"] == "Dataset"
        and doc["name"] == json.loads((data / "metadata/schema-org.jsonld").read_bytes())["name"]
    )
    heads = page.headers["scan-table"]  # a column only where some scan has a value
    assert ("Time point" in heads) is (name == "preclinical-liver")
    assert ("Licence" in heads) is (name == "enhance-petct")
    assert ("Study" in heads) is (name == "preclinical-liver")  # the only example with two studies
    assert "Preview" in heads and "Segmentations" in heads
    readme_text = (data / "README.md").read_text(encoding="utf-8")
    assert "## How to cite" in readme_text
