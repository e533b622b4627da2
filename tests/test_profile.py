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


# Terms of the built-in profiles that carry no accession, each with the reason. Everything else must have one.
_NO_ACCESSION: dict[tuple[str, str], set[str]] = {
    # DICOM defined terms (SegmentAlgorithmType, ScanningSequence, MRAcquisitionType, Units), not coded concepts
    ("clinical-ct", "segmentation_method"): {"manual", "semi-automatic", "automatic"},
    ("pet-ct", "segmentation_method"): {"manual", "semi-automatic", "automatic"},
    ("preclinical-imaging", "segmentation_method"): {"manual", "semi-automatic", "automatic"},
    ("pet-ct", "image_units"): {"BQML", "CNTS", "GML"},
    ("preclinical-imaging", "scanning_sequence"): {"spin echo", "gradient recalled", "inversion recovery",
                                                   "echo planar", "research mode"},
    ("preclinical-imaging", "mr_acquisition_type"): {"2D", "3D"},
    # names of this dataset's own things: the release's segmentation folders, scanner makers (Table 7)
    ("pet-ct", "segmentation_group"): {"Body-Composition", "Cardiac", "Muscles", "Organs", "Peripheral-Bones",
                                       "Ribs", "Vertebrae"},
    ("preclinical-imaging", "brand"): {"Bioemtech", "Bruker", "Fuji Film Visualsonics", "Mediso", "MILabs",
                                       "Molecubes", "MR Solutions", "PerkinElmer", "Spectral Instruments Imaging",
                                       "TriFoil Imaging", "other"},
    # "none" / "other" / "diet" are not ontology classes
    ("preclinical-imaging", "contrast_agent"): {"none", "gadoxetic acid", "ferucarbotran"},  # ChEBI ids unconfirmed
    ("preclinical-imaging", "disease_induction"): {"diet", "none"},
    ("preclinical-imaging", "disease_model"): {"none", "liver fibrosis"},  # MONDO id unconfirmed
    # not confirmed in an ontology we could check: left empty rather than guessed
    ("clinical-ct", "contrast_phase"): {"portal venous", "arterial", "native"},
    ("clinical-ct", "segmented_structure"): {"future liver remnant"},
    ("preclinical-imaging", "health_status"): {"healthy", "not healthy"},
    ("preclinical-imaging", "diseased_status"): {"healthy", "diseased"},
    ("preclinical-imaging", "source"): {"contrast-enhanced", "native"},
    ("preclinical-imaging", "data_type"): {"raw", "reconstructed"},
    ("preclinical-imaging", "image_modality"): {"MRI-CT"},
    ("clinical-ct", "protocol image segmentation"): {"image segmentation"},
    ("pet-ct", "protocol image segmentation"): {"image segmentation"},
    ("preclinical-imaging", "protocol image segmentation"): {"image segmentation"},
    ("preclinical-imaging", "assay MRI-CT"): {"multimodal imaging", "hybrid MRI-CT imaging"},
    ("preclinical-imaging", "assay US"): {"ultrasound imaging"},  # technology type (the measurement has NCIT)
    # units UO has no term for, or whose UO id is unconfirmed
    ("clinical-ct", "body_mass_index unit"): {"kilogram per square metre"},
    ("clinical-ct", "carcinoembryonic_antigen unit"): {"nanogram per millilitre"},
    ("clinical-ct", "exposure unit"): {"milliampere second"},
    ("preclinical-imaging", "exposure unit"): {"milliampere second"},
    ("preclinical-imaging", "contrast_dose unit"): {"millimole per kilogram"},
    ("pet-ct", "injected_activity unit"): {"megabecquerel"},
}  # fmt: skip


def _terms_without_accession(name: str, version: str) -> dict[tuple[str, str], set[str]]:
    p = load_profile(f"{name}@{version}")
    out: dict[tuple[str, str], set[str]] = {}

    def miss(where: str, term) -> None:
        if term is not None and not term.accession:
            out.setdefault((name, where), set()).add(term.label)

    for key, assay in p.assays.items():
        for term in (assay.measurement, assay.technology, assay.protocol_type):
            miss(f"assay {key}", term)
    for pname, term in p.protocols.items():
        miss(f"protocol {pname}", term)
    for f in p.fields:
        for term in f.terms:
            miss(f.key, term)
        miss(f.key, f.term)
        miss(f"{f.key} unit", f.unit)
    return out


def test_every_builtin_term_has_an_accession_unless_listed() -> None:
    found: dict[tuple[str, str], set[str]] = {}
    for name, version in list_profiles():
        found.update(_terms_without_accession(name, version))
    assert found == _NO_ACCESSION


def test_accessions_named_in_the_issue() -> None:
    pre = load_profile("preclinical-imaging")
    assert pre.field("kvp").unit.accession == "UO:0000248"
    assert pre.field("tube_current").unit.accession == "UO:0000037"
    induction = {t.label: t.accession for t in pre.field("disease_induction").terms}
    assert (induction["diethylnitrosamine"], induction["carbon tetrachloride"]) == ("CHEBI:34873", "CHEBI:27385")
    assert {t.label: t.accession for t in pre.field("image_modality").terms}["MRI"] == "NCIT:C16809"
    assert pre.assays["MRI"].protocol_type.accession == "OBI:0600013"
    assert pre.protocols["animal at time point"].accession == "OBI:0000659"


def test_no_profile_default_stamps_a_scan_value() -> None:
    """A default is a declaration about every holder: only subject-level organism defaults are allowed."""
    defaults = {(n, f.key) for n, v in list_profiles() for f in load_profile(f"{n}@{v}").fields
                if f.default is not None}  # fmt: skip
    assert defaults == {("clinical-ct", "organism"), ("pet-ct", "organism"), ("preclinical-imaging", "organism")}


def test_contrast_phase_only_where_declared(tmp_path: Path) -> None:
    """CRLM declares portal venous in its config; a profile that extends clinical-ct with MRI stamps nothing."""
    from isaprofile.dataset import load_dataset

    checked = load_dataset(ROOT / "examples" / "crlm-ct")
    inv, _p, _r = checked.investigation, checked.profile, checked.report
    phases = {s.parameters["contrast phase"].provenance.file for s in inv.studies[0].scans}
    assert phases == {"isaprofile.yaml"}
    ext = tmp_path / "ct-mr.yaml"
    ext.write_text(
        "name: ct-mr\nversion: '0.1'\nextends: clinical-ct@1.0\nassays:\n  MRI:\n"
        "    measurement: {label: magnetic resonance imaging, accession: 'NCIT:C16809'}\n"
        "    technology: {label: magnetic resonance imaging assay, accession: 'OBI:0002985'}\n"
        "    protocol: magnetic resonance imaging\n",
        encoding="utf-8",
    )
    prof = load_profile(ext)
    assert [f.key for f in prof.fields_for("scan", "MRI") if f.default is not None] == []
    assert not prof.field("contrast_phase").applies_to("MRI")
