"""ISA-JSON export: validates against isatools' shipped ISA-JSON schemas (no network); deterministic ids."""

from __future__ import annotations

import json
from pathlib import Path

import linked_example as ex
import pytest

from isaprofile.linked.isajson import build_isa_json, isa_json_bytes


def _validator():  # type: ignore[no-untyped-def]
    isatools = pytest.importorskip("isatools")
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    core = Path(isatools.__file__).parent / "resources/schemas/isa_model_version_1_0_schemas/core"

    def retrieve(uri: str) -> Resource:
        """Every schema comes from the local folder, by file name; nothing is fetched."""
        schema = json.loads((core / uri.rsplit("/", 1)[-1].split("#")[0]).read_text())
        return Resource.from_contents(schema, default_specification=DRAFT4)

    registry = Registry(retrieve=retrieve)
    top = json.loads((core / "investigation_schema.json").read_text())
    return Draft4Validator(top, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def test_isa_json_is_schema_valid() -> None:
    doc = build_isa_json(ex.investigation(), ex.profile())
    errors = [(list(e.absolute_path), e.message) for e in _validator().iter_errors(doc)]
    assert errors == []


def test_schema_check_can_fail() -> None:
    doc = build_isa_json(ex.investigation(), ex.profile())
    doc["studies"][0]["materials"]["sources"][0]["colour"] = "blue"
    errors = [list(e.absolute_path) for e in _validator().iter_errors(doc)]
    assert errors == [["studies", 0, "materials", "sources", 0]]


def test_isa_json_deterministic_and_linked() -> None:
    a = isa_json_bytes(ex.investigation(), ex.profile())
    assert a == isa_json_bytes(ex.investigation(), ex.profile())
    doc = json.loads(a)
    ids = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "@id" in node and len(node) > 1:
                ids.append(node["@id"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    study = doc["studies"][0]
    refs = {p["@id"] for a in study["assays"] for proc in a["processSequence"] for p in proc["inputs"]}
    assert "#sample/M01_w0" in refs and "#sample/M01_w0" in ids
    mri = study["assays"][0]
    assert mri["technologyType"]["termAccession"] == "http://purl.obolibrary.org/obo/OBI_0002985"
    age = study["materials"]["sources"][0]["characteristics"][-1]
    assert age == {"category": {"@id": "#characteristic_category/age"}, "value": 56, "unit": {"@id": "#unit/day"}}
