"""The PHI gate: a canary in every Annex E attribute, private tags, NIfTI, sidecars and names is
refused with the right code, and the canary appears in no output, message or log."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from isaprofile.findings.issues import Report
from isaprofile.findings.render import FORMATS, render
from isaprofile.package.phi import (
    AllowEntry,
    AnnexEntry,
    AppliedExceptions,
    PhiException,
    PhiPolicy,
    PhiResult,
    annex_e,
    annex_edition,
    check_phi,
    dicom_phi_findings,
    exceptions_chunks,
    exceptions_json,
    finish_phi,
)

CANARY = "CANARY-7Q2"
DATE_CANARY = "19471113"
PSEUDONYM = "sub-01"
POLICY = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}))
TEXT_VRS = {"PN", "LO", "SH", "ST", "LT", "UT", "UC", "AE"}
# a value of the attribute's VR carrying a recognisable canary
CANARY_FOR = {
    **{vr: CANARY for vr in TEXT_VRS},
    "CS": "CANARY_7Q2",
    "DA": DATE_CANARY,
    "DT": DATE_CANARY + "101010",
    "TM": "101011.7",
    "AS": "047Y",
    "DS": "1.7717",
    "UI": "1.2.826.0.1.7717",
}
CANARIES = (CANARY, "CANARY_7Q2", DATE_CANARY, "101011.7", "1.7717", "1.2.826.0.1.7717", "047Y")


def _clean(ds: Dataset) -> Dataset:
    for entry in annex_e().values():
        if entry.action == "U" or "X" in entry.tag:
            continue
        if entry.keyword in ds:
            delattr(ds, entry.keyword)
    ds.remove_private_tags()
    ds.PatientID = PSEUDONYM
    ds.PatientName = PSEUDONYM
    ds.PatientIdentityRemoved = "YES"
    return ds


@pytest.fixture(scope="module")
def clean_ds() -> Dataset:
    """CT_small.dcm with every Table E.1-1 attribute (UIDs aside) and private tag removed, pseudonymised."""
    return _clean(pydicom.dcmread(get_testdata_file("CT_small.dcm")))


@pytest.fixture(scope="module")
def clean_dicom(tmp_path_factory, clean_ds) -> Path:
    path = tmp_path_factory.mktemp("clean") / "clean.dcm"
    clean_ds.save_as(path)
    return path


def assert_no_canary(report: Report, capsys, caplog, extra: str = "") -> None:
    outputs = [render(report, fmt) for fmt in FORMATS]
    outputs += [json.dumps(report.to_dict()), repr(report), extra]
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    for text in outputs:
        for canary in CANARIES:
            assert canary not in text


def test_clean_dicom_passes(clean_dicom: Path) -> None:
    result = check_phi({"ct/sub-01/1.dcm": clean_dicom}, POLICY)
    assert result.report.issues == [] and result.passed


def _tag_of(entry: AnnexEntry) -> int:
    if entry.tag == "(50XX,XXXX)":
        return 0x50003000  # Curve Data: any element of a (50xx) group
    return int(entry.tag[1:5].replace("XX", "00") + entry.tag[6:10], 16)


def _canary_element(entry: AnnexEntry):
    vr = entry.vr.split(" or ")[0]
    if vr == "SQ":
        item = Dataset()
        if entry.action.endswith("U*"):  # X/Z/U*: the UIDs inside are what identifies
            item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            item.ReferencedSOPInstanceUID = CANARY_FOR["UI"]
        else:
            item.CodeValue = CANARY
        return vr, Sequence([item])
    if vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
        return vr, CANARY.encode()
    if vr in ("US", "UL", "SS", "SL"):
        return vr, 7717
    if vr == "IS":
        return vr, "7717"
    if vr == "UR":
        return vr, f"https://example.org/{CANARY}"
    if vr == "AE":
        return vr, "CANARY7Q2"
    return vr, CANARY_FOR[vr]


ALL_ROWS = sorted(annex_e())


def test_the_table_is_the_2024b_edition_with_every_row() -> None:
    assert annex_edition() == "2024b"
    assert len(ALL_ROWS) == 620  # Table E.1-1 of PS3.15 2024b; the private-attributes row is handled by parity
    for keyword in (
        "ConsultingPhysicianName",
        "ClinicalTrialSubjectID",
        "ClinicalTrialSiteName",
        "PatientTelecomInformation",
        "ReasonForVisit",
        "LabelText",
        "BarcodeValue",
        "UniqueDeviceIdentifier",
        "UDISequence",
        "SpecimenIdentifier",
        "ReferencedPatientPhotoSequence",
    ):
        assert keyword in annex_e(), keyword  # fmt: skip


@pytest.mark.parametrize("keyword", ALL_ROWS)
def test_each_table_row_planted_alone_is_refused(keyword, clean_ds, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    entry = annex_e()[keyword]
    ds = copy.deepcopy(clean_ds)
    tag = _tag_of(entry)
    vr, value = _canary_element(entry)
    (ds.file_meta if tag >> 16 == 0x0002 else ds).add_new(tag, vr, value)
    uid = entry.action == "U" or entry.action.endswith("U*")
    policy = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow_uids=not uid)
    result = finish_phi({"ct/x.dcm": dicom_phi_findings(ds, "ct/x.dcm", policy)}, policy)
    shown = pydicom.datadict.keyword_for_tag(tag) or entry.keyword
    where = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {shown}"
    if entry.action.endswith("U*"):
        where += " > (0008,1155) ReferencedSOPInstanceUID"
    found = result.report.flatten(("code", "file", "path"))
    assert not result.passed
    if uid:  # the file's own UIDs are refused too when UIDs are not allowed
        assert ("phi-attribute", "ct/x.dcm", where) in found
        assert {code for code, _, _ in found} == {"phi-attribute"}
    else:
        assert found == [("phi-attribute", "ct/x.dcm", where)]
    assert_no_canary(result.report, capsys, caplog, repr(result) + json.dumps(list(result.exceptions)))


def test_uids_are_allowed_by_default_and_refused_on_request(clean_dicom) -> None:
    assert check_phi({"a.dcm": clean_dicom}, POLICY).report.issues == []
    strict = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow_uids=False)
    paths = {i.path for i in check_phi({"a.dcm": clean_dicom}, strict).report.issues}
    assert {"(0008,0018) SOPInstanceUID", "(0020,000D) StudyInstanceUID"} <= paths


def test_private_tag_identity_and_burned_in(clean_dicom, tmp_path, capsys, caplog) -> None:
    ds = pydicom.dcmread(clean_dicom)
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", CANARY)
    ds.PatientIdentityRemoved = "NO"
    ds.BurnedInAnnotation = "YES"
    ds.save_as(tmp_path / "p.dcm")
    result = check_phi({"p.dcm": tmp_path / "p.dcm"}, POLICY)
    assert sorted(result.report.flatten(("code", "path"))) == [
        ("phi-burned-in", None),
        ("phi-identity-not-removed", None),
        ("phi-private-tag", "(0029,1010)"),
    ]
    assert_no_canary(result.report, capsys, caplog)
    allow = PhiPolicy(
        pseudonyms=frozenset({PSEUDONYM}),
        allow=(
            AllowEntry("(0029,*)", "vendor reconstruction parameters, reviewed", files="*.dcm"),
            AllowEntry("BurnedInAnnotation", "only a ruler is burned in, reviewed"),
            AllowEntry("PatientIdentityRemoved", "de-identified by the site"),
        ),
    )
    allowed = check_phi({"p.dcm": tmp_path / "p.dcm"}, allow)
    assert allowed.passed and {i.code for i in allowed.report.issues} == {"phi-exception-applied"}
    recorded = json.loads(exceptions_json(allowed))["phi_exceptions"]
    assert [(r["attribute"], r["reason"], r["files"]) for r in recorded] == [
        ("(0012,0062) PatientIdentityRemoved", "de-identified by the site", ["p.dcm"]),
        ("(0028,0301) BurnedInAnnotation", "only a ruler is burned in, reviewed", ["p.dcm"]),
        ("(0029,1010)", "vendor reconstruction parameters, reviewed", ["p.dcm"]),
    ]  # fmt: skip


def test_the_recorded_exceptions_are_one_entry_per_attribute_and_reason_with_a_file_a_line() -> None:
    said, other = "curated descriptions", 'says "no names"'
    applied = [PhiException(f, "(0008,1030) StudyDescription", said) for f in ("b/2.dcm", "a/1.dcm", "b/2.dcm")]
    applied.append(PhiException("a/é\n.dcm", "(0008,1030) StudyDescription", other))
    text = exceptions_json(PhiResult(exceptions=AppliedExceptions(applied))).decode()
    assert json.loads(text) == {"phi_exceptions": [
        {"attribute": "(0008,1030) StudyDescription", "files": ["a/1.dcm", "b/2.dcm"], "reason": said},
        {"attribute": "(0008,1030) StudyDescription", "files": ["a/é\n.dcm"], "reason": other},
    ]}  # fmt: skip
    assert '\n        "a/1.dcm",\n        "b/2.dcm"\n' in text  # a file a line, to read, grep and diff
    assert exceptions_json(PhiResult()).decode() == '{\n  "phi_exceptions": []\n}\n'


def test_applied_exceptions_read_back_as_the_list_they_stand_for() -> None:
    said = "curated descriptions"
    applied = [PhiException(f"s{i // 2}/{i}.dcm", f"(0008,103{i % 2}) X", said) for i in range(5)]
    kept = AppliedExceptions(applied)
    assert list(kept) == applied and kept == applied and len(kept) == 5
    assert kept[-1] == applied[-1] and kept[1:3] == applied[1:3]
    assert kept != applied[:4] and kept == AppliedExceptions(applied)
    assert repr(kept) == f"AppliedExceptions({applied!r})"
    assert len(kept._kinds) == 2  # one (attribute, reason) per entry applied, however many files


def test_the_recorded_exceptions_stream_as_the_canonical_json_layout() -> None:
    from isaprofile._json import pretty_json

    said, other = "curated descriptions", 'says "no names" \u2028 — é'
    applied = [PhiException(f"s{i % 7}/{i:04d}.dcm", f"(0008,103{i % 3}) X", said if i % 2 else other)
               for i in range(3000)]  # fmt: skip
    applied += applied[:10]  # a file allowed at two places counts once
    groups: dict[tuple[str, str], set[str]] = {}
    for e in applied:
        groups.setdefault((e.attribute, e.reason), set()).add(e.file)
    rows = [{"attribute": a, "reason": r, "files": sorted(f)} for (a, r), f in sorted(groups.items())]
    expected = (pretty_json({"phi_exceptions": rows}, flat=frozenset({"files"})) + "\n").encode()
    chunks = list(exceptions_chunks(PhiResult(exceptions=AppliedExceptions(applied))))
    assert b"".join(chunks) == expected and len(chunks) > 1  # written a piece at a time


def test_allow_list_needs_a_reason_and_respects_the_file_glob(clean_dicom, tmp_path) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        AllowEntry("StudyDate", "  ")
    ds = pydicom.dcmread(clean_dicom)
    ds.StudyDate = DATE_CANARY
    ds.save_as(tmp_path / "d.dcm")
    allow = (AllowEntry("StudyDate", "dates shifted by the site", files="mri/*"),)
    policy = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow=allow)
    result = check_phi({"ct/d.dcm": tmp_path / "d.dcm", "mri/d.dcm": tmp_path / "d.dcm"}, policy)
    assert sorted(result.report.flatten(("code", "file"))) == [
        ("phi-attribute", "ct/d.dcm"), ("phi-exception-applied", "mri/d.dcm"),
    ]  # fmt: skip
    retained = PhiPolicy(retain=frozenset({"dates"}), pseudonyms=frozenset({PSEUDONYM}))
    assert check_phi({"d.dcm": tmp_path / "d.dcm"}, retained).report.issues == []


def test_an_exception_applied_to_many_files_is_one_note_and_every_file_is_recorded(clean_dicom, tmp_path) -> None:
    ds = pydicom.dcmread(clean_dicom)
    ds.StudyDate = DATE_CANARY
    ds.StudyDescription = "CT ABDOMEN W CONT"
    ds.save_as(tmp_path / "d.dcm")
    allow = (AllowEntry("StudyDate", "dates shifted by the site"),
             AllowEntry("StudyDescription", "curated descriptions", files="s2/*"))  # fmt: skip
    policy = PhiPolicy(pseudonyms=frozenset({PSEUDONYM}), allow=allow)
    files = {f"s{n}/{k}.dcm": tmp_path / "d.dcm" for n in (3, 1, 2) for k in (2, 1)}
    result = check_phi(files, policy, workers=1)
    refused = [("phi-attribute", f, "(0008,1030) StudyDescription") for f in sorted(files) if f[:2] != "s2"]
    assert result.report.flatten(("code", "file", "path"))[:4] == refused
    assert [(i.code, i.file, i.path, i.message) for i in result.report.issues[4:]] == [
        ("phi-exception-applied", "s1/1.dcm", "(0008,0020) StudyDate",
         "6 files (s1/1.dcm first): (0008,0020) StudyDate allowed by the dataset config (dates shifted by the site)"),
        ("phi-exception-applied", "s2/1.dcm", "(0008,1030) StudyDescription",
         "2 files (s2/1.dcm first): (0008,1030) StudyDescription allowed by the dataset config (curated descriptions)"),
    ]  # fmt: skip
    recorded = [(r["attribute"], r["files"]) for r in json.loads(exceptions_json(result))["phi_exceptions"]]
    assert recorded == [("(0008,0020) StudyDate", sorted(files)),
                        ("(0008,1030) StudyDescription", ["s2/1.dcm", "s2/2.dcm"])]  # fmt: skip
    one = check_phi({"s2/1.dcm": tmp_path / "d.dcm"}, policy, workers=1)
    assert [i.message for i in one.report.issues][0] == (
        "s2/1.dcm: (0008,0020) StudyDate allowed by the dataset config (dates shifted by the site)"
    )


def test_nifti_text_fields_and_extensions(tmp_path, capsys, caplog) -> None:
    cases = {
        "descrip": f"scan of Doe^{CANARY}".encode(),
        "aux_file": DATE_CANARY.encode(),
        "intent_name": b"x@canary.org",
        "db_name": b"1947-11-13",
    }
    for field, text in [*cases.items(), ("extension", None), ("extension-utf16", None), ("extension-utf32", None)]:
        img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        if field.startswith("extension"):
            codec = {"extension": "utf-8", "extension-utf16": "utf-16", "extension-utf32": "utf-32-le"}[field]
            img.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, f"patient {CANARY}".encode(codec)))
            expected = "extension[0] (code 6)"
        else:
            img.header[field] = text
            expected = field
        path = tmp_path / f"{field}.nii.gz"
        nibabel.save(img, path)
        result = check_phi({f"nii/{field}.nii.gz": path}, POLICY)
        assert result.report.flatten(("code", "path")) == [("phi-nifti-text", expected)], field
        assert_no_canary(result.report, capsys, caplog)
    clean = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    nibabel.save(clean, tmp_path / "clean.nii")
    assert check_phi({"clean.nii": tmp_path / "clean.nii"}, POLICY).report.issues == []


def test_sidecar_keys(tmp_path, capsys, caplog) -> None:
    keys = ["InstitutionName", "InstitutionAddress", "StationName", "AcquisitionDateTime", "AcquisitionDate",
            "PatientName", "PatientID", "PatientBirthDate", "DeviceSerialNumber"]  # fmt: skip
    sidecar = {k: CANARY for k in keys} | {"RepetitionTime": 2.0, "Nested": {"InstitutionName": CANARY}}
    sidecar["PatientAlias"] = PSEUDONYM
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(sidecar))
    result = check_phi({"nii/scan.json": path}, POLICY)
    expected = sorted([("phi-sidecar-key", f"$.{k}") for k in keys] + [("phi-sidecar-key", "$.Nested.InstitutionName")])
    found = sorted(i for i in result.report.flatten(("code", "path")) if i[0] == "phi-sidecar-key")
    assert found == expected
    assert_no_canary(result.report, capsys, caplog)
    pseudonymised = tmp_path / "ok.json"
    pseudonymised.write_text(json.dumps({"PatientID": PSEUDONYM, "EchoTime": 0.03}))
    assert check_phi({"ok.json": pseudonymised}, POLICY).report.issues == []


def test_names_holding_a_patient_name_or_id_are_refused_and_redacted(clean_dicom, tmp_path, capsys, caplog) -> None:
    ds = pydicom.dcmread(clean_dicom)
    ds.PatientName = "Canaryson^Q7Bert"
    ds.PatientID = "MRN-7Q2-991"
    ds.save_as(tmp_path / "h.dcm")
    files = {
        "ct/canaryson_scan/1.dcm": tmp_path / "h.dcm",
        "ct/other/MRN-7Q2-991.dcm": clean_dicom,
        "ct/sub-01/2.dcm": clean_dicom,
    }
    result = check_phi(files, POLICY)
    found = sorted(result.report.flatten(("code", "path")))
    assert found == sorted([
        ("phi-attribute", "(0010,0010) PatientName"),
        ("phi-attribute", "(0010,0020) PatientID"),
        ("phi-file-name", "ct/[redacted]_scan"),
        ("phi-file-name", "ct/other/[redacted].dcm"),
    ])  # fmt: skip
    files_named = {i.file for i in result.report.issues}
    assert "ct/[redacted]_scan/1.dcm" in files_named and "ct/sub-01/2.dcm" not in files_named
    text = "\n".join(render(result.report, fmt) for fmt in FORMATS) + caplog.text + capsys.readouterr().out
    for secret in ("Canaryson", "canaryson", "Q7Bert", "MRN-7Q2-991"):
        assert secret not in text


def test_unreadable_dicom_is_a_finding(tmp_path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 10)
    text = tmp_path / "notes.dcm"
    text.write_text("not a DICOM file at all")
    result = check_phi({"bad.dcm": bad, "notes.dcm": text}, POLICY)
    assert result.report.flatten(("code", "file")) == [("phi-unreadable", "bad.dcm"), ("phi-unreadable", "notes.dcm")]


def test_parallel_gate_matches_serial(clean_dicom, tmp_path, monkeypatch) -> None:
    import isaprofile.package.phi as phi

    ds = pydicom.dcmread(clean_dicom)
    ds.InstitutionName = CANARY
    ds.save_as(tmp_path / "i.dcm")
    files = {f"s/{i}.dcm": (tmp_path / "i.dcm" if i % 3 == 0 else clean_dicom) for i in range(12)}
    monkeypatch.setattr(phi, "_PARALLEL_MIN_FILES", 2)
    serial = check_phi(files, POLICY, workers=1).report.flatten()
    parallel = check_phi(files, POLICY, workers=2).report.flatten()
    assert serial == parallel and len(serial) == 4


def test_results_back_from_workers_share_one_object_when_clean() -> None:
    """Clean results equal in content come back as one (read-only) object; results with findings never do."""
    import pickle

    from isaprofile.findings.issues import issue
    from isaprofile.package.phi import FileFindings

    clean = FileFindings([], [("PatientID", "pseudonym")], [("PatientID", "CRLM-001")], [])
    a, b = pickle.loads(pickle.dumps(clean)), pickle.loads(pickle.dumps(clean))
    assert a == clean and a is b
    assert a.exceptions[0] is b.exceptions[0]
    flagged = FileFindings([issue("phi-private-tag", file="x.dcm", path="(0009,0010)")], [], [], [])
    c, d = pickle.loads(pickle.dumps(flagged)), pickle.loads(pickle.dumps(flagged))
    assert c == d == flagged and c is not d
