"""``isaprofile init``: a proposed config for the examples' folders, refusing to overwrite."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

import isaprofile
from isaprofile.cli.main import main
from isaprofile.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def _copy(name: str, tmp_path: Path) -> Path:
    dest = Path(shutil.copytree(ROOT / "examples" / name, tmp_path / name))
    (dest / "isaprofile.yaml").unlink()
    return dest


def test_init_enhance_proposal(tmp_path: Path) -> None:
    root = _copy("enhance-petct", tmp_path)
    assert main(["init", str(root)]) == 0
    doc = yaml.safe_load((root / "isaprofile.yaml").read_text())
    assert doc["profile"] == "pet-ct@1.0"
    assert [(s["file"], s["entity"], s["link"], s["modality"]) for s in doc["sheets"]] == [
        ("CT-details.xlsx", "scan", {"subject": "Patient"}, "CT"),
        ("PT-details.xlsx", "scan", {"subject": "Patient"}, "PT"),
    ]
    assert [(f["glob"], f.get("role", "image")) for f in doc["files"]] == [
        ("imaging-data/ground-truth/*/*.nii.gz", "segmentation"),
        ("imaging-data/images/*/*.nii.gz", "image"),
    ]
    assert doc["files"][0]["labels"] == "labels.json"
    checked = load_dataset(root)
    inv, _prof, _report = checked.investigation, checked.profile, checked.report
    assert len(inv.studies[0].scans) == 6  # the proposal assembles every CT and PET volume
    assert main(["init", str(root)]) == 2  # no overwrite without --force
    assert main(["init", "--force", str(root)]) == 0


def test_init_crlm_proposal(tmp_path: Path) -> None:
    root = _copy("crlm-ct", tmp_path)
    assert main(["init", str(root)]) == 0
    doc = yaml.safe_load((root / "isaprofile.yaml").read_text())
    assert doc["profile"] == "clinical-ct@1.0"
    assert doc["sheets"][0] == {
        "file": "Colorectal Liver Metastases Clinical data April 2023.xlsx",
        "sheet": "TCIA_n=197",
        "entity": "subject",
        "link": {"subject": "Patient-ID"},
        "missing": [-999],  # the sentinel the sheet uses
        "values": {"sex": {1: "male", 2: "female"}},  # ISO/IEC 5218 codes
    }
    assert doc["files"] == [
        {"glob": "CRLM-CT-*/*/*/*.dcm", "segments": "CT", "pattern": r"(?P<subject>CRLM\-CT\-[^/]*)/.*"}
    ]


def test_relative_profile_path_resolves_against_the_dataset(crlm: Path, tmp_path: Path, monkeypatch) -> None:
    (crlm / "profiles").mkdir()
    (crlm / "profiles" / "crlm.yaml").write_text(
        "name: crlm-custom\nversion: '1.0'\nextends: clinical-ct@1.0\ntitle: CRLM (custom)\n", encoding="utf-8"
    )
    config = crlm / "isaprofile.yaml"
    config.write_text(config.read_text().replace("profile: clinical-ct@1.0", "profile: profiles/crlm.yaml"))
    monkeypatch.chdir(tmp_path)  # a current directory without profiles/crlm.yaml
    checked = load_dataset(crlm)
    _inv, prof, report = checked.investigation, checked.profile, checked.report
    assert prof is not None and prof.id == "crlm-custom@1.0"
    assert report.flatten() == []
    assert main(["validate", str(crlm)]) == 0


# the CT series and instances pydicom's liver_1frame.dcm references (ReferencedSeriesSequence[0])
SOURCE_UID = "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"
SOURCE_SOPS = [f"1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.{n}.1" for n in (23433, 23432, 23431)]


def _pet(path: Path) -> None:
    """A small PET image with the radiopharmaceutical module (pydicom ships no PET file)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["pet"])
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(entropy_srcs=["pet series"]), generate_uid()
    ds.Modality, ds.PatientID, ds.Manufacturer = "PT", "PET-0001", "SIEMENS"
    ds.PatientIdentityRemoved = "YES"
    ds.Units, ds.DecayCorrection, ds.ReconstructionMethod = "BQML", "START", "OSEM3D 4i21s"
    ds.SliceThickness, ds.PixelSpacing = 3.0, [4.0, 4.0]
    nuclide = Dataset()
    nuclide.CodeValue, nuclide.CodingSchemeDesignator, nuclide.CodeMeaning = "C-111A1", "SRT", "^18^Fluorine"
    info = Dataset()
    info.Radiopharmaceutical, info.RadionuclideTotalDose = "Fluorodeoxyglucose", "314000000"
    info.RadionuclideCodeSequence = Sequence([nuclide])
    ds.RadiopharmaceuticalInformationSequence = Sequence([info])
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
    ds.PixelRepresentation, ds.PhotometricInterpretation = 0, "MONOCHROME2"
    ds.PixelData = bytes(32)
    ds.save_as(path, enforce_file_format=True)


def _mixed(root: Path) -> Path:
    """pydicom's CT (as the source of its SEG), MR, Enhanced MR (nibabel's Philips MPRAGE) and SEG files,
    nibabel's NIfTI files and a synthetic PET file, in folders named as people name them."""
    import gzip

    import nibabel
    import pydicom
    from pydicom.data import get_testdata_file

    seg = pydicom.dcmread(get_testdata_file("liver_1frame.dcm"))
    (root / "seg").mkdir(parents=True)
    (root / "ct").mkdir()
    for n, sop in enumerate(SOURCE_SOPS, 1):  # the three CT slices the SEG was made from
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = SOURCE_UID, sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.ImagePositionPatient = [-158.1, -179.0, -75.7 - 5 * n]
        ds.save_as(root / "ct" / f"CT_small_{n}.dcm")
    seg.PatientID = ds.PatientID  # a SEG carries the patient of its source images
    seg.save_as(root / "seg" / "liver_1frame.dcm")
    (root / "mr").mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), root / "mr" / "MR_small.dcm")
    (root / "mr_enhanced").mkdir()
    nicom = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
    with gzip.open(nicom / "philips_mprage.dcm.gz") as src, (root / "mr_enhanced" / "mprage.dcm").open("wb") as dst:
        shutil.copyfileobj(src, dst)
    (root / "pet").mkdir()
    _pet(root / "pet" / "pet.dcm")
    (root / "nifti").mkdir()
    for name in ("anatomical.nii", "example4d.nii.gz"):
        shutil.copy(Path(nibabel.__file__).parent / "tests" / "data" / name, root / "nifti" / name)
    return root


def test_init_mixed_folder_validates_without_edits(tmp_path: Path) -> None:
    root = _mixed(tmp_path / "mixed")
    # who made a dataset is the one thing no file says: init takes it on the command line
    assert main(["init", "--creator", "Example, Ada", "--licence", "CC-BY-4.0", str(root)]) == 0
    doc = yaml.safe_load((root / "isaprofile.yaml").read_text())
    assert doc["profile"] == "isaprofile-profile.yaml"  # no built-in profile covers CT, MRI and PET
    composed = yaml.safe_load((root / "isaprofile-profile.yaml").read_text())
    assert set(composed["assays"]) >= {"CT", "MRI", "PET"}
    globs = {f["glob"]: f for f in doc["files"]}
    assert "modality" not in globs["nifti/*.nii"].get("pattern", "")  # the folder "nifti" is not a modality
    checked = load_dataset(root)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert [(i.code, i.file, i.path) for i in report if i.severity == "error"] == []
    scans = inv.studies[0].scans
    assert {s.modality for s in scans} == {"CT", "MRI", "PET"}
    [ct] = [s for s in scans if s.modality == "CT"]
    assert [g.values["segment label"].value for g in ct.segmentations] == ["Liver"]  # the SEG found its CT
    # pydicom's and nibabel's test files are not de-identified: the PHI gate refuses them, nothing else does
    assert main(["validate", "--no-phi", str(root)]) == 0
    errors = {i.code for i in isaprofile.validate(root) if i.severity.value == "error"}
    assert errors and all(code.startswith("phi-") for code in errors)
