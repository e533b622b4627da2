"""Deposit metadata: bad input findings (model and crate), DataCite / schema.org / Zenodo documents."""

from __future__ import annotations

import json

import linked_example as ex
import pytest

from isaprofile.linked.context import MAX_DEPTH, read_document, to_graph
from isaprofile.linked.datacite import datacite, schema_org, zenodo
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.metadata import check_crate, check_metadata
from isaprofile.model import Person, Term, Value


def test_example_metadata_exact() -> None:
    assert check_metadata(ex.investigation(), ex.profile()).flatten(("code", "path")) == []


def test_bad_model_metadata() -> None:
    inv = ex.investigation()
    inv.licences = ["CC-BY-4.0", "CC-BY-FOO"]
    inv.contacts.append(Person(last_name="Doe", first_name="", orcid="0000-0002-1825-0098"))
    inv.public_release_date = "15/01/2026"
    scan = inv.studies[0].scans[0]
    scan.parameters["anaesthesia"] = Value(Term("sevoflurane", "DRON", "DRON:00018679"))
    found = check_metadata(inv, ex.profile()).flatten(("code", "path"))
    assert found == [
        ("licence-unknown", "licences[1]"),
        ("creator-given-name-missing", "contacts[2].first_name"),
        ("orcid-invalid", "contacts[2].orcid"),
        ("date-invalid", "public_release_date"),
        ("term-ontology-undeclared", "studies[LIVER-HCC].scans[M01_w0_MRI].anaesthesia"),
    ]


def test_missing_licence_and_creator() -> None:
    inv = ex.investigation()
    inv.licences, inv.contacts = [], []
    found = check_metadata(inv).flatten(("code", "path"))
    assert found == [("licence-missing", "licences"), ("creator-missing", "contacts")]


@pytest.fixture()
def crate() -> dict:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    return doc


def _at(doc: dict, ident: str) -> int:
    return next(i for i, e in enumerate(doc["@graph"]) if e["@id"] == ident)


def test_crate_findings_have_json_paths(crate: dict) -> None:
    r = _at(crate, "./")
    root = crate["@graph"][r]
    root["license"] = [root["license"][0], {"@id": "https://spdx.org/licenses/NOT-A-LICENCE"}]
    root["datePublished"] = "January 2026"
    p = _at(crate, "https://orcid.org/0000-0002-1825-0097")
    crate["@graph"][p]["@id"] = "https://orcid.org/0000-0002-1825-0098"
    root["creator"][0] = {"@id": "https://orcid.org/0000-0002-1825-0098"}
    k = _at(crate, "#person-Fabian%20Kiessling")
    del crate["@graph"][k]["name"], crate["@graph"][k]["familyName"]
    found = check_crate(crate, "ro-crate-metadata.json").flatten(("code", "path"))
    assert found == [
        ("licence-unknown", f"$['@graph'][{r}].license[1]"),
        ("orcid-invalid", f"$['@graph'][{p}]['@id']"),
        ("creator-name-missing", f"$['@graph'][{k}].name"),
        ("date-invalid", f"$['@graph'][{r}].datePublished"),
    ]


def test_crate_without_licence(crate: dict) -> None:
    r = _at(crate, "./")
    del crate["@graph"][r]["license"]
    assert check_crate(crate).flatten(("code", "path")) == [("licence-missing", f"$['@graph'][{r}].license")]


def test_not_json(tmp_path) -> None:
    path = tmp_path / "ro-crate-metadata.json"
    path.write_text('{"@context": "x",\n  "@graph": [}\n')
    doc, report = read_document(path)
    assert doc is None
    assert report.flatten(("code", "line", "column", "path")) == [("jsonld-not-json", 2, 14, "$")]


def test_too_deep() -> None:
    nested: dict = {"@graph": []}
    node = nested["@graph"]
    for _ in range(MAX_DEPTH + 5):
        child: list = []
        node.append(child)
        node = child
    doc, report = read_document(json.dumps(nested).encode())
    assert doc is None
    assert [i.code for i in report] == ["jsonld-too-deep"]
    assert report.issues[0].path.startswith("$['@graph'][0][0]")


def test_very_deep_text_is_a_finding_not_a_crash() -> None:
    doc, report = read_document(b"[" * 200_000 + b"]" * 200_000)
    assert doc is None and [i.code for i in report] == ["jsonld-too-deep"]


def test_unshipped_remote_context(crate: dict) -> None:
    crate["@context"] = ["https://w3id.org/ro/crate/1.2/context", "https://example.org/ctx.jsonld"]
    graph, report = to_graph(crate)
    assert graph is None
    assert report.flatten(("code", "path")) == [("jsonld-context-remote", "$['@context'][1]")]


def test_datacite_mandatory_properties() -> None:
    d = datacite(ex.investigation(), doi="10.5281/zenodo.123")
    assert d["identifiers"] == [{"identifier": "10.5281/zenodo.123", "identifierType": "DOI"}]
    assert d["creators"][0]["nameIdentifiers"][0]["nameIdentifier"] == "https://orcid.org/0000-0002-1825-0097"
    assert d["titles"] == [{"title": "Preclinical liver CT and MRI"}]
    assert d["publisher"] == {"name": "RWTH Aachen University"}
    assert d["publicationYear"] == "2026"
    assert d["types"]["resourceTypeGeneral"] == "Dataset"
    assert [r["rightsIdentifier"] for r in d["rightsList"]] == ["cc-by-4.0", "cc-by-nc-4.0"]


def test_zenodo_and_schema_org() -> None:
    z = zenodo(ex.investigation())["metadata"]
    assert {k: z[k] for k in ("upload_type", "publication_date", "access_right", "license")} == {
        "upload_type": "dataset",
        "publication_date": "2026-01-15",
        "access_right": "open",
        "license": "cc-by-4.0",
    }
    assert z["creators"][0] == {"name": "Schraven, Sophie", "affiliation": "RWTH Aachen University",
                                "orcid": "0000-0002-1825-0097"}  # fmt: skip
    s = schema_org(ex.investigation())
    graph, report = to_graph(s)
    assert report.issues == [] and len(graph) > 10
    assert s["license"] == ["https://spdx.org/licenses/CC-BY-4.0", "https://spdx.org/licenses/CC-BY-NC-4.0"]
