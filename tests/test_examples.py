"""The CRLM and ENHANCE.PET examples: valid, written as ISA-Tab, and seeded disagreements found exactly."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import openpyxl
import pytest

from isaprofile.cli.main import main
from isaprofile.dataset import load_dataset
from isaprofile.profile.model import load_profile

ROOT = Path(__file__).resolve().parents[1]
CRLM = ROOT / "examples" / "crlm-ct"
ENHANCE = ROOT / "examples" / "enhance-petct"
NBIA = "manifest-1669817128730/Colorectal-Liver-Metastases/metadata.csv"


def _codes(report) -> list[tuple]:
    return [(i.code, i.file, i.line, i.column, i.path) for i in report.sorted().issues]


@pytest.mark.parametrize("example", [CRLM, ENHANCE], ids=["crlm-ct", "enhance-petct"])
def test_example_valid_and_isatab(example: Path, tmp_path: Path) -> None:
    assert main(["validate", str(example)]) == 0
    out = tmp_path / "isa"
    assert main(["isatab", str(example), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir())[-1].startswith("s_")


def test_crlm_assembled() -> None:
    checked = load_dataset(CRLM)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert report.flatten() == []
    study = inv.studies[0]
    assert [s.id for s in study.subjects] == ["CRLM-CT-1001", "CRLM-CT-1002", "CRLM-CT-1003"]
    scan = study.scans[0]
    assert (scan.id, scan.sample, scan.modality) == ("CRLM-CT-1001-preop-CT", "CRLM-CT-1001-preop", "CT")
    st = scan.parameters["slice thickness"]
    assert (st.value, st.unit.label, st.provenance.path) == (2.5, "millimetre", "(0018,0050) SliceThickness")
    assert st.provenance.file.endswith("101.000000-NA-71548/1-001.dcm")
    labels = [g.values["segment label"].value for g in scan.segmentations]
    assert labels == ["Liver", "Liver Remnant", "Hepatic", "Portal", "Tumor_1", "Tumor_2"]
    structures = [g.values["segmented structure"].value.label for g in scan.segmentations]
    assert structures == ["liver", "future liver remnant", "hepatic vein", "portal vein", "tumor mass", "tumor mass"]
    second = study.subjects[1]
    assert second.characteristics["sex"].value.label == "female"
    assert "body mass index" not in second.characteristics  # -999 sentinel
    sex = second.characteristics["sex"].provenance
    assert (sex.file, sex.line, sex.column) == ("Colorectal Liver Metastases Clinical data April 2023.xlsx", 3, 4)


def test_enhance_assembled() -> None:
    checked = load_dataset(ENHANCE)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert report.flatten() == []
    study = inv.studies[0]
    assert [s.id for s in study.subjects] == ["0001", "0002", "0003"]
    licences = {s.id: s.comments["licence"].value for s in study.subjects}
    assert licences == {"0001": "CC-BY-4.0", "0002": "CC-BY-4.0", "0003": "CC-BY-NC-4.0"}
    pet = next(s for s in study.scans if s.id == "0001-PET")
    activity = pet.parameters["injected activity"]
    assert (activity.value, activity.unit.label) == (312.0, "megabecquerel")
    prov = activity.provenance
    assert (prov.file, prov.line, prov.column) == ("PT-details.xlsx", 2, 10)  # no sidecars in the release
    tracer = pet.parameters["radiopharmaceutical"]
    assert (tracer.value.label, tracer.provenance.file) == ("fludeoxyglucose F 18", "PT-details.xlsx")
    sources = {s.id: s.characteristics["data source"].value for s in study.subjects}
    assert sources == {
        "0001": "University Hospital Leipzig (Germany)",
        "0002": "Azienda Ospedaliero Universitaria Careggi (IT)",
        "0003": "AutoPET Challenge",
    }
    ct = next(s for s in study.scans if s.id == "0001-CT")
    assert len(ct.segmentations) == 130
    names = {g.values["segmented structure"].value.label for g in ct.segmentations}
    assert names == {t.label for t in load_profile("pet-ct").field("segmented_structure").terms}


def test_enhance_labels_match_profile() -> None:
    labels = json.loads((ENHANCE / "labels.json").read_text())
    assert {g: len(v) for g, v in labels.items()} == {
        "Cardiac": 13, "Muscles": 10, "Organs": 18, "Peripheral-Bones": 31, "Ribs": 27, "Vertebrae": 28,
        "Body-Composition": 3,
    }  # fmt: skip


def test_enhance_seeded_slice_thickness_conflict(enhance: Path) -> None:
    wb = openpyxl.load_workbook(enhance / "CT-details.xlsx")
    wb.active["H3"] = 2.0  # Slice Thickness [mm] of 0002; the NIfTI header says 5 mm
    wb.save(enhance / "CT-details.xlsx")
    checked = load_dataset(enhance)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert _codes(report) == [
        ("value-conflict", "CT-details.xlsx", 3, 8, "sheet 'Sheet', column 'Slice Thickness [mm]'")
    ]
    [found] = report.issues
    assert found.message == (
        "'Slice thickness': 2 mm in CT-details.xlsx:3:8 (sheet 'Sheet', column 'Slice Thickness [mm]'), "
        "but 5 mm in imaging-data/images/CT_0001-1000/0002.nii.gz (pixdim[3])"
    )
    assert main(["validate", str(enhance)]) == 1


def test_crlm_seeded_manufacturer_conflict(crlm: Path) -> None:
    path = crlm / NBIA
    rows = list(csv.reader(path.open(encoding="utf-8")))
    rows[1][9] = "Philips"  # Manufacturer of CRLM-CT-1001's CT series; the DICOM says SIEMENS
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    checked = load_dataset(crlm)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert _codes(report) == [("value-conflict", NBIA, 2, 10, "column 'Manufacturer'")]
    assert "Philips in " in report.issues[0].message and "but SIEMENS in CRLM-CT-1001/" in report.issues[0].message


def test_crlm_dicom_contradicts_patient_id(crlm: Path) -> None:
    import pydicom

    folder = next((crlm / "CRLM-CT-1002").glob("*/2.000000-*"))
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        ds.PatientID = "CRLM-CT-9999"
        ds.save_as(f)
    checked = load_dataset(crlm)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    first = sorted(folder.iterdir())[0].relative_to(crlm).as_posix()
    assert [(i.code, i.file, i.path) for i in report.sorted().issues] == [("value-conflict", first, "files[0].pattern")]
    assert "9999" not in report.issues[0].message


def test_preclinical_generator_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = ROOT / "examples" / "preclinical-liver"
    copy = shutil.copytree(src, tmp_path / "preclinical-liver")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(copy / "make_example.py")], cwd=copy, env=env, check=True, capture_output=True)
    changed = [p.relative_to(copy).as_posix() for p in sorted(copy.rglob("*")) if p.is_file()
               and p.read_bytes() != (src / p.relative_to(copy)).read_bytes()]  # fmt: skip
    assert changed == []
