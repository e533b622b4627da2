"""SHACL shapes from the profile: the committed file is current, the example is valid, each shape kind fires."""

from __future__ import annotations

from pathlib import Path

import linked_example as ex
import pytest
from linked_example import pv_id

from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.shacl import shapes_path, shapes_turtle, validate_crate

REPO = Path(__file__).resolve().parent.parent
FILE = "ro-crate-metadata.json"


def test_committed_shapes_are_current() -> None:
    prof = ex.profile()
    assert (REPO / shapes_path(prof)).read_text(encoding="utf-8") == shapes_turtle(prof)


@pytest.fixture(scope="module")
def crate() -> dict:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    return doc


def test_example_is_valid(crate: dict) -> None:
    assert validate_crate(crate, ex.profile(), FILE).flatten(("code", "path")) == []


def _broken(crate: dict, entity: str | tuple[str, str], key: str, value: object) -> tuple[dict, int]:
    """A copy of ``crate`` whose ``entity`` (an ``@id``, or the (owner, name) of a PropertyValue) has ``key``
    set to ``value`` (removed for None); with the entity's index in the graph."""
    import copy

    if isinstance(entity, tuple):
        entity = pv_id(crate, *entity)
    doc = copy.deepcopy(crate)
    for i, ent in enumerate(doc["@graph"]):
        if ent["@id"] == entity:
            if value is None:
                del ent[key]
            else:
                ent[key] = value
            return doc, i
    raise KeyError(entity)


def _pos(doc: dict, entity: str) -> int:
    return next(i for i, e in enumerate(doc["@graph"]) if e["@id"] == entity)


@pytest.mark.parametrize(
    ("entity", "key", "value", "code", "prop", "severity"),
    [
        (("#source-M01", "age"), "value", "abc", "shacl-datatype", "value", "error"),
        (("#source-M02", "sex"), "value", "unknown", "shacl-in", "value", "error"),
        (("#source-M03", "age"), "value", -1, "shacl-range", "value", "error"),
        (("#source-M04", "age"), "value", [60, 61], "shacl-max-count", "value", "error"),
        (("#process-scan-M01_w0_MRI", "echo time"), "unitCode", "http://purl.obolibrary.org/obo/UO_0000010",
         "shacl-unit", "unitCode", "warning"),
        (("#sample-M01_w0", "body weight"), "value", "heavy", "shacl-datatype", "value", "error"),
        (("#process-scan-M01_w0_MRI", "flip angle"), "value", 400, "shacl-range", "value", "error"),
    ],
)  # fmt: skip
def test_break_one_value(crate: dict, entity: tuple[str, str], key: str, value: object, code: str, prop: str,
                         severity: str) -> None:  # fmt: skip
    doc, i = _broken(crate, entity, key, value)
    found = [(x.code, x.path, x.severity.value) for x in validate_crate(doc, ex.profile(), FILE)]
    expected = [(code, f"$['@graph'][{i}].{prop}", severity)]
    if code == "shacl-datatype":  # text in a number field is also not >= 0
        expected.append(("shacl-range", f"$['@graph'][{i}].value", "error"))
    assert sorted(found) == sorted(expected)


def test_required_value_missing(crate: dict) -> None:
    ent = next(e for e in crate["@graph"] if e["@id"] == "#source-M01")
    kept = [p for p in ent["additionalProperty"] if p["@id"] != pv_id(crate, "#source-M01", "organism")]
    doc, i = _broken(crate, "#source-M01", "additionalProperty", kept)
    found = validate_crate(doc, ex.profile(), FILE).flatten(("code", "path"))
    assert found == [("shacl-min-count", f"$['@graph'][{i}].additionalProperty")]


def test_required_scan_parameter_missing(crate: dict) -> None:
    ent = next(e for e in crate["@graph"] if e["@id"] == "#process-scan-M02_w8_CT")
    kept = [p for p in ent["parameterValue"] if p["@id"] != pv_id(crate, "#process-scan-M02_w8_CT", "manufacturer")]
    doc, i = _broken(crate, "#process-scan-M02_w8_CT", "parameterValue", kept)
    found = validate_crate(doc, ex.profile(), FILE).flatten(("code", "path"))
    assert found == [("shacl-min-count", f"$['@graph'][{i}].parameterValue")]


def test_field_given_twice(crate: dict) -> None:
    ent = next(e for e in crate["@graph"] if e["@id"] == "#source-M02")
    extra = {"@id": "#extra-organism", "@type": "PropertyValue", "name": "organism",
             "propertyID": "urn:isaprofile:preclinical-imaging:1.0:organism", "value": "Mus musculus"}  # fmt: skip
    doc, i = _broken(
        crate, "#source-M02", "additionalProperty", [*ent["additionalProperty"], {"@id": "#extra-organism"}]
    )
    doc["@graph"].append(extra)
    found = validate_crate(doc, ex.profile(), FILE).flatten(("code", "path"))
    assert found == [("shacl-max-count", f"$['@graph'][{i}].additionalProperty")]


def test_remote_context_is_not_fetched(crate: dict) -> None:
    doc = {**crate, "@context": "https://example.org/context.jsonld"}
    assert validate_crate(doc, ex.profile(), FILE).flatten(("code", "path")) == [
        ("jsonld-context-remote", "$['@context']")
    ]
