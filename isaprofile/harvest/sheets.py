"""Read the users' sheets (xlsx, csv, tsv) as tables whose cells remember their row and column.

xlsx is read with openpyxl in read-only mode (openpyxl uses defusedxml when it is installed, which
isaprofile requires, so XML bombs are refused); csv/tsv with the csv module. Rows stream: a sheet
is never held in memory as a whole by this module.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isaprofile.errors import IsaprofileError
from isaprofile.findings.issues import Issue, issue
from isaprofile.model import CONTROL_RE, Provenance

if TYPE_CHECKING:  # openpyxl is imported only when a workbook is read
    from openpyxl import Workbook


class SheetError(IsaprofileError):
    """A sheet that cannot be read at all; ``code`` is the finding code, ``reason`` says why."""

    def __init__(self, file: str, reason: str, code: str = "sheet-unreadable") -> None:
        super().__init__(f"{file}: {reason}")
        self.file, self.reason, self.code = file, reason, code


@dataclass
class Table:
    """A sheet: its headers (with their column numbers) and a way to stream its data rows."""

    file: str  # as it should appear in findings (relative to the dataset root where possible)
    sheet: str | None
    headers: list[str]
    header_line: int
    _source: Path = field(repr=False)
    _delimiter: str | None = field(default=None, repr=False)
    findings: list[Issue] = field(default_factory=list)  # cells that could not be read, see rows()

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(line number, cells) for each non-empty data row.

        A cell holding control characters (other than tab and line breaks) cannot become a value: it is
        read as empty and a ``sheet-bad-character`` finding is added to :attr:`findings`.
        """
        source = (_xlsx_rows(self._source, self.sheet, self.header_line) if self._delimiter is None
                  else _text_rows(self._source, self._delimiter, self.header_line))  # fmt: skip
        for line, cells in source:
            for i, cell in enumerate(cells):
                if isinstance(cell, str) and CONTROL_RE.search(cell):
                    p = self.provenance(line, i + 1)
                    self.findings.append(
                        issue("sheet-bad-character", file=p.file, line=line, column=i + 1, path=p.path)
                    )
                    cells[i] = None
            yield line, cells

    def provenance(self, line: int, column: int) -> Provenance:
        where = f"sheet '{self.sheet}', " if self.sheet else ""
        header = self.headers[column - 1] if column - 1 < len(self.headers) else ""
        return Provenance(self.file, line, column, f"{where}column '{header}'")


def sheet_names(path: Path) -> list[str]:
    """The sheets of a workbook (a csv/tsv file has one, unnamed: ``[""]``)."""
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return [""]
    wb = _open_workbook(path, str(path))
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def read_table(path: Path, sheet: str | None = None, *, display: str | None = None, header_row: int = 1) -> Table:
    """Open one sheet of ``path``; ``header_row`` is the 1-based row holding the headers."""
    display = display or str(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        delim = "\t" if suffix in (".tsv", ".txt") else ","
        headers = _text_header(path, delim, header_row, display)
        return Table(display, None, headers, header_row, path, delim)
    wb = _open_workbook(path, display)
    try:
        name = sheet if sheet is not None else wb.sheetnames[0]
        if name not in wb.sheetnames:
            raise SheetError(display, f"no sheet {name!r}", code="sheet-missing")
        ws = wb[name]
        headers = []
        for i, row in enumerate(ws.iter_rows(min_row=header_row, max_row=header_row, values_only=True)):
            del i
            headers = ["" if c is None else str(c).strip() for c in row]
        while headers and not headers[-1]:
            headers.pop()
    finally:
        wb.close()
    return Table(display, name, headers, header_row, path)


def _open_workbook(path: Path, display: str) -> Workbook:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None


def _xlsx_rows(path: Path, sheet: str | None, header_row: int) -> Iterator[tuple[int, list[Any]]]:
    wb = _open_workbook(path, str(path))
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        for line, row in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), header_row + 1):
            cells = list(row)
            if any(c is not None and str(c).strip() for c in cells):
                yield line, cells
    finally:
        wb.close()


def _text_header(path: Path, delim: str, header_row: int, display: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for line, row in enumerate(csv.reader(fh, delimiter=delim), 1):
                if line == header_row:
                    return [c.strip() for c in row]
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SheetError(display, f"not UTF-8 text ({type(exc).__name__})") from None
    raise SheetError(display, "the file has no header row")


def _text_rows(path: Path, delim: str, header_row: int) -> Iterator[tuple[int, list[Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delim)
        for row in reader:
            line = reader.line_num
            if line <= header_row:
                continue
            if any(c.strip() for c in row):
                yield line, row
