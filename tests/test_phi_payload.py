"""Only checked files reach the deposit: payload selection refuses what the gates cannot check, hidden
files and leftovers, and links that leave the dataset; a DICOM without preamble or extension is gated."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from isaprofile.package.payload import (
    IncludeEntry,
    hidden_reason,
    include_entries,
    select_payload,
    sniff_dicom,
    sniff_nifti,
)
from isaprofile.package.phi import PhiPolicy, check_phi

PSEUDONYM = "sub-01"


def _clean_ct() -> pydicom.Dataset:
    from isaprofile.package.phi import annex_e

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for entry in annex_e().values():
        if entry.action != "U" and "X" not in entry.tag and entry.keyword in ds:
            delattr(ds, entry.keyword)
    ds.remove_private_tags()
    ds.PatientID = ds.PatientName = PSEUDONYM
    ds.PatientIdentityRemoved = "YES"
    return ds


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    series = root / "ct" / "sub-01" / "series"
    series.mkdir(parents=True)
    ds = _clean_ct()
    ds.save_as(series / "1.dcm")
    bare = _clean_ct()
    bare.preamble = None
    del bare.file_meta
    pydicom.dcmwrite(series / "2", bare, enforce_file_format=False)  # no preamble, no extension
    nibabel.save(nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), root / "ct" / "sub-01" / "mask.nii.gz")
    return root


def test_recognised_files_are_selected(dataset: Path) -> None:
    payload, report = select_payload(dataset, ["ct/sub-01/series", "ct/sub-01/mask.nii.gz"])
    assert sorted(payload) == ["ct/sub-01/mask.nii.gz", "ct/sub-01/series/1.dcm", "ct/sub-01/series/2"]
    assert report.issues == []
    assert check_phi(payload, PhiPolicy(pseudonyms=frozenset({PSEUDONYM}))).passed


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", b"Patient: Jane Canary, born 1947"), ("report.pdf", b"%PDF-1.7\n"),
     ("blob.bin", bytes(range(256)) * 4096), ("fake.nii.gz", b"not a nifti"), ("scan.dcm", b"plain text")],
)  # fmt: skip
def test_unrecognised_files_are_refused_unless_included(dataset: Path, name: str, content: bytes) -> None:
    (dataset / "ct/sub-01/series" / name).write_bytes(content)
    rel = f"ct/sub-01/series/{name}"
    payload, report = select_payload(dataset, ["ct/sub-01/series"])
    assert rel not in payload
    assert report.flatten(("code", "file")) == [("payload-unrecognised", rel)]
    assert "Canary" not in report.issues[0].message
    included, report = select_payload(dataset, ["ct/sub-01/series"], include=[IncludeEntry(rel, "reviewed")])
    assert rel in included and report.issues == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [(".~lock.Jane Canary.txt#", "LibreOffice lock file"), ("~$sheet.xlsx", "Microsoft Office lock file"),
     (".DS_Store", "macOS folder metadata"), ("._1.dcm", "macOS resource fork"), ("1.dcm~", "editor backup"),
     (".1.dcm.swp", "hidden file"), ("1.dcm.swp", "vim swap file"), ("Thumbs.db", "Windows thumbnail cache"),
     ("#notes#", "Emacs auto-save file"), (".hidden", "hidden file")],
)  # fmt: skip
def test_hidden_files_and_leftovers_are_refused_even_when_included(dataset: Path, name: str, kind: str) -> None:
    ds = _clean_ct()
    ds.save_as(dataset / "ct/sub-01/series" / name)  # even a valid DICOM under such a name
    rel = f"ct/sub-01/series/{name}"
    assert hidden_reason(name) == kind
    payload, report = select_payload(dataset, ["ct/sub-01/series"], include=[IncludeEntry("**", "everything")])
    assert rel not in payload
    assert report.flatten(("code", "file", "path")) == [("payload-hidden", rel, rel)]


def test_hidden_folders_are_refused(dataset: Path) -> None:
    (dataset / "ct/sub-01/series/__MACOSX").mkdir()
    _clean_ct().save_as(dataset / "ct/sub-01/series/__MACOSX/1.dcm")
    payload, report = select_payload(dataset, ["ct/sub-01/series"])
    assert report.flatten(("code", "path")) == [("payload-hidden", "ct/sub-01/series/__MACOSX")]


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir(exist_ok=True)
    _clean_ct().save_as(out / "9.dcm")
    return out


@pytest.mark.parametrize("kind", ["file", "folder", "subject-folder", "relative", "broken"])
def test_links_that_leave_the_dataset_are_refused(dataset: Path, tmp_path: Path, kind: str) -> None:
    outside = _outside(tmp_path)
    series = dataset / "ct/sub-01/series"
    if kind == "file":
        (series / "9.dcm").symlink_to(outside / "9.dcm")
        refs, rel, at = ["ct/sub-01/series"], "ct/sub-01/series/9.dcm", "ct/sub-01/series/9.dcm"
    elif kind == "folder":
        (series / "more").symlink_to(outside, target_is_directory=True)
        refs, rel, at = ["ct/sub-01/series"], "ct/sub-01/series/more", "ct/sub-01/series/more"
    elif kind == "subject-folder":  # the referenced path itself passes through a link
        (dataset / "ct/sub-02").symlink_to(outside, target_is_directory=True)
        refs, rel, at = ["ct/sub-02/9.dcm"], "ct/sub-02/9.dcm", "ct/sub-02"
    elif kind == "relative":
        (series / "up").symlink_to(Path("../../../../outside"), target_is_directory=True)
        refs, rel, at = ["ct/sub-01/series"], "ct/sub-01/series/up", "ct/sub-01/series/up"
    else:
        (series / "gone.dcm").symlink_to(tmp_path / "nowhere.dcm")
        refs, rel, at = ["ct/sub-01/series"], "ct/sub-01/series/gone.dcm", "ct/sub-01/series/gone.dcm"
    payload, report = select_payload(dataset, refs)
    assert not any("9.dcm" in p and "sub-01/series/1" not in p for p in payload if p not in ("ct/sub-01/series/1.dcm",))
    assert all(str(src).startswith(str(dataset.resolve())) for src in payload.values())
    assert report.flatten(("code", "file", "path")) == [("payload-link-outside", rel, at)]


def test_each_file_under_a_refused_folder_has_its_own_finding(dataset: Path, tmp_path: Path) -> None:
    """Files named one by one (as NIfTI scans are) share their folders, which are resolved and checked once
    each: every file under a link leaving the dataset or under a hidden folder still gets its finding."""
    outside = _outside(tmp_path)
    _clean_ct().save_as(outside / "8.dcm")
    (dataset / "ct/sub-02").symlink_to(outside, target_is_directory=True)
    hidden = dataset / "ct/sub-01/.trash"
    hidden.mkdir()
    for name in ("1.dcm", "2.dcm"):
        _clean_ct().save_as(hidden / name)
    refs = ["ct/sub-02/8.dcm", "ct/sub-02/9.dcm", "ct/sub-01/.trash/1.dcm", "ct/sub-01/.trash/2.dcm",
            "ct/sub-01/series/1.dcm"]  # fmt: skip
    payload, report = select_payload(dataset, refs)
    assert list(payload) == ["ct/sub-01/series/1.dcm"]
    assert report.flatten(("code", "file", "path")) == [
        ("payload-hidden", "ct/sub-01/.trash/1.dcm", "ct/sub-01/.trash"),
        ("payload-hidden", "ct/sub-01/.trash/2.dcm", "ct/sub-01/.trash"),
        ("payload-link-outside", "ct/sub-02/8.dcm", "ct/sub-02"),
        ("payload-link-outside", "ct/sub-02/9.dcm", "ct/sub-02"),
    ]


def test_links_inside_the_dataset_are_followed_and_loops_refused(dataset: Path) -> None:
    series = dataset / "ct/sub-01/series"
    (series / "same.dcm").symlink_to(series / "1.dcm")
    (series / "loop").symlink_to(dataset / "ct", target_is_directory=True)
    payload, report = select_payload(dataset, ["ct/sub-01/series"])
    assert payload["ct/sub-01/series/same.dcm"] == str((series / "1.dcm").resolve())
    # a file reached without a link is held by its name alone, its source joined when asked for
    assert payload["ct/sub-01/series/1.dcm"] == os.path.join(dataset.resolve(), "ct/sub-01/series/1.dcm")
    assert payload.linked("ct/sub-01/series/1.dcm") is None and payload.linked("ct/sub-01/series/same.dcm")
    assert report.flatten(("code", "path")) == [("payload-link-loop", "ct/sub-01/series/loop")]


def test_hard_links_out_of_the_dataset_are_refused(dataset: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    series = dataset / "ct/sub-01/series"
    os.link(outside / "9.dcm", series / "9.dcm")
    os.link(series / "1.dcm", series / "1b.dcm")  # both names inside: fine
    payload, report = select_payload(dataset, ["ct/sub-01/series"])
    assert "ct/sub-01/series/1b.dcm" in payload and "ct/sub-01/series/9.dcm" not in payload
    assert report.flatten(("code", "file")) == [("payload-hard-link", "ct/sub-01/series/9.dcm")]


def test_a_dicom_without_preamble_or_extension_is_gated(dataset: Path) -> None:
    bare = _clean_ct()
    bare.InstitutionName = "CANARY-7Q2 Hospital"
    bare.preamble = None
    del bare.file_meta
    pydicom.dcmwrite(dataset / "ct/sub-01/series/3", bare, enforce_file_format=False)
    assert sniff_dicom(dataset / "ct/sub-01/series/3")
    payload, report = select_payload(dataset, ["ct/sub-01/series"])
    assert "ct/sub-01/series/3" in payload and report.issues == []
    result = check_phi(payload, PhiPolicy(pseudonyms=frozenset({PSEUDONYM})))
    assert result.report.flatten(("code", "file", "path")) == [
        ("phi-attribute", "ct/sub-01/series/3", "(0008,0080) InstitutionName")
    ]


def test_sniffers(dataset: Path, tmp_path: Path) -> None:
    assert sniff_nifti(dataset / "ct/sub-01/mask.nii.gz")
    assert not sniff_nifti(dataset / "ct/sub-01/series/1.dcm")
    (tmp_path / "empty").write_bytes(b"")
    assert not sniff_dicom(tmp_path / "empty") and not sniff_nifti(tmp_path / "empty")


def test_include_entries_need_a_path_and_a_reason(dataset: Path) -> None:
    entries, report = include_entries(
        {"include": [{"path": "docs/protocol.pdf", "reason": "protocol, reviewed"}, {"path": "x.txt"},
                     {"path": "../etc/passwd", "reason": "no"}, "notes.txt"]}
    )  # fmt: skip
    assert entries == [IncludeEntry("docs/protocol.pdf", "protocol, reviewed")]
    assert report.flatten(("code", "path")) == [
        ("payload-include-invalid", "package.include[1]"),
        ("payload-include-invalid", "package.include[2]"),
        ("payload-include-invalid", "package.include[3]"),
    ]
    (dataset / "docs").mkdir()
    (dataset / "docs/protocol.pdf").write_bytes(b"%PDF-1.7\n")
    payload, report = select_payload(dataset, [], include=[*entries, IncludeEntry("nothing/*.txt", "none")])
    assert list(payload) == ["docs/protocol.pdf"]
    assert report.flatten(("code", "path")) == [("payload-include-unused", "nothing/*.txt")]


def test_checked_sources_enter_as_they_are(dataset: Path) -> None:
    (dataset / "subjects.xlsx").write_bytes(b"PK\x03\x04 a sheet the pipeline read")
    payload, report = select_payload(dataset, ["ct/sub-01/series"], checked=["subjects.xlsx"])
    assert "subjects.xlsx" in payload and report.issues == []
