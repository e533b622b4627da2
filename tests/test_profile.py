"""Profiles as data: built-ins, user profiles that extend them, and what is generated from them."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from isaprofile.docgen import pages
from isaprofile.profile.jsonschema import profile_schema
from isaprofile.profile.model import ProfileError, list_profiles, load_profile
from isaprofile.profile.template import write_template

ROOT = Path(__file__).resolve().parents[1]

TABLE7 = ["creator", "study_id", "animal_id", "animal_strain", "supplier", "image_modality", "device_name", "brand",
          "coil", "source", "data_format", "data_type", "contrast_agent", "longitudinal", "time_point",
          "health_status", "disease_model", "age", "sex"]  # fmt: skip


def test_preclinical_profile_expresses_table_7() -> None:
    p = load_profile("preclinical-imaging")
    assert p.id == "preclinical-imaging@1.0"
    keys = {f.key for f in p.fields}
    assert set(TABLE7) <= keys
    required = {f.key for f in p.fields if f.required and f.key in TABLE7}
    assert required == {"creator", "study_id", "animal_id", "image_modality", "brand", "longitudinal", "health_status"}
    assert [t.label for t in p.field("image_modality").terms] == ["CT", "MRI", "MRI-CT", "US"]
    assert len(p.field("brand").terms) == 11
    assert {"Organ segmentation", "CT imaging parameters", "MRI imaging parameters"} <= set(p.groups)
    assert p.field("sex").find_term("F").accession == "PATO:0000383"
    assert p.field("field_strength").unit.accession == "UO:0000228"
    assert p.field("kvp").harvest == (("dicom", "KVP"),)
    assert p.field("study_week").isa == "factor" and p.field("body_weight").unit.symbol == "g"


def test_user_profile_extends_builtin(tmp_path: Path) -> None:
    f = tmp_path / "lab.yaml"
    f.write_text(
        "name: lab-liver\nversion: '0.1'\nextends: preclinical-imaging@1.0\nremove: [housing]\n"
        "fields:\n"
        "  - {key: animal_strain, level: required}\n"
        "  - {key: cage, label: Cage, entity: subject, isa: comment, name: cage}\n"
    )
    p = load_profile(f)
    assert p.id == "lab-liver@0.1"
    assert p.field("animal_strain").required and p.field("animal_strain").name == "strain"
    assert p.field("cage").header == "Comment[cage]"
    with pytest.raises(KeyError):
        p.field("housing")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("fields: [{key: BadKey, entity: subject, isa: comment}]", "lower_snake_case"),
        ("fields: [{key: w, entity: subject, isa: characteristic, type: number, unit: furlong}]", "unknown unit"),
        ("fields: [{key: w, entity: planet, isa: characteristic}]", "entity must be one of"),
        ("fields: [{key: t, entity: subject, isa: characteristic, type: term, terms: [{label: x, accession: 'ZZ:1'}]}]",
         "not declared"),
        ("remove: [no_such_field]", "cannot remove"),
    ],
)  # fmt: skip
def test_bad_user_profile_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(f"name: bad\nversion: '1'\nextends: preclinical-imaging\n{body}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(f)


def test_unknown_profile_names_the_builtins() -> None:
    with pytest.raises(ProfileError, match="preclinical-imaging"):
        load_profile("no-such-profile")
    with pytest.raises(ProfileError, match="no version '9.9'"):
        load_profile("preclinical-imaging@9.9")


def test_committed_schemas_are_current() -> None:
    from isaprofile.linked.shacl import shapes_turtle

    for name, version in list_profiles():
        profile = load_profile(f"{name}@{version}")
        folder = ROOT / "schemas" / name / version
        assert json.loads((folder / "records.schema.json").read_text()) == profile_schema(profile), folder
        assert (folder / "shapes.ttl").read_text() == shapes_turtle(profile), (
            f"{folder}: run python -m isaprofile.schemas"
        )


def test_committed_docs_are_current() -> None:
    for rel, text in pages().items():
        assert (ROOT / "docs" / rel).read_text() == text, f"docs/{rel} is stale: run python -m isaprofile.docgen docs"


def test_record_schema_accepts_and_refuses() -> None:
    import jsonschema

    schema = profile_schema(load_profile("preclinical-imaging"))
    ok = {"subject": [{"animal_id": "M1", "organism": "Mus musculus", "health_status": "healthy", "age": 42}]}
    jsonschema.validate(ok, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"subject": [{"animal_id": "M1", "organism": "Mus musculus", "health_status": "so-so"}]},
                            schema)  # fmt: skip


def test_template_has_sheets_units_and_dropdowns(tmp_path: Path) -> None:
    path = write_template(load_profile("preclinical-imaging"), tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Studies", "Subjects", "Samples", "Scans", "Segmentations", "Lists", "Fields"]
    headers = [c.value for c in wb["Samples"][1]]
    assert headers[:2] == ["Sample ID", "Animal ID"] and "Body weight [g]" in headers
    assert wb["Lists"].sheet_state == "hidden"
    sex_col = [c.value for c in wb["Subjects"][1]].index("Sex") + 1
    letter = openpyxl.utils.get_column_letter(sex_col)
    formulas = [dv.formula1 for dv in wb["Subjects"].data_validations.dataValidation if f"{letter}2" in str(dv.sqref)]
    assert len(formulas) == 1 and formulas[0].startswith("=Lists!$")
