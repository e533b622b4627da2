"""The human side of a package: ``README.md``, a static ``index.html`` dataset card, ``CITATION.cff`` and
scan previews.

The dataset card says what the dataset is (title, version, dates, creators with ORCID links, keywords,
profile), how to cite it (text, BibTeX, CITATION.cff; the DOI or a marked placeholder), what it holds
(subjects, scans per modality and time point, sizes, licences per subject) and links every metadata and
data file. It embeds the schema.org ``Dataset`` JSON-LD that dataset search engines read. Every value from
the dataset is escaped for its context (HTML text, attribute, JSON in a script element, Markdown, BibTeX).

Previews are small PNGs of the middle slice of each scan, made from the pixel data (NIfTI with nibabel,
DICOM with pydicom); a scan whose pixels cannot be read gets no preview and a warning.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from isaprofile.findings.issues import Report, issue
from isaprofile.model import Investigation, Scan

PREVIEW_SIZE = 128
PREVIEW_PARALLEL_MIN = 64  # scans from which previews are made on the pool


def _middle_slice(path: Path):  # -> numpy array (2-D)

    if path.is_dir():  # a DICOM series folder: the middle file
        files = sorted(p for p in path.rglob("*") if p.is_file())
        path = files[len(files) // 2]
    if path.name.endswith((".nii", ".nii.gz")):
        return _nifti_middle(path)
    import pydicom

    ds = pydicom.dcmread(str(path))
    arr = ds.pixel_array
    return arr[arr.shape[0] // 2] if arr.ndim == 3 else arr


def _nifti_middle(path: Path):  # -> numpy array (2-D)
    """The middle axial slice (first volume) of a NIfTI file, in one open and reading only that slab,
    so memory does not grow with the volume."""
    import gzip
    import struct

    import nibabel as nib
    import numpy as np

    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw) if gz else raw
        size = stream.read(4)
        stream.seek(0)
        two = 540 in (struct.unpack("<i", size)[0], struct.unpack(">i", size)[0]) if len(size) == 4 else False
        img: Any = (nib.Nifti2Image if two else nib.Nifti1Image).from_stream(stream)
        shape = img.shape
        index: tuple[Any, ...] = (slice(None), slice(None))
        if len(shape) >= 3:
            index += (shape[2] // 2,) + (0,) * (len(shape) - 3)
        return np.asanyarray(img.dataobj[index])


def preview_png(path: Path) -> bytes:
    """A grey-scale PNG (at most 128 px) of the middle slice of the image at ``path``."""
    import numpy as np
    from PIL import Image

    sl = np.asarray(_middle_slice(path), dtype=float)
    lo, hi = np.percentile(sl, 1), np.percentile(sl, 99)
    scaled = np.clip((sl - lo) / (hi - lo if hi > lo else 1.0) * 255, 0, 255).astype(np.uint8)
    img = Image.fromarray(np.rot90(scaled))
    img.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)  # Pillow writes no timestamp: deterministic bytes
    return buf.getvalue()


def _preview_or_reason(path: str) -> bytes | str:
    """The preview of one image, or why it could not be made (runs in the workers of ``map_files``)."""
    try:
        return preview_png(Path(path))
    except (OSError, ValueError, IndexError, RuntimeError, AttributeError, TypeError) as exc:
        return type(exc).__name__


@contextmanager
def previews(
    inv: Investigation, root: Path, workers: int | None = None
) -> Iterator[Callable[[], tuple[dict[str, bytes], Report]]]:
    """Begin ``previews/<scan>.png`` (PNG bytes) for every scan with a readable image, on the engine's pool
    (or its Dask cluster) for many scans; the value gives them, and a finding for each image that could not
    be shown, once made. The pool works while the block's own work goes on (a deposit writes its ISA-Tab)."""
    from isaprofile.engine import default_workers, started

    scans = [scan for study in inv.studies for scan in study.scans if scan.files]
    pool = workers if workers is not None else default_workers()
    n = pool if len(scans) >= PREVIEW_PARALLEL_MIN else 1
    paths = [str(root / scan.files[0].path) for scan in scans]
    if n > 1:  # what preview_png needs, imported before the pool forks (not once in every worker)
        import numpy  # noqa: F401
        import PIL.Image  # noqa: F401

        from isaprofile.harvest.readers import load_readers_for

        load_readers_for(paths)
    with started(_preview_or_reason, paths, n) as results:

        def made() -> tuple[dict[str, bytes], Report]:
            out: dict[str, bytes] = {}
            report = Report()
            for scan, result in zip(scans, results, strict=True):
                if isinstance(result, bytes):
                    out[f"previews/{_safe(scan.id)}.png"] = result
                else:
                    report.add(issue("preview-failed", file=scan.files[0].path, reason=result))
            return out, report

        yield made


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _time_point(scan: Scan, samples: dict) -> str:
    smp = samples.get(scan.sample)
    if smp is None:
        return ""
    for v in smp.factors.values():
        unit = f" {v.unit.label}" if v.unit else ""
        return f"{v.text()}{unit}"
    return ""


def _summary(inv: Investigation) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]], list[list[str]]]:
    modal: Counter = Counter()
    per_tp: Counter = Counter()
    rows = []
    for study in inv.studies:
        samples = {s.id: s for s in study.samples}
        for scan in study.scans:
            tp = _time_point(scan, samples)
            modal[scan.modality] += 1
            per_tp[(scan.modality, tp)] += 1
            subject = samples[scan.sample].subject if scan.sample in samples else ""
            rows.append([study.identifier, subject, scan.id, scan.modality, tp,
                         scan.files[0].path if scan.files else "", str(len(scan.segmentations))])  # fmt: skip
    return sorted(modal.items()), [(m, t, n) for (m, t), n in sorted(per_tp.items())], rows


# --- facts shared by the card, the README and the citation ----------------------------------------

DOI_PLACEHOLDER = "10.XXXX/not-yet-assigned"
_DOI_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)

# The metadata files package_dataset writes (paths inside data/), with what each is for.
METADATA_FILES: tuple[tuple[str, str], ...] = (
    ("README.md", "README"),
    ("CITATION.cff", "Citation File Format"),
    ("ro-crate-metadata.json", "RO-Crate metadata (JSON-LD)"),
    ("datapackage.json", "Frictionless Data Package of the ISA-Tab tables"),
    ("metadata/isatab/i_investigation.txt", "ISA-Tab investigation"),
    ("metadata/isa.json", "ISA-JSON"),
    ("metadata/datacite.json", "DataCite metadata"),
    ("metadata/zenodo.json", "Zenodo deposit metadata"),
    ("metadata/schema-org.jsonld", "schema.org Dataset (JSON-LD)"),
    ("metadata/validation-report.json", "Validation report"),
    ("metadata/phi-exceptions.json", "PHI allow-list exceptions applied"),
)
# What package_dataset writes whatever the dataset (CITATION.cff and the PHI exceptions only on request).
DEFAULT_METADATA = frozenset(name for name, _ in METADATA_FILES) - {"CITATION.cff", "metadata/phi-exceptions.json"}


def dataset_doi(inv: Investigation) -> str | None:
    """The dataset's own DOI (``investigation.comments.doi`` in the config), normalised to ``10.…``; else None."""
    m = _DOI_RE.match((inv.comments.get("doi") or "").strip())
    return m.group(1) if m else None


def _year(inv: Investigation) -> str:
    date = inv.public_release_date or inv.submission_date
    return date[:4] if re.match(r"^\d{4}", date or "") else ""


def _subjects(inv: Investigation) -> int:
    return sum(len(s.subjects) for s in inv.studies)


def _subject_licences(inv: Investigation) -> dict[str, str]:
    """Subject id → its own licence (``Comment[licence]``), for datasets whose subjects differ."""
    out = {}
    for study in inv.studies:
        for subj in study.subjects:
            lic = subj.comments.get("licence")
            if lic is not None and lic.text():
                out[subj.id] = lic.text()
    return out


def _profile_parts(inv: Investigation, profile=None) -> tuple[str, str]:
    if profile is not None:
        return str(getattr(profile, "title", "") or profile.name), str(profile.version)
    name, _, version = (inv.profile or "").partition("@")
    return name, version


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def citation_text(inv: Investigation) -> str:
    """A DataCite-style citation: Creators (Year). Title (Version) [Data set]. Publisher. DOI."""
    names = [f"{p.last_name}, {p.first_name[:1]}." if p.first_name else p.last_name for p in inv.contacts]
    parts = [", ".join(names) or "Anonymous"]
    parts[0] += f" ({_year(inv)})." if _year(inv) else "."
    version = inv.comments.get("version")
    parts.append(f"{inv.title or inv.identifier}" + (f" (Version {version})" if version else "") + " [Data set].")
    publisher = inv.comments.get("publisher")
    if publisher:
        parts.append(f"{publisher}.")
    doi = dataset_doi(inv)
    parts.append(f"https://doi.org/{doi}" if doi else f"DOI: {DOI_PLACEHOLDER} (placeholder: no DOI assigned yet)")
    return " ".join(parts)


_BIBTEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def _bib(text: str) -> str:
    return "".join(_BIBTEX.get(c, c) for c in " ".join(text.split()))


def citation_bibtex(inv: Investigation) -> str:
    """A BibTeX ``@misc`` entry for the dataset (values escaped for BibTeX)."""
    key = re.sub(r"[^A-Za-z0-9]+", "", inv.contacts[0].last_name if inv.contacts else "dataset") + _year(inv)
    fields = [("author", " and ".join(_bib(f"{p.last_name}, {p.first_name}".strip(", ")) for p in inv.contacts)),
              ("title", "{" + _bib(inv.title or inv.identifier) + "}"), ("year", _year(inv)),
              ("publisher", _bib(inv.comments.get("publisher") or "")),
              ("version", _bib(inv.comments.get("version") or "")),
              ("keywords", _bib(", ".join(inv.keywords)))]  # fmt: skip
    doi = dataset_doi(inv)
    if doi:
        fields += [("doi", _bib(doi)), ("url", f"https://doi.org/{_bib(doi)}")]
    else:
        fields.append(("note", "DOI not yet assigned"))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@misc{{{key or 'dataset'},\n{body}\n}}\n"


def citation_cff(inv: Investigation) -> bytes:
    """``CITATION.cff`` (Citation File Format 1.2.0) for the dataset: type dataset, authors with ORCIDs,
    version, release date, DOI (or none), licences, keywords and the related publications' DOIs."""
    import yaml

    from isaprofile.linked import _common as c

    authors = []
    for p in inv.contacts:
        a = {"family-names": p.last_name}
        if p.first_name:
            a["given-names"] = p.first_name
        if p.orcid and c.orcid_ok(p.orcid):
            a["orcid"] = c.orcid_iri(p.orcid)
        if p.affiliation:
            a["affiliation"] = p.affiliation
        authors.append(a)
    doc: dict = {"cff-version": "1.2.0", "message": "If you use this dataset, please cite it as below.",
                 "type": "dataset", "title": inv.title or inv.identifier,
                 "authors": authors or [{"name": "Anonymous"}]}  # fmt: skip
    if inv.comments.get("version"):
        doc["version"] = inv.comments["version"]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", inv.public_release_date or ""):
        doc["date-released"] = inv.public_release_date
    doi = dataset_doi(inv)
    if doi:
        doc["doi"] = doi
    if inv.description:
        doc["abstract"] = " ".join(inv.description.split())
    if inv.keywords:
        doc["keywords"] = list(inv.keywords)
    if inv.licences:
        doc["license"] = inv.licences[0] if len(inv.licences) == 1 else list(inv.licences)
    related = [{"type": "doi", "value": p["doi"], "description": f"Related publication: {p.get('title') or p['doi']}"}
               for p in inv.publications if p.get("doi")]  # fmt: skip
    if related:
        doc["identifiers"] = related
    text = "# Citation File Format 1.2.0 (https://citation-file-format.github.io/)\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=1000
    )
    return text.encode("utf-8")


# --- README ---------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_MD_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=])")


def md(text: str) -> str:
    """``text`` as literal Markdown inline text: markup characters backslash-escaped, ``& < >`` as entities,
    and a leading list or heading marker escaped, so nothing a dataset says becomes a link, image or HTML."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_SPECIAL.sub(r"\\\1", flat)
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group(3)}", flat)


def readme(inv: Investigation, allow_invalid: bool = False) -> bytes:
    """The package's README.md; every value from the dataset is escaped as Markdown text."""
    modal, per_tp, rows = _summary(inv)
    lines = [f"# {md(inv.title or inv.identifier)}", "", md(inv.description), ""]
    if allow_invalid:
        lines += ["> **This package was built from a dataset that did not pass validation** "
                  "(`--allow-invalid`); see `metadata/validation-report.json`.", ""]  # fmt: skip
    doi = dataset_doi(inv)
    lines += [
        f"- Creators: {', '.join(md(p.name) for p in inv.contacts) or '—'}",
        f"- Licence(s): {', '.join(md(x) for x in inv.licences) or '—'}",
        f"- Subjects: {_subjects(inv)}; scans: {len(rows)} ({', '.join(f'{md(m)}: {n}' for m, n in modal)})",
        f"- Profile: {md(inv.profile or '—')}",
        f"- DOI: {md(doi) if doi else 'not yet assigned (placeholder ' + md(DOI_PLACEHOLDER) + ')'}",
        "",
        "## How to cite",
        "",
        md(citation_text(inv)),
        "",
        "## Scans per modality and time point",
        "",
    ]
    if any(t for _, t, _ in per_tp):
        lines += ["| Modality | Time point | Scans |", "|---|---|---|"]
        lines += [f"| {md(m)} | {md(t) or '—'} | {n} |" for m, t, n in per_tp]
    else:
        lines += ["| Modality | Scans |", "|---|---|"] + [f"| {md(m)} | {n} |" for m, n in modal]
    lines += ["", "## Layout", "", "- `data/` — the images and segmentations as deposited, never modified",
              "- `data/index.html` — this dataset's landing page",
              "- `data/metadata/isatab/` — ISA-Tab; `data/ro-crate-metadata.json` — RO-Crate",
              "- `data/metadata/` — ISA-JSON, DataCite, Zenodo and schema.org metadata; `data/datapackage.json`",
              "- `manifest-sha256.txt`, `manifest-sha512.txt` — fixity of every payload file (BagIt)", ""]  # fmt: skip
    return "\n".join(lines).encode("utf-8")


# --- the dataset card -----------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.45;color:#1d1d1f;max-width:72em;
margin:0 auto;padding:1em}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}a{color:#0b57d0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.facts dt{font-weight:600}
dl.facts dd{margin:0}.banner{border:2px solid #b00020;background:#fff0f0;padding:.6em 1em;border-radius:4px}
.placeholder{background:#fff6d6;border:1px dashed #a07800;padding:0 .3em}table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.scroll{overflow-x:auto}pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.tags span{display:inline-block;background:#eef2f8;border-radius:3px;padding:0 .4em;margin:0 .3em .3em 0}
td.num{text-align:right}img.preview{height:auto;max-width:96px}
@media (max-width:40em){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4em}body{padding:.5em}}
@media print{a{color:inherit;text-decoration:none}a[href^="http"]::after{content:" (" attr(href) ")";font-size:.85em}
.scroll{overflow:visible}h2{break-after:avoid}tr,img{break-inside:avoid}.banner{border-width:3px}}
"""


def _json_for_script(doc: object) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes (still the same JSON)."""
    text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _href(path: str) -> str:
    """An ``href`` value: an absolute URL as it is, a package path percent-encoded; escaped for the attribute."""
    return html.escape(path if re.match(r"^https?://", path) else quote(path), quote=True)


def _link(path: str, label: str | None = None) -> str:
    return f'<a href="{_href(path)}">{html.escape(label if label is not None else path)}</a>'


def index_html(
    inv: Investigation,
    preview_names: set[str],
    *,
    profile=None,
    invalid: bool = False,
    files: Iterable[str] | None = None,
    payload: Mapping[str, str | os.PathLike[str]] | None = None,
) -> bytes:
    """A static dataset card (``data/index.html`` of a package); see the module docstring.

    ``preview_names`` are the ``previews/*.png`` the package holds. Optional: ``profile`` (the loaded
    :class:`Profile`, for its title; else ``inv.profile`` is shown), ``invalid`` (built with
    ``--allow-invalid`` from a dataset that failed validation: a banner says so), ``files`` (every path
    of the package's ``data/``, so that exactly the metadata files present are linked; default: those
    :func:`isaprofile.package.deposit.package_dataset` always writes) and ``payload`` (data path →
    source file, for sizes).
    """
    from isaprofile.linked import _common as c
    from isaprofile.linked.datacite import schema_org

    e = html.escape
    present = set(files) if files is not None else set(DEFAULT_METADATA)
    title = inv.title or inv.identifier
    doi = dataset_doi(inv)
    modal, per_tp, _ = _summary(inv)
    pname, pversion = _profile_parts(inv, profile)
    sizes = {rel: os.stat(src).st_size for rel, src in (payload or {}).items() if os.path.isfile(src)}
    lic_by_subject = _subject_licences(inv)

    body = [f"<header><h1>{e(title)}</h1>"]
    if invalid:
        body.append('<p class="banner" role="alert" id="invalid-banner"><b>Built from a dataset that did not pass '
                    "validation</b> (<code>--allow-invalid</code>). Check "
                    f"{_link('metadata/validation-report.json', 'the validation report')} before use.</p>")  # fmt: skip
    if inv.description:
        body.append(f'<p class="description">{e(inv.description)}</p>')
    body.append("</header>")

    facts: list[tuple[str, str]] = []
    if doi:
        facts.append(("DOI", f'<a href="https://doi.org/{_href(doi)}" id="doi">{e(doi)}</a>'))
    else:
        facts.append(("DOI", f'<span class="placeholder" id="doi">{e(DOI_PLACEHOLDER)}</span> '
                             "<i>placeholder: no DOI assigned yet</i>"))  # fmt: skip
    if inv.comments.get("version"):
        facts.append(("Version", e(inv.comments["version"])))
    if inv.public_release_date:
        facts.append(("Released", f"<time>{e(inv.public_release_date)}</time>"))
    if inv.submission_date:
        facts.append(("Submitted", f"<time>{e(inv.submission_date)}</time>"))
    if inv.contacts:
        people = []
        for p in inv.contacts:
            item = e(p.name)
            if p.orcid and c.orcid_ok(p.orcid):
                iri = c.orcid_iri(p.orcid)
                item += f' <a class="orcid" href="{e(iri, quote=True)}" title="ORCID iD">ORCID {e(p.orcid)}</a>'
            if p.affiliation:
                item += f" ({e(p.affiliation)})"
            people.append(item)
        facts.append(("Creators", "; ".join(people)))
    if inv.comments.get("publisher"):
        facts.append(("Publisher", e(inv.comments["publisher"])))
    if inv.licences:
        facts.append(("Licence(s)", ", ".join(_link(c.spdx_iri(c.spdx_id(lic)), lic) for lic in inv.licences)))
    if pname:
        facts.append(("Profile", e(pname) + (f" {e(pversion)}" if pversion else "")))
    if inv.keywords:
        facts.append(("Keywords", '<span class="tags">' + "".join(f"<span>{e(k)}</span>" for k in inv.keywords)
                      + "</span>"))  # fmt: skip
    pubs = []
    for pub in inv.publications:
        label = e(pub.get("title") or pub.get("doi") or "")
        if pub.get("authors"):
            label = f"{e(pub['authors'])}: {label}"
        if pub.get("doi"):
            label += f' <a href="https://doi.org/{_href(pub["doi"])}">doi:{e(pub["doi"])}</a>'
        pubs.append(label)
    if pubs:
        facts.append(("Related publication" + ("s" if len(pubs) > 1 else ""), "<br>".join(pubs)))
    funding = [e(" — ".join(x for x in (f.get("funder", ""), f.get("award", "")) if x)) for f in inv.funding]
    if any(funding):
        facts.append(("Funding", "<br>".join(f for f in funding if f)))
    body.append('<section id="facts"><dl class="facts">'
                + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl></section>")  # fmt: skip

    body.append('<section id="cite"><h2>How to cite</h2>')
    body.append(f'<p id="citation-text">{e(citation_text(inv))}</p>')
    body.append(f'<pre id="bibtex">{e(citation_bibtex(inv))}</pre>')
    if "CITATION.cff" in present:
        body.append(f"<p>Citation File Format: {_link('CITATION.cff')}</p>")
    body.append("</section>")

    n_scans = sum(n for _, n in modal)
    counts = [("Subjects", _subjects(inv)), ("Samples", sum(len(s.samples) for s in inv.studies)), ("Scans", n_scans)]
    if len(inv.studies) > 1:
        counts.insert(0, ("Studies", len(inv.studies)))
    body.append('<section id="contents"><h2>What it holds</h2><table id="counts">'
                + "".join(f'<tr><th>{k}</th><td class="num">{v}</td></tr>' for k, v in counts))  # fmt: skip
    if sizes:
        body.append(f'<tr><th>Data size</th><td class="num">{e(_size(sum(sizes.values())))} in {len(sizes)} '
                    "files</td></tr>")  # fmt: skip
    body.append("</table>")
    with_tp = any(t for _, t, _ in per_tp)
    head = "<tr><th>Modality</th>" + ("<th>Time point</th>" if with_tp else "") + "<th>Scans</th></tr>"
    body.append(f'<table id="per-modality">{head}')
    for m, t, n in per_tp if with_tp else [(m, "", n) for m, n in modal]:
        body.append(f"<tr><td>{e(m)}</td>" + (f"<td>{e(t)}</td>" if with_tp else "") + f'<td class="num">{n}</td></tr>')
    body.append("</table>")
    if lic_by_subject:
        by_lic: dict[str, list[str]] = {}
        for subj, lic in sorted(lic_by_subject.items()):
            by_lic.setdefault(lic, []).append(subj)
        body.append('<h3>Licence per subject</h3><table id="licences"><tr><th>Licence</th><th>Subjects</th>'
                    "<th>Count</th></tr>")  # fmt: skip
        for lic, subjects in sorted(by_lic.items()):
            body.append(f"<tr><td>{_link(c.spdx_iri(c.spdx_id(lic)), lic)}</td><td>{e(', '.join(subjects))}</td>"
                        f'<td class="num">{len(subjects)}</td></tr>')  # fmt: skip
        body.append("</table>")
    body.append("</section>")

    body.append(_scan_table(inv, preview_names, sizes, lic_by_subject))

    meta = [(name, label) for name, label in METADATA_FILES if name in present]
    isatab = sorted(
        f for f in present if f.startswith("metadata/isatab/") and f != "metadata/isatab/i_investigation.txt"
    )
    body.append('<section id="metadata"><h2>Metadata files</h2><ul>'
                + "".join(f"<li>{_link(name)} — {e(label)}</li>" for name, label in meta)
                + "".join(f"<li>{_link(name)} — ISA-Tab table</li>" for name in isatab)
                + "</ul></section>")  # fmt: skip

    jsonld = schema_org(inv, identifier=f"https://doi.org/{doi}" if doi else None)
    if inv.keywords:
        jsonld["keywords"] = list(inv.keywords)
    if inv.comments.get("version"):
        jsonld["version"] = inv.comments["version"]
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n"
            + (f'<meta name="description" content="{e(" ".join(inv.description.split())[:300], quote=True)}">\n'
               if inv.description else "")
            + f"<style>{_CSS}</style>\n"
            f'<script type="application/ld+json">\n{_json_for_script(jsonld)}\n</script>\n'
            "</head><body>\n" + "\n".join(body)
            + "\n<footer><p>Made by isaprofile.</p></footer>\n</body></html>\n")  # fmt: skip
    return page.encode("utf-8")


def _scan_table(inv: Investigation, preview_names: set[str], sizes: dict[str, int], lic: dict[str, str]) -> str:
    """The scans, one row each; a column appears only when some row has a value for it."""
    from isaprofile.linked.files import members

    e = html.escape
    rows = []
    keys = sorted(sizes)  # a series folder's files are one run of the sorted paths
    for study in inv.studies:
        samples = {s.id: s for s in study.samples}
        for scan in study.scans:
            subject = samples[scan.sample].subject if scan.sample in samples else ""
            image = scan.files[0].path if scan.files else ""
            size = sum(sizes[k] for k in members(image, sizes, keys)) if image else 0
            masks = sorted({g.path for g in scan.segmentations if g.path})
            preview = f"previews/{_safe(scan.id)}.png"
            rows.append({
                "Study": e(study.identifier),
                "Subject": e(subject),
                "Scan": e(scan.id),
                "Modality": e(scan.modality),
                "Time point": e(_time_point(scan, samples)),
                "Licence": e(lic.get(subject, "")),
                "Image": _link(image) if image else "",
                "Size": e(_size(size)) if size else "",
                "Segmentations": _segmentations(len(scan.segmentations), masks),
                "Preview": (f'<img class="preview" src="{_href(preview)}" width="96" loading="lazy" '
                            f'alt="middle slice of {e(scan.id, quote=True)}">' if preview in preview_names else ""),
            })  # fmt: skip
    if not rows:
        return '<section id="scans"><h2>Scans</h2><p>No scans.</p></section>'
    columns = [k for k in rows[0] if any(r[k] for r in rows)]
    if len(inv.studies) == 1 and "Study" in columns:
        columns.remove("Study")
    out = ['<section id="scans"><h2>Scans</h2><div class="scroll"><table id="scan-table"><tr>'
           + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"]  # fmt: skip
    out += ["<tr>" + "".join(f"<td>{r[c]}</td>" for c in columns) + "</tr>" for r in rows]
    out.append("</table></div></section>")
    return "\n".join(out)


def _segmentations(count: int, masks: list[str]) -> str:
    """``N segment(s)`` and a link to each mask file (named by its folder and file name)."""
    if not count:
        return ""
    text = f"{count} segment{'s' if count != 1 else ''}"
    if not masks:
        return f"{text} (no mask file)"
    return f"{text}: " + ", ".join(_link(m, "/".join(Path(m).parts[-2:])) for m in masks)
