"""Low-level ISA-Tab parsing that keeps the file, line and column of every cell.

Files are read as UTF-8 (a BOM and CRLF line ends are accepted with a warning). Quoted cells may hold
tabs, newlines and doubled quotes. Table rows are streamed; only the investigation file is read whole.

Reading is bounded: a cell longer than :data:`MAX_CELL` characters (or a physical line longer than
:data:`MAX_LINE`, which the csv module would otherwise be handed whole), a row of more than
:data:`MAX_COLUMNS` cells or a file of more than :data:`MAX_ROWS` rows stops the reading of that file with
a finding (``isatab-cell-too-large``, ``isatab-too-many-columns``, ``isatab-too-many-rows``).

A cell that starts with a single quote followed by ``= + - @``, a tab, a CR or another single quote is
read without that first quote: it is how :mod:`isaprofile.isatab.write` neutralises cells a spreadsheet
would run as formulas (:func:`restore_cell` undoes :func:`neutralise_cell`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from isaprofile.findings.issues import Report, issue
from isaprofile.model import Location

MAX_CELL = 1 << 20  # characters of one cell (csv's default, 128 KiB, is too small for long free-text comments)
MAX_COLUMNS = 10_000
MAX_LINE = 16 << 20  # characters of one physical line (the csv module is handed whole lines)
MAX_ROWS = 1_000_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def neutralise_cell(cell: str) -> str:
    """``cell`` as it is written to a table a spreadsheet may open: a cell a spreadsheet would read as a
    formula (it starts with ``= + - @``, tab or CR and is not a plain number such as ``-1.5``) gets a
    leading single quote, and so does a cell that already starts with a quote followed by one of those
    characters or a quote (so :func:`restore_cell` gives back every cell exactly)."""
    if not cell:
        return cell
    if cell[0] in FORMULA_START and not _NUMBER.match(cell):
        return "'" + cell
    if cell[0] == "'" and len(cell) > 1 and (cell[1] in FORMULA_START or cell[1] == "'"):
        return "'" + cell
    return cell


class LineTooLong(ValueError):
    """A physical line longer than the limit given to :func:`bounded_lines`."""


def bounded_lines(fh: TextIO, limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of ``fh``, each read with at most ``limit + 1`` characters; a longer one raises
    :class:`LineTooLong` (a file iterator would read a line of any length into memory)."""
    while line := fh.readline(limit + 1):
        if len(line) > limit:
            raise LineTooLong(f"a line is longer than {limit} characters")
        yield line


def generated_rows(data: bytes | Path, *, share: bool | int = True) -> Iterator[list[str]]:
    """The rows of a table this library wrote (tab-separated UTF-8, as bytes or a file), decoded as they are
    read: a table of 200,000 rows is never held as one text. With ``share``, cells that repeat are one string
    object, so the rows a caller keeps cost little more than their distinct cells. A caller that keeps no row
    passes a number instead: the most distinct cells remembered (the table is emptied when full), so memory
    stays bounded while repeated cells still come as one object, whose hash Python computes once (the data
    package's column sets: 7 times faster on ENHANCE's assay table). ``False``: no sharing."""
    size = data.stat().st_size if isinstance(data, Path) else len(data)
    csv.field_size_limit(max(csv.field_size_limit(), size + 1))  # our own table: no cell limit
    cells: dict[str, str] = {}
    most = None if share is True else share
    raw = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    with io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        if share is False:
            yield from csv.reader(text, delimiter="\t")
            return
        for row in csv.reader(text, delimiter="\t"):
            if most is not None and len(cells) > most:
                cells.clear()
            yield [cells.setdefault(c, c) for c in row]


def restore_cell(cell: str) -> str:
    """The original of a cell written by :func:`neutralise_cell`."""
    if len(cell) > 1 and cell[0] == "'" and (cell[1] in FORMULA_START or cell[1] == "'"):
        return cell[1:]
    return cell


NODE_HEADERS = {
    "Source Name", "Sample Name", "Extract Name", "Labeled Extract Name", "Assay Name", "Hybridization Assay Name",
    "Scan Name", "Normalization Name", "Data Transformation Name", "MS Assay Name", "NMR Assay Name",
    "Gel Electrophoresis Assay Name",
}  # fmt: skip
FILE_HEADERS = {
    "Raw Data File", "Derived Data File", "Image File", "Array Data File", "Derived Array Data File",
    "Array Data Matrix File", "Derived Array Data Matrix File", "Raw Spectral Data File", "Derived Spectral Data File",
    "Array Design File", "Acquisition Parameter Data File", "Free Induction Decay Data File",
    "Metabolite Assignment File", "Peptide Assignment File", "Protein Assignment File",
    "Post Translational Modification Assignment File", "Spot Picking File",
}  # fmt: skip
PLAIN_HEADERS = {"Protocol REF", "Material Type", "Label", "Date", "Performer", "Array Design REF",
                 "Term Source REF", "Term Accession Number", "Unit", "Description"}  # fmt: skip
_BRACKET = re.compile(r"^(Characteristics|Factor Value|Parameter Value|Comment)\s*\[(.*)\]$")


@dataclass(frozen=True, slots=True)
class Cell:
    value: str
    line: int
    column: int


@dataclass
class TextFile:
    """An open ISA-Tab text file that reports BOM, CRLF and encoding problems into ``report``."""

    path: Path
    display: str
    report: Report
    bom: bool = False
    crlf: bool = False

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(first line of the row, cells). Stops with a finding on bad encoding or quoting."""
        try:
            with self.path.open("rb") as raw:
                head = raw.read(4096)
        except OSError as exc:
            self.report.add(issue("isatab-unreadable", file=self.display, reason=exc.strerror or type(exc).__name__))
            return
        self.bom = head.startswith(b"\xef\xbb\xbf")
        self.crlf = b"\r\n" in head
        if self.bom:
            self.report.add(issue("isatab-bom", file=self.display, line=1, column=1))
        if self.crlf:
            self.report.add(issue("isatab-crlf", file=self.display, line=1))
        line = 1
        csv.field_size_limit(MAX_CELL)  # the csv module stops at a longer cell: never more in memory
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(bounded_lines(fh), delimiter="\t", quotechar='"', strict=True)
                for n, row in enumerate(reader, 1):
                    if n > MAX_ROWS:
                        self.report.add(issue("isatab-too-many-rows", file=self.display, line=line, limit=MAX_ROWS))
                        return
                    if len(row) > MAX_COLUMNS:
                        self.report.add(issue("isatab-too-many-columns", file=self.display, line=line,
                                              column=MAX_COLUMNS + 1, found=len(row), limit=MAX_COLUMNS))  # fmt: skip
                        return
                    yield line, [restore_cell(c.rstrip("\r")) for c in row]
                    line = reader.line_num + 1
        except UnicodeDecodeError:
            self.report.add(issue("isatab-encoding", file=self.display, line=_bad_utf8_line(self.path)))
        except LineTooLong:
            self.report.add(issue("isatab-cell-too-large", file=self.display, line=line, limit=MAX_CELL))
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                self.report.add(issue("isatab-cell-too-large", file=self.display, line=line, limit=MAX_CELL))
            else:
                self.report.add(issue("isatab-bad-quote", file=self.display, line=line, reason=str(exc)))


def _bad_utf8_line(path: Path) -> int | None:
    """The first line of ``path`` that is not UTF-8 (text is decoded in chunks, so the error has no line)."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return n
    return None


def classify(header: str) -> tuple[str, str | None]:
    """The kind of a table header and its bracketed name: ``("characteristic", "sex")``, ``("node", None)``."""
    h = header.strip()
    m = _BRACKET.match(h)
    if m:
        kind = {"Characteristics": "characteristic", "Factor Value": "factor", "Parameter Value": "parameter",
                "Comment": "comment"}[m.group(1)]  # fmt: skip
        return kind, m.group(2).strip()
    if h in NODE_HEADERS:
        return "node", None
    if h in FILE_HEADERS:
        return "file", None
    if h == "Protocol REF":
        return "protocol", None
    if h == "Unit":
        return "unit", None
    if h == "Term Source REF":
        return "tsr", None
    if h == "Term Accession Number":
        return "tan", None
    if h in PLAIN_HEADERS:
        return "plain", None
    return "unknown", None


@dataclass
class Section:
    name: str
    line: int
    rows: dict[str, list[Cell]] = field(default_factory=dict)
    label_lines: dict[str, int] = field(default_factory=dict)

    def values(self, label: str) -> list[Cell]:
        return self.rows.get(label, [])

    def first(self, label: str) -> str:
        cells = self.rows.get(label) or []
        return cells[0].value if cells else ""


SECTIONS = (
    "ONTOLOGY SOURCE REFERENCE", "INVESTIGATION", "INVESTIGATION PUBLICATIONS", "INVESTIGATION CONTACTS", "STUDY",
    "STUDY DESIGN DESCRIPTORS", "STUDY PUBLICATIONS", "STUDY FACTORS", "STUDY ASSAYS", "STUDY PROTOCOLS",
    "STUDY CONTACTS",
)  # fmt: skip
_LABEL_PREFIX = {
    "ONTOLOGY SOURCE REFERENCE": "Term Source", "INVESTIGATION": "Investigation",
    "INVESTIGATION PUBLICATIONS": "Investigation", "INVESTIGATION CONTACTS": "Investigation Person",
    "STUDY": "Study", "STUDY DESIGN DESCRIPTORS": "Study Design", "STUDY PUBLICATIONS": "Study",
    "STUDY FACTORS": "Study Factor", "STUDY ASSAYS": "Study Assay", "STUDY PROTOCOLS": "Study Protocol",
    "STUDY CONTACTS": "Study Person",
}  # fmt: skip


@dataclass
class InvestigationDoc:
    """The investigation file: the top sections and one list of sections per STUDY block."""

    file: str
    top: dict[str, Section] = field(default_factory=dict)
    studies: list[dict[str, Section]] = field(default_factory=list)


def parse_investigation(path: Path, display: str, report: Report) -> InvestigationDoc:
    doc = InvestigationDoc(display)
    current: Section | None = None
    for line, cells in TextFile(path, display, report).rows():
        if not cells or not any(c.strip() for c in cells):
            continue
        label = cells[0].strip()
        if label.startswith("#"):
            continue
        if label in SECTIONS and not any(c.strip() for c in cells[1:]):
            current = Section(label, line)
            if label == "STUDY":
                doc.studies.append({label: current})
            elif label.startswith("STUDY "):
                if not doc.studies:
                    report.add(issue("isatab-section-order", file=display, line=line, column=1, label=label))
                    doc.studies.append({})
                doc.studies[-1][label] = current
            else:
                doc.top[label] = current
            continue
        if current is None:
            report.add(issue("isatab-section-order", file=display, line=line, column=1, label=label))
            continue
        values = list(cells[1:])
        while values and not values[-1].strip():
            values.pop()
        if not (label.startswith("Comment[") or label.startswith(_LABEL_PREFIX[current.name])):
            report.add(issue("isatab-unknown-section", file=display, line=line, column=1, label=label))
        current.rows[label] = [Cell(v.strip(), line, i + 2) for i, v in enumerate(values)]
        current.label_lines[label] = line
    for name in ("ONTOLOGY SOURCE REFERENCE", "INVESTIGATION"):
        if name not in doc.top:
            report.add(issue("isatab-missing-section", file=display, section=name))
    if not doc.studies:
        report.add(issue("isatab-missing-section", file=display, section="STUDY"))
    return doc


@dataclass
class TableDoc:
    """A study or assay table: its classified header and a stream of rows checked for raggedness."""

    path: Path
    display: str
    headers: list[str]
    kinds: list[tuple[str, str | None]]
    source: TextFile
    _rows: Iterator[tuple[int, list[str]]]

    def rows(self, report: Report) -> Iterator[tuple[int, list[str]]]:
        n = len(self.headers)
        empty = True
        for line, cells in self._rows:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > n and any(c.strip() for c in cells[n:]):
                report.add(issue("isatab-ragged-row", file=self.display, line=line, column=n + 1,
                                 found=len(cells), expected=n))  # fmt: skip
            elif len(cells) < n:
                report.add(issue("isatab-ragged-row", file=self.display, line=line, column=len(cells) + 1,
                                 found=len(cells), expected=n))  # fmt: skip
                cells = cells + [""] * (n - len(cells))
            empty = False
            yield line, [c.strip() for c in cells[:n]]
        if empty:
            report.add(issue("isatab-empty-table", file=self.display, line=1))


def open_table(path: Path, display: str, report: Report) -> TableDoc | None:
    """Open a table and check its header; ``None`` when it cannot be read."""
    text = TextFile(path, display, report)
    rows = text.rows()
    first = next(rows, None)
    if first is None:
        return None
    headers = list(first[1])
    while headers and not headers[-1].strip():
        headers.pop()
    headers = [h.strip() for h in headers]
    kinds = [classify(h) for h in headers]
    prev = None
    for col, (h, (kind, _name)) in enumerate(zip(headers, kinds, strict=True), 1):
        loc: Location = {"file": display, "line": first[0], "column": col, "path": h}
        if kind == "unknown":
            report.add(issue("isatab-unknown-header", header=h, **loc))
        elif kind == "unit" and prev not in ("characteristic", "factor", "parameter"):
            report.add(issue("isatab-misplaced-column", header=h, expected="a Characteristics, Factor Value or "
                             "Parameter Value column", **loc))  # fmt: skip
        elif kind == "tsr" and prev in ("node", "file", "protocol", "tsr", "tan", "comment", None):
            report.add(issue("isatab-misplaced-column", header=h, expected="an annotated value or Unit column", **loc))
        elif kind == "tan" and prev != "tsr":
            report.add(issue("isatab-misplaced-column", header=h, expected="Term Source REF", **loc))
        prev = kind
    return TableDoc(path, display, headers, kinds, text, rows)
