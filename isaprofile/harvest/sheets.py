"""Read the users' sheets (xlsx, csv, tsv) as tables whose cells remember their row and column.

xlsx is read with python-calamine (Rust's calamine: 0.7 ms to import and 6 ms to read the preclinical
template, against 150 ms and 70 ms with openpyxl, which stays for writing templates). Before calamine reads a
workbook, Python's zipfile unpacks each part once (:func:`_check_parts`): sizes beyond the caps, sizes
larger than declared, encryption and DTDs are refused there (calamine expands no XML entity in any case).
calamine holds one sheet at a time, in its compact form (about twice the sheet's XML, which the part cap bounds);
its rows are converted to Python one at a time. csv/tsv rows stream with the csv module.

Cells: an empty cell is ``None``, a whole number an ``int`` (Excel stores every number as a double; openpyxl
gave ints too), a cell formatted as a date a ``datetime.date`` (openpyxl: a ``datetime`` at midnight), as a date
and time a ``datetime.datetime``. A cell holding an Excel error (``#N/A``, ``#DIV/0!``) reads as empty.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isaprofile.errors import IsaprofileError
from isaprofile.findings.issues import Issue, issue
from isaprofile.isatab.parse import LineTooLong, bounded_lines
from isaprofile.model import CONTROL_RE, Provenance

if TYPE_CHECKING:  # python-calamine is imported only when a workbook is read
    from python_calamine import CalamineSheet, CalamineWorkbook


MAX_PART_BYTES = 128 << 20  # one unpacked part of an xlsx zip (a sheet, the shared strings)
MAX_WORKBOOK_BYTES = 512 << 20  # all parts together
MAX_CELL = 1 << 20  # characters of one csv/tsv cell (the csv module's field limit)
MAX_LINE = 4 * MAX_CELL  # characters of one physical csv/tsv line
XLSX_MAX_CELL = 32_767  # Excel's maximum; a cell this long may have been cut to it, so it is refused
MAX_ROWS = 1_000_000
MAX_COLUMNS = 16_384  # Excel's own limit


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
    _places: dict[int, str] = field(default_factory=dict, repr=False, compare=False)  # provenance(): by column

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(line number, cells) for each non-empty data row.

        A cell holding control characters (other than tab and line breaks) cannot become a value: it is
        read as empty and a ``sheet-bad-character`` finding is added to :attr:`findings`.
        """
        source = (_xlsx_rows(self._source, self.sheet, self.header_line) if self._delimiter is None
                  else _text_rows(self._source, self._delimiter, self.header_line))  # fmt: skip
        try:
            for n, (line, cells) in enumerate(source, 1):
                if n > MAX_ROWS:
                    self.findings.append(issue("sheet-too-large", file=self.file, line=line,
                                               reason=f"more than {MAX_ROWS} rows; the rest is not read"))  # fmt: skip
                    return
                if len(cells) > MAX_COLUMNS:
                    if any(c is not None and str(c).strip() for c in cells[MAX_COLUMNS:]):
                        self.findings.append(issue("sheet-too-large", file=self.file, line=line,
                                                   column=MAX_COLUMNS + 1, reason=f"more than {MAX_COLUMNS} "
                                                   "columns; the cells beyond are not read"))  # fmt: skip
                    del cells[MAX_COLUMNS:]
                yield line, self._clean(line, cells)
        except csv.Error as exc:  # the csv module stops at a cell beyond its field limit (MAX_CELL)
            self.findings.append(issue("sheet-too-large", file=self.file, line=exc.args[1] if len(exc.args) > 1
                                       else None, reason=f"{exc.args[0]}; the rest is not read"))  # fmt: skip

    def _clean(self, line: int, cells: list[Any]) -> list[Any]:
        for i, cell in enumerate(cells):
            if not isinstance(cell, str):
                continue
            if self._delimiter is None and len(cell) >= XLSX_MAX_CELL:
                p = self.provenance(line, i + 1)
                self.findings.append(issue("sheet-cell-too-large", file=p.file, line=line, column=i + 1,
                                           path=p.path, found=len(cell), limit=XLSX_MAX_CELL))  # fmt: skip
                cells[i] = None
            elif CONTROL_RE.search(cell):
                p = self.provenance(line, i + 1)
                self.findings.append(issue("sheet-bad-character", file=p.file, line=line, column=i + 1, path=p.path))
                cells[i] = None
        return cells

    def provenance(self, line: int, column: int) -> Provenance:
        place = self._places.get(column)
        if place is None:  # one text per column, shared by its cells (ENHANCE's sheets: 67,000 of them)
            where = f"sheet '{self.sheet}', " if self.sheet else ""
            header = self.headers[column - 1] if column - 1 < len(self.headers) else ""
            place = self._places[column] = f"{where}column '{header}'"
        return Provenance(self.file, line, column, place)


def sheet_names(path: Path) -> list[str]:
    """The sheets of a workbook (a csv/tsv file has one, unnamed: ``[""]``)."""
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return [""]
    wb = _open_workbook(path, str(path))
    try:
        return list(wb.sheet_names)
    finally:
        _release(wb)


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
        ws = _worksheet(wb, sheet, display)
        name = ws.name
        headers = []
        for line, row in sheet_rows(ws, display):
            if line == header_row:
                headers = ["" if c is None else str(c).strip() for c in row[:MAX_COLUMNS]]
                break
        while headers and not headers[-1]:
            headers.pop()
    finally:
        _release(wb)
    return Table(display, name, headers, header_row, path)


# what a broken workbook raises: zip and deflate errors (from the zip check and the reading of a kept
# workbook's bytes), calamine's own errors (python_calamine.CalamineError, added when it is imported: see
# _calamine_errors) and its refusals of arguments it cannot read (ValueError, TypeError)
_XLSX_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    OSError,
    TypeError,
    EOFError,
    zlib.error,
    NotImplementedError,
)  # zipfile: an unsupported compression method or zip version


@cache
def _calamine_errors() -> tuple[type[BaseException], ...]:
    """:data:`_XLSX_ERRORS` and calamine's error class (whose import waits until a workbook is read)."""
    from python_calamine import CalamineError

    return (*_XLSX_ERRORS, CalamineError)


def _check_parts(source: Path | io.BytesIO, display: str) -> None:
    """Refuse a workbook whose parts unpack beyond the caps, are encrypted or declare a DTD, before calamine
    reads it. Every part is unpacked here once, streaming, by Python's zipfile, which stops at the size the
    zip declares and checks the CRC: a part that unpacks beyond its declared size is refused, where a
    reader trusting the deflate stream would unpack all of it."""
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > MAX_WORKBOOK_BYTES:
                raise SheetError(display, f"the workbook unpacks to {declared} bytes, more than "
                                 f"{MAX_WORKBOOK_BYTES}", code="sheet-too-large")  # fmt: skip
            for info in infos:
                if info.flag_bits & 0x1:  # zipfile would raise RuntimeError on reading it
                    raise SheetError(display, f"part {info.filename} is encrypted")
                if info.file_size > MAX_PART_BYTES:
                    raise SheetError(display, f"part {info.filename} unpacks to {info.file_size} bytes, more "
                                     f"than {MAX_PART_BYTES}", code="sheet-too-large")  # fmt: skip
                with zf.open(info) as part:
                    head = part.read(_PROLOG_BYTES)
                    if any(mark in head for mark in _DTD_MARKS):
                        raise SheetError(display, f"part {info.filename} declares a DTD (ECMA-376 Part 2, "
                                         "M1.18: an error in a package)")  # fmt: skip
                    while part.read(1 << 20):
                        pass
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except _XLSX_ERRORS as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None


# A DTD sits in a part's prolog, before its root element: its first 64 KiB (calamine expands no entity
# anyway; this check names the problem). The markers in UTF-8 and UTF-16, the encodings OPC allows.
_PROLOG_BYTES = 64 << 10
_DTD_MARKS = tuple("<!DOCTYPE".encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be"))


# Workbooks kept open inside :func:`workbooks_read_once`, by the identity of their file (path, size, mtime,
# inode); a context variable, so checks in two threads (or tasks) keep their own. A small one is parsed from
# its bytes, so no file is held open (on Windows that would stop Excel saving it); a template or clinical sheet
# is kilobytes. A larger workbook, or one opened outside that context, is read from its file each time and
# closed after use (:func:`_release`).
_Kept = dict[tuple[str, int, int, int], "CalamineWorkbook"]
_KEPT: ContextVar[_Kept | None] = ContextVar("isaprofile_workbooks", default=None)
_KEEP_BOOK_BYTES = 16 << 20


@contextmanager
def workbooks_read_once() -> Iterator[None]:
    """Inside this context, each (small) workbook is opened and parsed once, however many of its sheets and
    rows are read: a data-entry template's sheets are read one after another, a header and then the rows,
    and each open parsed the whole workbook again (11 opens of 12 ms in one preclinical check). What is
    read is the workbook as it was at its first open. Nested uses share the outermost one."""
    if _KEPT.get() is not None:
        yield
        return
    kept: _Kept = {}
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        for wb in kept.values():
            wb.close()


def _open_workbook(path: Path, display: str) -> CalamineWorkbook:
    source: Path | io.BytesIO = path
    key = None
    kept = _KEPT.get()
    try:
        if kept is not None:
            st = path.stat()
            key = (os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
            hit = kept.get(key)
            if hit is not None:
                return hit
            if st.st_size <= _KEEP_BOOK_BYTES:
                with path.open("rb") as fh:
                    data = fh.read(_KEEP_BOOK_BYTES + 1)
                if len(data) <= _KEEP_BOOK_BYTES:  # (not grown since)
                    source = io.BytesIO(data)
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except OSError as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None
    wb = _parse(source, display)
    if kept is not None and key is not None and isinstance(source, io.BytesIO):
        kept[key] = wb
    return wb


def _parse(source: Path | io.BytesIO, display: str) -> CalamineWorkbook:
    """A workbook from its file or bytes, read by calamine once its parts have passed :func:`_check_parts`."""
    from python_calamine import CalamineWorkbook

    _check_parts(source, display)
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        return CalamineWorkbook.from_object(source)
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except _calamine_errors() as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None


def _release(wb: CalamineWorkbook) -> None:
    """Done with a workbook of :func:`_open_workbook`: closed, unless :func:`workbooks_read_once` keeps it."""
    kept = _KEPT.get()
    if kept is None or all(wb is not k for k in kept.values()):
        wb.close()


def _worksheet(wb: CalamineWorkbook, sheet: str | None, display: str) -> CalamineSheet:
    """The sheet named ``sheet`` (the first when None), or the finding of a workbook without it."""
    if not wb.sheet_names:
        raise SheetError(display, "the workbook has no sheet")
    name = sheet if sheet is not None else wb.sheet_names[0]
    if name not in wb.sheet_names:
        raise SheetError(display, f"no sheet {name!r}", code="sheet-missing")
    try:
        return wb.get_sheet_by_name(name)
    except _calamine_errors() as exc:  # a chart sheet, a part that is not SpreadsheetML
        raise SheetError(display, f"not a readable xlsx worksheet ({type(exc).__name__})") from None


def sheet_rows(ws: CalamineSheet, display: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) for every row of a worksheet from row 1, empty rows included, each cell at its
    column (from A) and converted as the module docstring says. calamine's rows begin at row 1 but at the
    first column holding data, so cells are shifted right to their columns."""
    start = ws.start
    pad: list[Any] = [None] * (start[1] if start else 0)
    rows = ws.iter_rows()
    line = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except _calamine_errors() as exc:
            raise SheetError(display, f"not a readable xlsx worksheet ({type(exc).__name__})") from None
        line += 1
        yield line, [*pad, *map(_value, row)]


def _value(cell: Any) -> Any:
    """A calamine cell as openpyxl gives it: empty as None, a whole number as int."""
    if cell == "":
        return None
    if type(cell) is float and cell.is_integer() and abs(cell) < 2**53:
        return int(cell)
    return cell


def xlsx_sheet(data: bytes, sheet: str | None, display: str) -> tuple[str, list[list[Any]]]:
    """One worksheet of a workbook's bytes, whole (the first when ``sheet`` is None): its name and its rows
    from row 1, converted as the module docstring says (:func:`sheet_rows`)."""
    wb = _parse(io.BytesIO(data), display)
    try:
        ws = _worksheet(wb, sheet, display)
        return ws.name, [cells for _, cells in sheet_rows(ws, display)]
    finally:
        wb.close()


def _xlsx_rows(path: Path, sheet: str | None, header_row: int) -> Iterator[tuple[int, list[Any]]]:
    wb = _open_workbook(path, str(path))
    try:
        ws = _worksheet(wb, sheet, str(path))
        for line, cells in sheet_rows(ws, str(path)):
            if line > header_row and any(c is not None and str(c).strip() for c in cells):
                yield line, cells
    finally:
        _release(wb)


def _text_header(path: Path, delim: str, header_row: int, display: str) -> list[str]:
    csv.field_size_limit(MAX_CELL)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for line, row in enumerate(csv.reader(bounded_lines(fh, MAX_LINE), delimiter=delim), 1):
                if line == header_row:
                    return [c.strip() for c in row]
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except LineTooLong:
        raise SheetError(display, f"a line is longer than {MAX_LINE} characters", code="sheet-too-large") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SheetError(display, f"not UTF-8 text ({type(exc).__name__})") from None
    raise SheetError(display, "the file has no header row")


def _text_rows(path: Path, delim: str, header_row: int) -> Iterator[tuple[int, list[Any]]]:
    csv.field_size_limit(MAX_CELL)  # a longer cell stops the reader (csv.Error): never more in memory
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(bounded_lines(fh, MAX_LINE), delimiter=delim)
        try:
            for row in reader:
                line = reader.line_num
                if line <= header_row:
                    continue
                if any(c.strip() for c in row):
                    yield line, row
        except (csv.Error, LineTooLong) as exc:
            at = reader.line_num + (1 if isinstance(exc, LineTooLong) else 0)  # a too-long line is not yet counted
            raise csv.Error(f"a cell near line {at} is not readable ({exc})", at) from None
