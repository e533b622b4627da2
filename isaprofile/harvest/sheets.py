"""Read the users' sheets (xlsx, csv, tsv) as tables whose cells remember their row and column.

xlsx is read with openpyxl in read-only mode (openpyxl uses defusedxml when it is installed, which
isaprofile requires, so XML bombs are refused); csv/tsv with the csv module. Rows stream: a sheet
is never held in memory as a whole by this module.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isaprofile.errors import IsaprofileError
from isaprofile.findings.issues import Issue, issue
from isaprofile.isatab.parse import LineTooLong, bounded_lines
from isaprofile.model import CONTROL_RE, Provenance

if TYPE_CHECKING:  # openpyxl is imported only when a workbook is read
    from openpyxl import Workbook


MAX_PART_BYTES = 128 << 20  # one unpacked part of an xlsx zip (a sheet, the shared strings)
MAX_WORKBOOK_BYTES = 512 << 20  # all parts together
MAX_CELL = 1 << 20  # characters of one csv/tsv cell (the csv module's field limit)
MAX_LINE = 4 * MAX_CELL  # characters of one physical csv/tsv line
XLSX_MAX_CELL = 32_767  # Excel's maximum; openpyxl silently cuts longer text to it, so a cell this long is refused
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
        if not wb.sheetnames:
            raise SheetError(display, "the workbook has no sheet")
        name = sheet if sheet is not None else wb.sheetnames[0]
        if name not in wb.sheetnames:
            raise SheetError(display, f"no sheet {name!r}", code="sheet-missing")
        ws = wb[name]
        headers = []
        try:
            for row in ws.iter_rows(min_row=header_row, max_row=header_row, values_only=True):
                headers = ["" if c is None else str(c).strip() for c in row[:MAX_COLUMNS]]
        except _XLSX_ERRORS as exc:
            raise SheetError(display, f"not a readable xlsx worksheet ({type(exc).__name__})") from None
        while headers and not headers[-1]:
            headers.pop()
    finally:
        _release(wb)
    return Table(display, name, headers, header_row, path)


# what openpyxl raises for a broken workbook: zip, deflate and XML errors (lxml's and expat's XML errors, and
# defusedxml's refusals of entities, are SyntaxError / ValueError subclasses)
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    OSError,
    TypeError,
    SyntaxError,
    EOFError,
    zlib.error,
    NotImplementedError,
)  # zipfile: an unsupported compression method or zip version


def _check_parts(source: Path | io.BytesIO, display: str) -> None:
    """Refuse a workbook whose zip declares parts that unpack beyond the caps (before any is parsed)."""
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except _XLSX_ERRORS as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None
    for info in infos:
        if info.flag_bits & 0x1:  # zipfile would raise RuntimeError on reading it
            raise SheetError(display, f"part {info.filename} is encrypted")
        if info.file_size > MAX_PART_BYTES:
            raise SheetError(display, f"part {info.filename} unpacks to {info.file_size} bytes, more than "
                             f"{MAX_PART_BYTES}", code="sheet-too-large")  # fmt: skip
    total = sum(i.file_size for i in infos)
    if total > MAX_WORKBOOK_BYTES:
        raise SheetError(display, f"the workbook unpacks to {total} bytes, more than {MAX_WORKBOOK_BYTES}",
                         code="sheet-too-large")  # fmt: skip


# Workbooks kept open inside :func:`workbooks_read_once`, by the identity of their file (path, size, mtime,
# inode); a context variable, so checks in two threads (or tasks) keep their own. A small one is parsed from
# its bytes, so no file is held open (on Windows that would stop Excel saving it); a template or clinical sheet
# is kilobytes. A larger workbook, or one opened outside that context, is read from its file each time and
# closed after use (:func:`_release`).
_KEPT: ContextVar[dict[tuple[str, int, int, int], Workbook] | None] = ContextVar("isaprofile_workbooks", default=None)
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
    kept: dict[tuple[str, int, int, int], Workbook] = {}
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        for wb in kept.values():
            wb.close()


def _open_workbook(path: Path, display: str) -> Workbook:
    import openpyxl

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
    _check_parts(source, display)
    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SheetError(display, "file not found") from None
    except _XLSX_ERRORS as exc:
        raise SheetError(display, f"not a readable xlsx workbook ({type(exc).__name__})") from None
    if kept is not None and key is not None and isinstance(source, io.BytesIO):
        kept[key] = wb
    return wb


def _release(wb: Workbook) -> None:
    """Done with a workbook of :func:`_open_workbook`: closed, unless :func:`workbooks_read_once` keeps it."""
    kept = _KEPT.get()
    if kept is None or all(wb is not k for k in kept.values()):
        wb.close()


def _xlsx_rows(path: Path, sheet: str | None, header_row: int) -> Iterator[tuple[int, list[Any]]]:
    wb = _open_workbook(path, str(path))
    try:
        if not wb.sheetnames or (sheet and sheet not in wb.sheetnames):
            raise SheetError(str(path), "the workbook has no such sheet", code="sheet-missing")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), header_row + 1)
        while True:
            try:
                line, row = next(rows)
            except StopIteration:
                return
            except _XLSX_ERRORS as exc:
                raise SheetError(str(path), f"not a readable xlsx worksheet ({type(exc).__name__})") from None
            cells = list(row)
            if any(c is not None and str(c).strip() for c in cells):
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
