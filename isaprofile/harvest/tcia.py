"""TCIA download metadata cross-checked against the DICOM headers.

A collection downloaded from The Cancer Imaging Archive carries two lists of what it holds:

- the NBIA ``metadata.csv`` (``manifest-<id>/<Collection>/metadata.csv``), one row per series with
  ``Series UID``, ``Study UID``, ``Study Description``, ``Study Date`` (``MM-DD-YYYY``), ``Subject ID``
  and ``File Location`` (``./<subject>/<study folder>/<series folder>``), among other columns;
- the ``.tcia`` manifest that the NBIA Data Retriever reads: ``key=value`` header lines, then
  ``ListOfSeriesToDownload=`` and one Series Instance UID per line.

:func:`check_tcia` compares both with the harvested series: a UID listed but not present, present but
not listed, or listed under a folder whose files carry a different UID, is a finding located at the
exact line (and column) of the list, or at the first file of the series. For a row that matches a
series, the study columns are checked against the headers (Study UID, Study Date, Study Description).
UIDs, dates and descriptions are identifying data under DICOM PS3.15, so messages never show them:
they name the column, the line and the file instead.
"""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from isaprofile.findings.issues import Report, issue
from isaprofile.harvest.types import HarvestedImage

MANIFEST_GLOB = "*.tcia"
METADATA_GLOBS = ("metadata.csv", "manifest-*/metadata.csv", "manifest-*/*/metadata.csv")
SERIES_LIST_KEY = "ListOfSeriesToDownload"
SERIES_UID, STUDY_UID, LOCATION = "Series UID", "Study UID", "File Location"
STUDY_DATE, STUDY_DESCRIPTION = "Study Date", "Study Description"
# metadata.csv column -> DICOM keyword it restates
STUDY_COLUMNS = {STUDY_UID: "StudyInstanceUID", STUDY_DATE: "StudyDate", STUDY_DESCRIPTION: "StudyDescription"}
_MAX_BYTES = 64 * 1024 * 1024  # a real metadata.csv of 20,000 series is a few MB


@dataclass
class ListedSeries:
    """A Series UID as one of the lists names it."""

    uid: str
    file: str
    line: int
    column: int | None = None
    location: str | None = None  # metadata.csv File Location, normalised (no ./, POSIX)
    cells: dict[str, tuple[str, int]] = field(default_factory=dict)  # column -> (value, column number)


def _tag(keyword: str) -> str:
    """``(gggg,eeee) Keyword``: pydicom's dictionary is imported only once a listing meets DICOM series."""
    from isaprofile.harvest.dicom_attrs import tag_path

    return tag_path(keyword)


def find_lists(root: Path) -> tuple[list[Path], list[Path]]:
    """The ``.tcia`` manifests and NBIA ``metadata.csv`` files of the dataset at ``root``."""
    manifests = sorted(p for p in root.glob(MANIFEST_GLOB) if p.is_file())
    metadata = sorted({p for g in METADATA_GLOBS for p in root.glob(g) if p.is_file()})
    return manifests, metadata


def _text(path: Path, rel: str, report: Report, code: str) -> str | None:
    try:
        if path.stat().st_size > _MAX_BYTES:
            report.add(issue(code, file=rel, reason=f"larger than {_MAX_BYTES // (1024 * 1024)} MiB"))
            return None
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        report.add(issue(code, file=rel, reason=type(exc).__name__))
        return None


def read_manifest(path: Path, rel: str, report: Report) -> list[ListedSeries] | None:
    """The series UIDs a ``.tcia`` manifest lists, each with its line; None when it cannot be read."""
    text = _text(path, rel, report, "tcia-manifest-unreadable")
    if text is None:
        return None
    lines = text.splitlines()
    start = next((n for n, ln in enumerate(lines) if ln.strip().split("=", 1)[0].strip() == SERIES_LIST_KEY), None)
    if start is None:
        report.add(issue("tcia-manifest-unreadable", file=rel, reason=f"no '{SERIES_LIST_KEY}=' line"))
        return None
    out = []
    for n in range(start + 1, len(lines)):
        uid = lines[n].strip()
        if uid:
            out.append(ListedSeries(uid, rel, n + 1))
    return out


def read_metadata(path: Path, rel: str, report: Report) -> list[ListedSeries] | None:
    """The rows of an NBIA ``metadata.csv``, each with its line; None when it cannot be read."""
    text = _text(path, rel, report, "tcia-metadata-unreadable")
    if text is None:
        return None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        report.add(issue("tcia-metadata-unreadable", file=rel, reason="empty file"))
        return None
    except csv.Error as exc:
        report.add(issue("tcia-metadata-unreadable", file=rel, reason=f"csv: {exc}"))
        return None
    columns = {name.strip(): i for i, name in enumerate(header)}
    if SERIES_UID not in columns:
        report.add(issue("tcia-metadata-unreadable", file=rel, reason=f"no '{SERIES_UID}' column"))
        return None
    out = []
    try:
        for row in reader:
            line = reader.line_num
            cells = {name: (row[i].strip(), i + 1) for name, i in columns.items() if i < len(row) and row[i].strip()}
            if SERIES_UID not in cells:
                continue
            uid, col = cells[SERIES_UID]
            loc = cells.get(LOCATION, ("", 0))[0].replace("\\", "/").removeprefix("./").rstrip("/") or None
            out.append(ListedSeries(uid, rel, line, col, loc, cells))
    except csv.Error as exc:
        report.add(issue("tcia-metadata-unreadable", file=rel, line=reader.line_num, reason=f"csv: {exc}"))
    return out


def _nbia_date(text: str) -> str | None:
    """``MM-DD-YYYY`` (NBIA) as DICOM ``YYYYMMDD``; None when it is not of that form."""
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or list(map(len, parts)) != [2, 2, 4]:
        return None
    month, day, year = parts
    return f"{year}{month}{day}"


def _same(column: str, listed: str, header: object) -> bool:
    if column == STUDY_DATE:
        return (_nbia_date(listed) or listed) == str(header)
    if column == STUDY_DESCRIPTION:
        return " ".join(listed.split()) == " ".join(str(header).split())
    return listed == str(header)


def check_tcia(root: Path, items: Iterable[HarvestedImage], report: Report) -> bool:
    """Cross-check the dataset's ``.tcia`` manifests and ``metadata.csv`` with the harvested series.

    Returns False (and does nothing) when the dataset has neither file.
    """
    manifests, metadata = find_lists(root)
    if not manifests and not metadata:
        return False
    series = [i for i in items if i.kind in ("dicom-series", "dicom-seg") and i.uid]
    by_uid: dict[str | None, HarvestedImage] = {i.uid: i for i in series}
    by_folder: dict[str | None, HarvestedImage] = {i.folder: i for i in series if i.folder}
    for path in manifests:
        rel = path.relative_to(root).as_posix()
        listed = read_manifest(path, rel, report)
        if listed is not None:
            _compare(listed, by_uid, by_folder, rel, report)
    for path in metadata:
        rel = path.relative_to(root).as_posix()
        rows = read_metadata(path, rel, report)
        if rows is not None:
            _compare(rows, by_uid, by_folder, rel, report)
            _check_studies(rows, by_uid, report)
    return True


def _compare(
    listed: list[ListedSeries],
    by_uid: dict[str | None, HarvestedImage],
    by_folder: dict[str | None, HarvestedImage],
    rel: str,
    report: Report,
) -> None:
    names = {s.uid for s in listed}
    accounted: set[str | None] = set()
    for entry in listed:
        if entry.uid in by_uid:
            item = by_uid[entry.uid]
            accounted.add(item.uid)
            if entry.location and item.folder and not _within(item.folder, entry.location):
                report.add(issue("tcia-location-mismatch", file=entry.file, line=entry.line,
                                 column=entry.cells.get(LOCATION, ("", None))[1], path=f"column '{LOCATION}'",
                                 series=item.path))  # fmt: skip
            continue
        other = by_folder.get(entry.location) if entry.location else None
        if other is not None and other.uid not in names:
            accounted.add(other.uid)
            report.add(issue("tcia-uid-mismatch", file=entry.file, line=entry.line, column=entry.column,
                             path=f"column '{SERIES_UID}'", series=other.path,
                             tag=_tag("SeriesInstanceUID")))  # fmt: skip
            continue
        report.add(issue("tcia-series-missing", file=entry.file, line=entry.line, column=entry.column,
                         path=f"column '{SERIES_UID}'" if entry.column else None))  # fmt: skip
    for uid, item in by_uid.items():
        if uid not in accounted:
            report.add(issue("tcia-series-unlisted", file=item.path, path=_tag("SeriesInstanceUID"), listing=rel))


def _within(folder: str, location: str) -> bool:
    return folder == location or posixpath.commonpath([folder, location]) == location


def _check_studies(rows: list[ListedSeries], by_uid: dict[str | None, HarvestedImage], report: Report) -> None:
    for row in rows:
        item = by_uid.get(row.uid)
        if item is None:
            continue
        for column, keyword in STUDY_COLUMNS.items():
            if column not in row.cells:
                continue
            listed, col = row.cells[column]
            header = item.values.get(keyword)
            if header is None:
                report.add(issue("tcia-study-mismatch", file=row.file, line=row.line, column=col,
                                 path=f"column '{column}'", field=column, series=item.path,
                                 tag=_tag(keyword), state="absent from"))  # fmt: skip
            elif not _same(column, listed, header.value):
                report.add(issue("tcia-study-mismatch", file=row.file, line=row.line, column=col,
                                 path=f"column '{column}'", field=column, series=item.path,
                                 tag=_tag(keyword), state="different in"))  # fmt: skip
