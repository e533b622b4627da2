"""PHI findings that are right (issue 9 item 6): no finding on the references a de-identified SEG or
Enhanced MR carries, on DICOM words in folder names, or on scanner-written NIfTI text; messages stay
readable after redaction; the allow-list takes a location exactly as a finding prints it; sheet and
ISA-Tab columns that name identifiers are errors; text in UTF-16 / UTF-32 is found."""

from __future__ import annotations

import copy
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from isaprofile.package.phi import (
    AllowEntry,
    PhiPolicy,
    annex_e,
    check_phi,
    column_phi_findings,
    dicom_phi_findings,
    finish_phi,
    has_text,
    nifti_phi_findings,
)

PSEUDONYM = "sub-01"
POLICY = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}))


def deidentify(ds: Dataset) -> Dataset:
    """Basic-Profile-style clean-up of the top level (what a site's de-identifier leaves behind: nested
    references with their UIDs stay, as the profile's U / X/Z/U* actions allow)."""
    for entry in annex_e().values():
        if entry.action in ("U", "X/Z/U*") or "X" in entry.tag:
            continue
        if entry.keyword in ds:
            delattr(ds, entry.keyword)
    ds.remove_private_tags()
    ds.PatientID = ds.PatientName = PSEUDONYM
    ds.PatientIdentityRemoved = "YES"
    return ds


def _ref(uid: str = "1.2.826.0.1.3680043.8.498.1") -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    item.ReferencedSOPInstanceUID = uid
    purpose = Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator, purpose.CodeMeaning = "121322", "DCM", "Source image"
    item.PurposeOfReferenceCodeSequence = Sequence([purpose])
    return item


def enhanced_mr() -> Dataset:
    """An Enhanced MR built from MR_small: Referenced Image Sequence at the top level and in the shared
    functional groups, Source Image Sequence in each frame's Derivation Image Sequence."""
    ds = deidentify(pydicom.dcmread(get_testdata_file("MR_small.dcm")))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.ReferencedImageSequence = Sequence([_ref()])
    ds.SourceImageSequence = Sequence([_ref("1.2.826.0.1.3680043.8.498.2")])
    shared = Dataset()
    shared.ReferencedImageSequence = Sequence([_ref()])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for i in range(2):
        derivation = Dataset()
        derivation.SourceImageSequence = Sequence([_ref(f"1.2.826.0.1.3680043.8.498.{10 + i}")])
        frame = Dataset()
        frame.DerivationImageSequence = Sequence([derivation])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    return ds


def test_a_deidentified_seg_has_no_finding() -> None:
    seg = deidentify(pydicom.dcmread(get_testdata_file("liver_1frame.dcm")))
    assert "SourceImageSequence" in seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
    result = finish_phi({"seg/liver.dcm": dicom_phi_findings(seg, "seg/liver.dcm", POLICY)}, POLICY)
    assert result.report.issues == []


def test_a_deidentified_enhanced_mr_has_no_finding() -> None:
    result = finish_phi({"mr/1.dcm": dicom_phi_findings(enhanced_mr(), "mr/1.dcm", POLICY)}, POLICY)
    assert result.report.issues == []


def test_identifying_values_inside_reference_sequences_are_still_found() -> None:
    ds = enhanced_mr()
    ds.SourceImageSequence[0].ReferencedFrameNumber = 1
    ds.SourceImageSequence[0].InstitutionName = "CANARY-7Q2"
    strict = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow_uids=False)
    result = finish_phi({"mr/1.dcm": dicom_phi_findings(ds, "mr/1.dcm", POLICY)}, POLICY)
    assert result.report.flatten(("code", "path")) == [
        ("phi-attribute", "(0008,2112) SourceImageSequence > (0008,0080) InstitutionName")
    ]
    uids = dicom_phi_findings(ds, "mr/1.dcm", strict).issues
    assert "(0008,1140) ReferencedImageSequence > (0008,1155) ReferencedSOPInstanceUID" in {i.path for i in uids}
    assert "(0008,1140) ReferencedImageSequence" not in {i.path for i in uids}


def test_dicom_words_in_folder_names_are_not_names(tmp_path: Path) -> None:
    ds = enhanced_mr()
    ds.PatientName = "Enhanced^MR"
    ds.PatientID = "Enhanced"
    ds.save_as(tmp_path / "1.dcm")
    allow = (
        AllowEntry("PatientName", "phantom scan, no person"),
        AllowEntry("PatientID", "phantom scan, no person"),
    )
    policy = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow=allow)
    result = check_phi({"mr_enhanced/1.dcm": tmp_path / "1.dcm"}, policy)
    assert result.passed and {i.code for i in result.report.issues} == {"phi-exception-applied"}


def test_messages_stay_readable_after_redaction(tmp_path: Path) -> None:
    ds = enhanced_mr()
    ds.PatientName = "Tagg^Keyson"  # the words could collide with nothing in the attribute's name
    ds.save_as(tmp_path / "1.dcm")
    result = check_phi({"mr/tagg_keyson/1.dcm": tmp_path / "1.dcm"}, POLICY)
    by_code = {i.code: i for i in result.report.issues}
    assert by_code["phi-attribute"].message == (
        "mr/[redacted]_[redacted]/1.dcm: (0010,0010) PatientName holds a value that the DICOM Basic "
        "Confidentiality Profile removes or replaces (action Z)"
    )
    assert by_code["phi-file-name"].path == "mr/[redacted]_[redacted]"
    assert "redacted][redacted" not in " ".join(i.message for i in result.report.issues)


@pytest.mark.parametrize(
    "descrip",
    [b"TE=30;Time=120000.000;phase=1", b"FSL5.0", b"dcm2niix (v1.0.20230411)", b"4D image", b"Created by SPM12"],
)
def test_scanner_written_nifti_text_is_not_phi(tmp_path: Path, descrip: bytes) -> None:
    img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    img.header["descrip"] = descrip
    img.header["intent_name"] = b"T-stat"
    path = tmp_path / "x.nii.gz"
    nibabel.save(img, path)
    assert check_phi({"x.nii.gz": path}, POLICY).report.issues == []


def test_nifti_text_holding_a_patient_name_from_a_header_is_phi(tmp_path: Path) -> None:
    ds = enhanced_mr()
    ds.PatientName = "Tagg^Keyson"
    img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    img.header["descrip"] = b"keyson T1"
    results = {
        "mr/1.dcm": dicom_phi_findings(ds, "mr/1.dcm", POLICY),
        "nii/1.nii": nifti_phi_findings(img.header, None, "nii/1.nii", POLICY),
    }
    found = finish_phi(results, POLICY).report.flatten(("code", "file", "path"))
    assert ("phi-nifti-text", "nii/1.nii", "descrip") in found


def test_allow_list_takes_the_location_as_printed(tmp_path: Path) -> None:
    img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    img.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, b"reviewed free text"))
    path = tmp_path / "e.nii.gz"
    nibabel.save(img, path)
    refused = check_phi({"e.nii.gz": path}, POLICY)
    printed = refused.report.issues[0].path
    assert printed == "extension[0] (code 6)"
    policy = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow=(AllowEntry(printed, "comment reviewed"),))
    allowed = check_phi({"e.nii.gz": path}, policy)
    assert allowed.passed and allowed.report.flatten(("code", "path")) == [("phi-exception-applied", printed)]
    nested = "(0008,1140) ReferencedImageSequence > (0008,1155) ReferencedSOPInstanceUID"
    strict = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow_uids=False, allow=(AllowEntry(nested, "kept"),))
    ds = copy.deepcopy(enhanced_mr())
    paths = {i.path for i in dicom_phi_findings(ds, "mr/1.dcm", strict).issues if i.code == "phi-attribute"}
    assert nested not in paths


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-8"])
def test_text_detection_reads_wide_encodings(codec: str) -> None:
    assert has_text("Jo Doe".encode(codec)) and has_text("李小龍".encode(codec)) == (
        codec not in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    )
    assert not has_text(bytes(16)) and not has_text(b"\x01\x02\x03\x04\x05\x06")


def test_identifying_columns_are_errors() -> None:
    headers = ["Source Name", "Patient Name", "Date of Birth", "DOB", "Comment[Patient Name]",
               "Characteristics[Date of Birth]", "Characteristics[Organism]", "Age", "e-mail",
               "PatientBirthDate"]  # fmt: skip
    found = column_phi_findings(headers, "subjects.xlsx", sheet="Sheet1")
    assert [(i.code, i.column, i.path) for i in found] == [
        ("phi-column", 2, "Sheet1: Patient Name"),
        ("phi-column", 3, "Sheet1: Date of Birth"),
        ("phi-column", 4, "Sheet1: DOB"),
        ("phi-column", 5, "Sheet1: Comment[Patient Name]"),
        ("phi-column", 6, "Sheet1: Characteristics[Date of Birth]"),
        ("phi-column", 9, "Sheet1: e-mail"),
        ("phi-column", 10, "Sheet1: PatientBirthDate"),
    ]
    assert all(i.severity == "error" for i in found)
    allowed = column_phi_findings(
        [("DOB", 4)], "s_study.txt", PhiPolicy(allow=(AllowEntry("DOB", "year only, checked"),))
    )
    assert [i.code for i in allowed] == ["phi-exception-applied"]


@pytest.mark.parametrize(
    ("harvest", "label"),
    [((("dicom", "InstitutionName"),), "Site"), ((("dicom", "StudyDate"),), "Study date"), ((), "Patient Name")],
)
def test_value_conflicts_on_identifying_fields_never_print_the_values(harvest, label) -> None:
    from isaprofile.harvest.crosscheck import conflict
    from isaprofile.model import Provenance, Value
    from isaprofile.profile.model import Field

    field = Field(key="site", label=label, entity="scan", isa="comment", name=label, harvest=harvest)
    sheet = Value("CANARY-7Q2 Hospital", provenance=Provenance("scans.xlsx", 2, 3, "column 'Site'"))
    header = Value("Other Canary Clinic", provenance=Provenance("ct/1.dcm", path="(0008,0080) InstitutionName"))
    found = conflict(field, sheet, header)
    assert found is not None and found.code == "value-conflict"
    assert (found.file, found.line, found.column) == ("scans.xlsx", 2, 3)
    assert "CANARY" not in found.message and "Canary" not in found.message and "one value" in found.message
    plain = Field(key="m", label="Manufacturer", entity="scan", isa="comment", name="Manufacturer")
    shown = conflict(plain, Value("GE"), Value("Siemens"))
    assert shown is not None and "GE" in shown.message and "Siemens" in shown.message


def test_free_text_with_dates_names_or_header_tokens_is_an_error() -> None:
    from isaprofile.package.phi import free_text_phi_findings

    cells = [
        ("born 13.11.1947, smoker", 2, 5, "Comment[Notes]"),
        ("contact CANARY^JANE", 3, 5, "Comment[Notes]"),
        ("liver lesion, segment 4", 4, 5, "Comment[Notes]"),
        ("seen by keyson last week", 5, 5, "Comment[Notes]"),
        ("T1 3 mm, 2.5 T", 6, 5, "Comment[Notes]"),
    ]
    found = free_text_phi_findings(cells, "s_study.txt", tokens=["Keyson"])
    assert [(i.code, i.line, i.column, i.path) for i in found] == [
        ("phi-free-text", 2, 5, "Comment[Notes]"),
        ("phi-free-text", 3, 5, "Comment[Notes]"),
        ("phi-free-text", 5, 5, "Comment[Notes]"),
    ]
    assert not any("1947" in i.message or "CANARY" in i.message or "keyson" in i.message for i in found)
