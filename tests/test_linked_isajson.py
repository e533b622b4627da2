"""ISA-JSON export: validates against isatools' shipped ISA-JSON schemas (no network); deterministic ids."""

from __future__ import annotations

import json
from pathlib import Path

import linked_example as ex
import pytest

from isaprofile.linked.isajson import build_isa_json, isa_json_bytes, isa_json_chunks


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


# ---------------------------------------------------------------- isatools' own ISA-JSON validator

ROOT = Path(__file__).resolve().parents[1]


def _isatools_json_report(name: str, tmp_path: Path, config_dir: Path | None) -> dict:
    """isatools.isajson.validate on the ISA-JSON of examples/<name> (a real file: the validator reads fp.name)."""
    import logging

    isajson = pytest.importorskip("isatools.isajson")
    from isaprofile.dataset import load_dataset

    checked = load_dataset(ROOT / "examples" / name)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid
    path = tmp_path / f"{name}.json"
    path.write_bytes(isa_json_bytes(inv, prof))
    # isatools.isatab.validate(log_level=None) disables the shared "isatools" logger for good; the ISA-JSON
    # validator then misses its own "(E)" lines, runs on past a 4002 and adds a code-2 KeyError. Re-enable it.
    logger = logging.getLogger("isatools")
    was = logger.disabled
    logger.disabled = False
    try:
        with path.open(encoding="utf-8") as fh:
            kwargs = {"config_dir": str(config_dir)} if config_dir else {}
            return isajson.validate(fh, log_level=logging.WARNING, **kwargs)
    finally:
        logger.disabled = was


@pytest.mark.parametrize("name", ["preclinical-liver", "crlm-ct", "enhance-petct"])
def test_isatools_isajson_validator_passes_with_the_shipped_configs(name: str, tmp_path: Path) -> None:
    from isaprofile.isatab.isaconfig import packaged_config_dir
    from isaprofile.profile.model import load_profile

    profile = {"preclinical-liver": "preclinical-imaging", "crlm-ct": "clinical-ct", "enhance-petct": "pet-ct"}[name]
    result = _isatools_json_report(name, tmp_path, packaged_config_dir(load_profile(profile)))
    assert result["errors"] == []
    assert {w["code"] for w in result["warnings"]} <= {1020}  # isatools' own Array Design REF parameter


def test_isatools_isajson_validator_without_our_configs_stops_on_the_assay_types(tmp_path: Path) -> None:
    """The check bites: with isatools' default configurations every imaging assay is 4002; no 3009 either way."""
    result = _isatools_json_report("enhance-petct", tmp_path, None)
    codes = sorted(e["code"] for e in result["errors"])
    assert codes == [4002, 4002]
    assert all("Ontology sources missing" not in e.get("supplemental", "") for e in result["errors"])


def test_isa_json_declares_every_term_source_it_uses() -> None:
    from isaprofile.dataset import load_dataset

    def used(node: object) -> set[str]:
        if isinstance(node, dict):
            src = node.get("termSource")
            own = {src} if isinstance(src, str) and src else set()
            return own.union(*map(used, node.values()))
        if isinstance(node, list):
            return set().union(*map(used, node))
        return set()

    for name in ("preclinical-liver", "crlm-ct", "enhance-petct"):
        checked = load_dataset(ROOT / "examples" / name)
        inv, prof, _r = checked.investigation, checked.profile, checked.report
        doc = build_isa_json(inv, prof)
        declared = {o["name"] for o in doc["ontologySourceReferences"]}
        assert used(doc) == declared, name
        assert {"NCIT", "OBI"} <= declared, name  # measurement and technology types of the assays
        assert all(o["file"] for o in doc["ontologySourceReferences"]), name


def test_isajson_configs_are_generated_from_the_profile() -> None:
    from isaprofile.isatab.isaconfig import isajson_config_documents, packaged_config_dir
    from isaprofile.profile.model import list_profiles, load_profile

    for name, version in list_profiles():
        prof = load_profile(f"{name}@{version}")
        docs = isajson_config_documents(prof)
        for folder in (packaged_config_dir(prof), ROOT / "schemas" / name / version / "isaconfig"):
            assert {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.json")} == docs, folder
    pet = json.loads(isajson_config_documents(load_profile("pet-ct"))["imaging_pet.json"])
    assert (pet["measurementType"], pet["technologyType"]) == (
        "positron emission tomography", "positron emission tomography imaging assay",
    )  # fmt: skip
    assert [p["protocol"] for p in pet["protocols"]] == ["data acquisition", "image segmentation"]


@pytest.mark.parametrize("name", ["preclinical-liver", "crlm-ct", "enhance-petct"])
def test_streamed_isa_json_is_the_same_bytes(name: str) -> None:
    """The package writes ISA-JSON with each assay's processes made as they are written: the same bytes."""
    from isaprofile.pipeline import check

    checked = check(Path(__file__).resolve().parent.parent / "examples" / name, skip=("linked", "phi"))
    assert checked.profile is not None
    whole = isa_json_bytes(checked.investigation, checked.profile)
    assert b"".join(isa_json_chunks(checked.investigation, checked.profile)) == whole


def test_an_assays_data_files_are_each_listed_once_in_the_order_first_named() -> None:
    """A label map is the mask of each of its labels' segmentations: one data file, after its scan's images."""
    from isaprofile.pipeline import check

    checked = check(Path(__file__).resolve().parent.parent / "examples" / "enhance-petct", skip=("linked", "phi"))
    assert checked.profile is not None
    study = checked.investigation.studies[0]
    doc = build_isa_json(checked.investigation, checked.profile)
    repeated = 0
    for assay in doc["studies"][0]["assays"]:
        modality = assay["filename"].rsplit("_", 1)[1].removesuffix(".txt")
        scans = [sc for sc in study.scans if sc.modality == modality]
        named = [(p, kind) for sc in scans for p, kind in [*((f.path, "Raw Data File") for f in sc.files),
                 *((g.path, "Derived Data File") for g in sc.segmentations if g.path)]]  # fmt: skip
        repeated += len(named) - len(set(named))
        assert [(d["name"], d["type"]) for d in assay["dataFiles"]] == list(dict.fromkeys(named))
    assert repeated  # (the CT assay's label maps)
