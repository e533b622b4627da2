"""Break-one-thing tests: start from the valid example, break one rule, assert exactly what fires."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from isaprofile.dataset import load_dataset
from isaprofile.errors import DatasetError
from isaprofile.isatab.read import read_isatab
from isaprofile.isatab.write import write_isatab
from isaprofile.pipeline import check

LOC = ("code", "file", "line", "column", "path")


def _edit(example: Path, sheet: str, cell: str, value) -> None:
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    wb[sheet][cell] = value
    wb.save(example / "metadata.xlsx")


def _column(example: Path, sheet: str, header: str) -> str:
    wb = openpyxl.load_workbook(example / "metadata.xlsx", read_only=True)
    row = next(wb[sheet].iter_rows(min_row=1, max_row=1, values_only=True))
    return openpyxl.utils.get_column_letter(list(row).index(header) + 1)


def _findings(example: Path) -> list[tuple]:
    return load_dataset(example).report.sorted().flatten(LOC)


def test_example_is_valid(example: Path) -> None:
    assert _findings(example) == []


def test_wrong_type(example: Path) -> None:
    col = _column(example, "Subjects", "Age [d]")
    _edit(example, "Subjects", f"{col}3", "six weeks")
    assert _findings(example) == [
        ("value-type", "metadata.xlsx", 3, _colnum(col), "sheet 'Subjects', column 'Age [d]'")
    ]


def test_unknown_term(example: Path) -> None:
    col = _column(example, "Subjects", "Sex")
    _edit(example, "Subjects", f"{col}4", "hermaphrodite")
    assert _findings(example) == [
        ("value-not-allowed", "metadata.xlsx", 4, _colnum(col), "sheet 'Subjects', column 'Sex'")
    ]


def test_open_term_list_warns(example: Path) -> None:
    col = _column(example, "Subjects", "Disease model")
    _edit(example, "Subjects", f"{col}2", "cholestasis")
    report = load_dataset(example).report
    path = "sheet 'Subjects', column 'Disease model'"
    assert report.flatten(LOC) == [("value-not-listed", "metadata.xlsx", 2, _colnum(col), path)]
    assert report.valid and not report.is_valid(strict=True)


def test_required_value_missing(example: Path) -> None:
    col = _column(example, "Subjects", "Health status")
    _edit(example, "Subjects", f"{col}5", None)
    assert _findings(example) == [("required-missing", "metadata.xlsx", 5, None, "sheet 'Subjects'")]


def test_required_column_missing(example: Path) -> None:
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    ws = wb["Subjects"]
    col = [c.value for c in ws[1]].index("Health status") + 1
    ws.delete_cols(col)
    wb.save(example / "metadata.xlsx")
    found = _findings(example)
    assert found[0] == ("required-column-missing", "metadata.xlsx", 1, None, "sheet 'Subjects'")
    assert {f[0] for f in found[1:]} == {"required-missing"} and len(found) == 9  # one per animal


def test_unit_conversion_and_unknown_unit(example: Path) -> None:
    col = _column(example, "Samples", "Body weight [g]")
    _edit(example, "Samples", f"{col}1", "Body weight [kg]")
    _edit(example, "Samples", f"{col}2", 0.025)
    checked = load_dataset(example)
    inv, _, report = checked.investigation, checked.profile, checked.report
    assert [s.characteristics["body weight"].value for s in inv.study("HCC-MRI").samples][:1] == [25.0]
    assert report.flatten(LOC) == []
    _edit(example, "Samples", f"{col}1", "Body weight [stone]")
    found = _findings(example)
    assert found[0] == ("unit-unknown", "metadata.xlsx", 2, 4, "sheet 'Samples', column 'Body weight [stone]'")


def test_out_of_range(example: Path) -> None:
    col = _column(example, "Scans", "Flip angle [deg]")
    _edit(example, "Scans", f"{col}2", 400)
    path = "sheet 'Scans', column 'Flip angle [deg]'"
    assert _findings(example) == [("value-out-of-range", "metadata.xlsx", 2, int(_colnum(col)), path)]


def _colnum(letter: str) -> int:
    return openpyxl.utils.column_index_from_string(letter)


def test_duplicate_animal_id(example: Path) -> None:
    _edit(example, "Subjects", "A3", "HCC-01")
    found = _findings(example)
    assert ("duplicate-id", "metadata.xlsx", 3, None, "sheet 'Subjects'") in found
    # HCC-02 now has no row: its samples point nowhere
    assert [f for f in found if f[0] != "duplicate-id"] == [
        ("sample-subject-unknown", "metadata.xlsx", r, None, "sheet 'Samples'") for r in (5, 6, 7)
    ]


def test_sample_points_nowhere(example: Path) -> None:
    col = _column(example, "Samples", "Animal ID")
    _edit(example, "Samples", f"{col}2", "NOBODY")
    assert _findings(example) == [("sample-subject-unknown", "metadata.xlsx", 2, None, "sheet 'Samples'")]


def test_scan_and_segmentation_point_nowhere(example: Path) -> None:
    _edit(example, "Scans", f"{_column(example, 'Scans', 'Sample ID')}2", "NO-SAMPLE")
    _edit(example, "Segmentations", f"{_column(example, 'Segmentations', 'Scan ID')}2", "NO-SCAN")
    assert _findings(example) == [
        ("scan-sample-unknown", "metadata.xlsx", 2, None, "sheet 'Scans'"),
        ("segmentation-scan-unknown", "metadata.xlsx", 2, 1, "sheet 'Segmentations', column 'Scan ID'"),
    ]


def test_missing_data_file(example: Path) -> None:
    (example / "images" / "HCC-01" / "HCC-01-w0-mri.nii.gz").unlink()
    col = _column(example, "Scans", "Image file")
    assert _findings(example) == [("data-file-missing", "metadata.xlsx", 2, _colnum(col),
                                   "sheet 'Scans', column 'Image file'")]  # fmt: skip


def test_unknown_column(example: Path) -> None:
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    ws = wb["Subjects"]
    ws.cell(row=1, column=ws.max_column + 1, value="Cage colour")
    wb.save(example / "metadata.xlsx")
    col = ws.max_column
    assert _findings(example) == [("unknown-column", "metadata.xlsx", 1, col, "sheet 'Subjects', column 'Cage colour'")]


def test_missing_sheet_and_corrupt_workbook(example: Path) -> None:
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    del wb["Scans"]
    wb.save(example / "metadata.xlsx")
    assert ("sheet-missing", "metadata.xlsx", None, None, None) in _findings(example)
    (example / "metadata.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    assert ("sheet-unreadable", "metadata.xlsx", None, None, None) in _findings(example)


def test_profile_unknown_and_config_invalid(example: Path) -> None:
    cfg = example / "isaprofile.yaml"
    text = cfg.read_text()
    cfg.write_text(text.replace("profile: preclinical-imaging@1.0", "profile: no-such-profile"))
    assert _findings(example) == [("profile-unknown", "isaprofile.yaml", None, None, "profile")]
    cfg.write_text(
        text.replace("  title: Preclinical", "  title: 42\n  x: Preclinical").replace("title: 42", "title: [1]")
    )
    assert _findings(example)[0][0] == "config-invalid"
    cfg.write_text("profile: [unclosed")
    assert _findings(example) == [("config-invalid", "isaprofile.yaml", 1, 19, "$")]


def test_creator_required(example: Path) -> None:
    cfg = example / "isaprofile.yaml"
    lines = cfg.read_text().splitlines()
    start = lines.index("  creators:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  - ") and
               not lines[i].startswith("    "))  # fmt: skip
    cfg.write_text("\n".join(lines[:start] + lines[end:]) + "\n")
    assert _findings(example) == [("required-missing", "isaprofile.yaml", None, None, "investigation.creators")]


def test_modality_unknown(example: Path) -> None:
    col = _column(example, "Scans", "Image modality")
    _edit(example, "Scans", f"{col}2", "X-ray")
    assert _findings(example) == [("modality-unknown", "metadata.xlsx", 2, None, "sheet 'Scans'")]


# ------------------------------------------------------------------ ISA-Tab structure


@pytest.fixture
def isa(example: Path, tmp_path: Path) -> Path:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    out = tmp_path / "isa"
    write_isatab(inv, out, prof)
    return out


def _isa(isa: Path, example: Path | None = None, profile="auto") -> list[tuple]:
    return check(isa, profile, data_root=example).report.sorted().flatten(LOC)


def test_isatab_valid(isa: Path, example: Path) -> None:
    assert _isa(isa, example) == []


def test_isatab_bom_and_crlf(isa: Path, example: Path) -> None:
    p = isa / "s_MASH-CT.txt"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    assert _isa(isa, example) == [
        ("isatab-crlf", "s_MASH-CT.txt", 1, None, None),
        ("isatab-bom", "s_MASH-CT.txt", 1, 1, None),
    ]


def test_isatab_ragged_row(isa: Path, example: Path) -> None:
    p = isa / "a_MASH-CT_CT.txt"
    lines = p.read_text().split("\n")
    lines[2] = "\t".join(lines[2].split("\t")[:5])
    p.write_text("\n".join(lines))
    assert _isa(isa, example, None) == [("isatab-ragged-row", "a_MASH-CT_CT.txt", 3, 6, None)]


def test_isatab_unknown_header_and_misplaced_unit(isa: Path, example: Path) -> None:
    p = isa / "s_MASH-CT.txt"
    text = p.read_text().replace("Characteristics[strain]", "Characteristic[strain]", 1)
    p.write_text(text.replace("Protocol REF", "Unit", 1))
    found = _isa(isa, example, None)
    assert found == [
        ("isatab-unknown-header", "s_MASH-CT.txt", 1, 5, "Characteristic[strain]"),
        ("isatab-misplaced-column", "s_MASH-CT.txt", 1, 25, "Unit"),
    ]


def test_isatab_missing_study_file(isa: Path, example: Path) -> None:
    (isa / "s_MASH-CT.txt").unlink()
    found = _isa(isa, example)
    line = next(
        i
        for i, t in enumerate((isa / "i_investigation.txt").read_text().split("\n"), 1)
        if t == "Study File Name\ts_MASH-CT.txt"
    )
    assert [f for f in found if f[0] != "scan-sample-unknown"] == [
        ("isatab-file-missing", "i_investigation.txt", line, 2, "Study File Name")]  # fmt: skip
    assert len(found) == 4  # and the 3 CT scans lost their samples


def test_isatab_undeclared_source_protocol_factor(isa: Path, example: Path) -> None:
    i = isa / "i_investigation.txt"
    text = i.read_text()
    text = text.replace("Term Source Name\t", "Term Source Name\tX", 1)  # renames the first source (CHEBI → XCHEBI)
    text = text.replace("Study Protocol Name\tanimal at time point", "Study Protocol Name\tanimal at a time point")
    text = text.replace("Study Factor Name\ttime point", "Study Factor Name\ttimepoint")
    i.write_text(text)
    found = _isa(isa, example, None)
    codes = [(f[0], f[1], f[4]) for f in found]
    # first use of CHEBI: diethylnitrosamine (CHEBI:34873), the disease induction of the HCC study's samples
    assert ("isatab-term-source-undeclared", "s_HCC-MRI.txt", None) in codes
    assert ("isatab-protocol-undeclared", "s_HCC-MRI.txt", "Protocol REF") in codes
    assert ("isatab-protocol-undeclared", "s_MASH-CT.txt", "Protocol REF") in codes
    assert ("isatab-factor-undeclared", "s_HCC-MRI.txt", "Factor Value[time point]") in codes


def test_isatab_encoding_quote_and_missing_investigation(isa: Path, example: Path, tmp_path: Path) -> None:
    p = isa / "s_MASH-CT.txt"
    p.write_bytes(p.read_bytes() + b"MASH-09\t\xff\n")
    assert [f for f in _isa(isa, example) if f[0] == "isatab-encoding"] == [
        ("isatab-encoding", "s_MASH-CT.txt", 5, None, None)
    ]
    p.write_bytes(p.read_bytes().replace(b"\xff", b"") + b'MASH-10\t"unclosed\n')
    assert [f for f in _isa(isa, example) if f[0] == "isatab-bad-quote"] == [
        ("isatab-bad-quote", "s_MASH-CT.txt", 6, None, None)]  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_isatab(empty, None).report.flatten(LOC) == [("isatab-no-investigation", str(empty), None, None, None)]
    with pytest.raises(DatasetError):  # the pipeline refuses a folder that is neither kind
        check(empty)


def test_isatab_empty_name_and_inconsistent_node(isa: Path, example: Path) -> None:
    p = isa / "s_HCC-MRI.txt"
    lines = p.read_text().split("\n")
    cells = lines[2].split("\t")
    cells[4] = "BALB/c"  # the strain of HCC-01, which is C57BL/6J on line 2
    lines[2] = "\t".join(cells)
    p.write_text("\n".join(lines))
    assert _isa(isa, example) == [("isatab-inconsistent-node", "s_HCC-MRI.txt", 3, 5, "Characteristics[strain]")]


def test_isatab_profile_rules_point_at_cells(isa: Path, example: Path) -> None:
    p = isa / "s_HCC-MRI.txt"
    lines = p.read_text().split("\n")
    for n in (1, 2, 3):  # all rows of HCC-01 (a node must stay consistent)
        cells = lines[n].split("\t")
        cells[16] = "unknown"  # Characteristics[sex]
        cells[17] = cells[18] = ""
        lines[n] = "\t".join(cells)
    p.write_text("\n".join(lines))
    assert _isa(isa, example) == [("value-not-allowed", "s_HCC-MRI.txt", 2, 17, "Characteristics[sex]")]


def test_isatab_unreferenced_table_and_unknown_row(isa: Path, example: Path) -> None:
    (isa / "a_extra.txt").write_text("Sample Name\tProtocol REF\n")
    i = isa / "i_investigation.txt"
    i.write_text(i.read_text().replace("Investigation Title", "Investigation Titel", 1))
    found = _isa(isa, example)
    assert ("isatab-file-unreferenced", "a_extra.txt", None, None, None) in found
    assert (
        "isatab-unknown-section",
        "i_investigation.txt",
        8,
        1,
        None,
    ) not in found  # "Investigation Titel" is prefixed
    i.write_text(i.read_text().replace("Investigation Titel", "Titel", 1))
    assert ("isatab-unknown-section", "i_investigation.txt", 8, 1, None) in _isa(isa, example)


def test_subject_in_unknown_study(example: Path) -> None:
    col = _column(example, "Subjects", "Study ID")
    _edit(example, "Subjects", f"{col}2", "NO-STUDY")
    path = "sheet 'Subjects', column 'Study ID'"
    assert _findings(example) == [("subject-study-unknown", "metadata.xlsx", 2, _colnum(col), path)]
