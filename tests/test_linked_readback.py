"""Read-back: Investigation → RO-Crate JSON-LD → Investigation is lossless for values, units and terms."""

from __future__ import annotations

import linked_example as ex
from linked_example import pv_id

from isaprofile.linked.context import dumps
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.readback import from_jsonld


def test_round_trip_equal(tmp_path) -> None:
    inv = ex.investigation()
    doc, _ = build_ro_crate(inv, ex.profile(), files={})
    path = tmp_path / "ro-crate-metadata.json"
    path.write_bytes(dumps(doc))
    back, report = from_jsonld(path, ex.profile())
    assert report.flatten() == []
    assert back == inv
    subj = back.studies[0].subjects[0]
    assert subj.characteristics["age"].unit == ex.UO["d"]
    assert subj.characteristics["organism"].value.accession == "NCBITaxon:10090"
    ct = next(s for s in back.studies[0].scans if s.modality == "CT")
    assert ct.files[0].path == "images/CT/M01_w8"


def test_round_trip_twice_is_byte_identical() -> None:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    back, _ = from_jsonld(doc, ex.profile())
    again, _ = build_ro_crate(back, ex.profile(), files={})
    assert dumps(again) == dumps(doc)


def test_dangling_reference_is_a_finding() -> None:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    age = pv_id(doc, "#source-M01", "age")
    doc["@graph"] = [e for e in doc["@graph"] if e["@id"] != age]
    i = next(i for i, e in enumerate(doc["@graph"]) if e["@id"] == "#source-M01")
    back, report = from_jsonld(doc, ex.profile())
    assert report.flatten(("code", "path")) == [("jsonld-entity-missing", f"$['@graph'][{i}].additionalProperty")]
    assert back is not None and "age" not in back.studies[0].subjects[0].characteristics


def test_not_json_gives_no_investigation(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe not json")
    back, report = from_jsonld(path, ex.profile())
    assert back is None and report.codes() == ["jsonld-not-json"]
