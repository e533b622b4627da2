"""TCIA's metadata.csv and .tcia manifest cross-checked with the headers of the CRLM example; UIDs kept."""

from __future__ import annotations

import csv
from pathlib import Path

import pydicom

from isaprofile.cli.main import main
from isaprofile.dataset import load_dataset
from isaprofile.findings.issues import Report
from isaprofile.harvest.tcia import check_tcia, read_manifest

NBIA = "manifest-1669817128730/Colorectal-Liver-Metastases/metadata.csv"
MANIFEST = "Colorectal Liver Metastases November 2022 manifest.tcia"
CT_1002 = "CRLM-CT-1002/01-19-1991-NA-CT ABDOMEN W CONT-02311/2.000000-PORTAL VENOUS-33291"


def _found(root: Path) -> list[tuple]:
    checked = load_dataset(root)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    return [(i.code, i.file, i.line, i.column, i.path) for i in report.sorted().issues]


def _rows(root: Path) -> list[list[str]]:
    with (root / NBIA).open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write_rows(root: Path, rows: list[list[str]]) -> None:
    with (root / NBIA).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _manifest(root: Path) -> list[str]:
    return (root / MANIFEST).read_text().splitlines()


def _series_uid(root: Path, folder: str) -> str:
    return str(pydicom.dcmread(next((root / folder).iterdir()), stop_before_pixels=True).SeriesInstanceUID)


def test_example_lists_agree_with_headers(crlm: Path) -> None:
    assert _found(crlm) == []
    listed = read_manifest(crlm / MANIFEST, MANIFEST, Report())
    assert listed is not None and len(listed) == 6
    assert (listed[0].line, listed[-1].line) == (7, 12)


def test_uid_removed_from_manifest(crlm: Path) -> None:
    uid = _series_uid(crlm, CT_1002)
    lines = [ln for ln in _manifest(crlm) if ln != uid]
    (crlm / MANIFEST).write_text("\n".join(lines) + "\n")
    assert _found(crlm) == [
        ("tcia-series-unlisted", f"{CT_1002}/1-001.dcm", None, None, "(0020,000E) SeriesInstanceUID")
    ]
    checked = load_dataset(crlm)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert MANIFEST in report.issues[0].message and uid not in report.issues[0].message
    assert main(["validate", str(crlm)]) == 1


def test_manifest_lists_series_not_present(crlm: Path) -> None:
    lines = _manifest(crlm)
    lines.insert(9, "1.2.826.0.1.3680043.8.498.1")  # becomes line 10
    (crlm / MANIFEST).write_text("\n".join(lines) + "\n")
    assert _found(crlm) == [("tcia-series-missing", MANIFEST, 10, None, None)]


def test_manifest_uid_replaced(crlm: Path) -> None:
    uid = _series_uid(crlm, CT_1002)
    lines = ["1.2.826.0.1.3680043.8.498.2" if ln == uid else ln for ln in _manifest(crlm)]
    (crlm / MANIFEST).write_text("\n".join(lines) + "\n")
    assert _found(crlm) == [
        ("tcia-series-unlisted", f"{CT_1002}/1-001.dcm", None, None, "(0020,000E) SeriesInstanceUID"),
        ("tcia-series-missing", MANIFEST, 9, None, None),
    ]


def test_metadata_series_uid_replaced(crlm: Path) -> None:
    rows = _rows(crlm)
    assert rows[3][15] == f"./{CT_1002}"
    rows[3][0] = "1.2.826.0.1.3680043.8.498.3"
    _write_rows(crlm, rows)
    assert _found(crlm) == [("tcia-uid-mismatch", NBIA, 4, 1, "column 'Series UID'")]


def test_series_not_in_metadata(crlm: Path) -> None:
    rows = _rows(crlm)
    del rows[3]
    _write_rows(crlm, rows)
    assert _found(crlm) == [
        ("tcia-series-unlisted", f"{CT_1002}/1-001.dcm", None, None, "(0020,000E) SeriesInstanceUID")
    ]


def test_study_date_and_description_cross_checked(crlm: Path) -> None:
    rows = _rows(crlm)
    assert rows[0][6:8] == ["Study Description", "Study Date"]
    rows[3][7] = "01-20-1991"  # the header says 19910119
    _write_rows(crlm, rows)
    for f in (crlm / CT_1002).iterdir():
        ds = pydicom.dcmread(f)
        del ds.StudyDescription
        ds.save_as(f)
    found = _found(crlm)
    assert found == [
        ("tcia-study-mismatch", NBIA, 4, 7, "column 'Study Description'"),
        ("tcia-study-mismatch", NBIA, 4, 8, "column 'Study Date'"),
    ]
    checked = load_dataset(crlm)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    messages = sorted(i.message for i in report.issues)
    assert "'Study Date' is different in (0008,0020) StudyDate" in messages[0]
    assert (
        "19910119" not in messages[0]
        and "01-20-1991" not in messages[0]
        and "'Study Description' is absent from" in messages[1]
    )


def test_unreadable_manifest(crlm: Path) -> None:
    (crlm / MANIFEST).write_text("downloadServerUrl=https://example.org\n")
    assert _found(crlm) == [("tcia-manifest-unreadable", MANIFEST, None, None, None)]


def test_seg_reference_to_missing_slice(crlm: Path) -> None:
    """A CT slice removed from the download: the SEG's reference to it is a finding in the SEG."""
    (crlm / CT_1002 / "1-003.dcm").unlink()
    rows = _rows(crlm)
    rows[3][13] = "3"  # keep metadata.csv's Number of Images in step
    _write_rows(crlm, rows)
    seg = next((crlm / "CRLM-CT-1002").glob("*/100.000000-*/1-1.dcm")).relative_to(crlm).as_posix()
    assert _found(crlm) == [
        (
            "seg-instance-missing",
            seg,
            None,
            None,
            "(0008,1115) ReferencedSeriesSequence[0]>(0008,114A) ReferencedInstanceSequence[2]>"
            "(0008,1155) ReferencedSOPInstanceUID",
        )
    ]


def test_no_tcia_lists_no_check(tmp_path: Path) -> None:
    assert check_tcia(tmp_path, [], Report()) is False


def test_uids_in_isatab(crlm: Path, tmp_path: Path) -> None:
    out = tmp_path / "isa"
    assert main(["isatab", str(crlm), "-o", str(out)]) == 0
    [assay] = sorted(out.glob("a_*.txt"))
    with assay.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh, delimiter="\t"))
    head = table[0]
    cols = {name: head.index(f"Comment[{name}]") for name in ("Study Instance UID", "Series Instance UID",
                                                               "SOP Instance UID")}  # fmt: skip
    row = next(r for r in table[1:] if r[head.index("Raw Data File")] == CT_1002)
    ds = pydicom.dcmread(crlm / CT_1002 / "1-001.dcm", stop_before_pixels=True)
    assert row[cols["Study Instance UID"]] == ds.StudyInstanceUID
    assert row[cols["Series Instance UID"]] == ds.SeriesInstanceUID
    sops = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in sorted((crlm / CT_1002).iterdir())]
    assert row[cols["SOP Instance UID"]].split(";") == sops
    checked = load_dataset(crlm)
    inv, _prof, _rep = checked.investigation, checked.profile, checked.report
    [datafile] = next(s for s in inv.studies[0].scans if s.files[0].path == CT_1002).files
    assert datafile.comments["Series Instance UID"].provenance.path == "(0020,000E) SeriesInstanceUID"
