"""Reproducible zips of a bag, and a safe zip reader.

Public API::

    zip_date_time() -> tuple                      1980-01-01 00:00, or SOURCE_DATE_EPOCH (UTC)
    write_zip(folder, out, *, root, date_time=None, durable=True) -> None
    ZipLimits(max_total_bytes, max_ratio, max_entries)
    SafeZip(path, limits=None)                    .report, .members, .open(name), .close()

:func:`write_zip` gives the same bytes whatever the time zone, umask or directory order: sorted
entries, a fixed timestamp, fixed permissions (0644 files, 0755 folders), UNIX as the creator
system, deflate level 6 (stored for already-compressed formats), no extra fields.

:class:`SafeZip` never extracts to disk. It lists the members it will serve and reports, as
findings in :attr:`SafeZip.report`, every member it refuses: zip-slip names (``..``, absolute,
backslash, drive letter), symbolic links and devices, duplicates and names colliding after case
folding / NFC, encrypted members, overlapping members, and sizes beyond the caps (zip bombs).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isaprofile.bagit import _io
from isaprofile.bagit.errors import UnsafeZipError
from isaprofile.bagit.paths import check_paths, path_problem
from isaprofile.findings.issues import Report, issue

STORED_SUFFIXES = (".gz", ".zip", ".png", ".jpg", ".jpeg", ".bz2", ".xz", ".zst", ".7z", ".tgz", ".mp4")
LEVEL = 6
EPOCH_1980 = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20


def zip_date_time() -> tuple[int, int, int, int, int, int]:
    """The timestamp of every entry: ``SOURCE_DATE_EPOCH`` in UTC (not before 1980), else 1980-01-01."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch.isdigit():
        return EPOCH_1980
    when = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    if when.year < 1980:
        return EPOCH_1980
    return (when.year, when.month, when.day, when.hour, when.minute, when.second - when.second % 2)


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(relative posix path, path)`` of every regular file below ``folder``, sorted by path."""
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            found.append((path.relative_to(folder).as_posix(), path))
    yield from sorted(found)


def declared_entries(path: str | os.PathLike[str]) -> int | None:
    """The entry count a zip's end of central directory record declares (zip64 aware), read from the
    file's last 64 KiB without parsing the central directory; None when no record is found.

    :class:`zipfile.ZipFile` builds a :class:`~zipfile.ZipInfo` for every entry when it opens a file
    (about 5 KB of memory and 0.1 ms each), so the cap is checked on this number first.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        start = max(0, size - (22 + 0xFFFF))
        fh.seek(start)
        tail = fh.read()
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or len(tail) - pos < 22:
            return None
        count = int.from_bytes(tail[pos + 10 : pos + 12], "little")
        if count != 0xFFFF or pos < 20 or tail[pos - 20 : pos - 16] != b"PK\x06\x07":
            return count
        offset = int.from_bytes(tail[pos - 12 : pos - 4], "little")  # of the zip64 end of central directory
        if offset + 56 > size:
            return count
        fh.seek(offset)
        record = fh.read(56)
        if record[:4] != b"PK\x06\x06":
            return count
        return int.from_bytes(record[32:40], "little")


def _info(name: str, date_time: tuple[int, ...], *, directory: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)  # type: ignore[arg-type]
    info.create_system = 3
    if directory:
        info.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        stored = name.lower().endswith(STORED_SUFFIXES)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        # the attribute is ``_compresslevel`` before Python 3.13 and ``compress_level`` after
        attr = "compress_level" if hasattr(info, "compress_level") else "_compresslevel"
        setattr(info, attr, None if stored else LEVEL)
    return info


def write_zip(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    root: str,
    date_time: tuple[int, int, int, int, int, int] | None = None,
    durable: bool = True,
) -> None:
    """Zip every file below ``folder`` into the new file ``out``, under the top folder ``root``.

    Writes go through :mod:`isaprofile.bagit._io` (fsynced when ``durable``); the caller
    renames ``out`` into place.
    """
    folder = Path(folder)
    stamp = date_time or zip_date_time()
    entries = list(_files(folder))
    dirs = {f"{root}/"}
    for rel, _ in entries:
        parts = rel.split("/")[:-1]
        dirs.update(f"{root}/{'/'.join(parts[:i])}/" for i in range(1, len(parts) + 1))
    for dirpath, _, _ in os.walk(folder):  # empty folders too: a bag's data/ must exist even when empty
        rel = Path(dirpath).relative_to(folder).as_posix()
        if rel != ".":
            dirs.add(f"{root}/{rel}/")
    with _io.FdWriter(out, durable=durable) as raw:
        with zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
            names = [(d, None) for d in dirs] + [(f"{root}/{rel}", path) for rel, path in entries]
            for name, path in sorted(names, key=lambda item: item[0]):
                if path is None:
                    zf.writestr(_info(name, stamp, directory=True), b"")
                    continue
                info = _info(name, stamp)
                info.file_size = path.stat().st_size
                with open(path, "rb") as src, zf.open(info, "w", force_zip64=info.file_size > 2**31) as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Caps against zip bombs: total declared uncompressed bytes, per-member compression ratio
    (deflate cannot exceed about 1032:1, so the default only stops other tricks) and entry count."""

    max_total_bytes: int = 1 << 40
    max_ratio: float = 1100.0
    max_entries: int = 200_000
    ratio_floor: int = 1 << 20  # members smaller than this are never refused for their ratio


class SafeZip:
    """A zip opened for reading with every member checked before any is served.

    ``members`` maps the safe member names (files only, without their trailing folder entries) to
    their :class:`zipfile.ZipInfo`; ``report`` holds a finding for every refused member. A file
    that is not a readable zip raises :class:`UnsafeZipError`.
    """

    def __init__(self, path: str | os.PathLike[str], limits: ZipLimits | None = None) -> None:
        self.path = str(path)
        self.limits = limits or ZipLimits()
        self.report = Report()
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.directories: list[zipfile.ZipInfo] = []  # the safe folder entries (a bag's data/ may be empty)
        self._zf: zipfile.ZipFile | None = None
        try:
            declared = declared_entries(self.path)
        except OSError as exc:
            raise UnsafeZipError(self.path, reason=str(exc) or type(exc).__name__) from None
        if declared is not None and declared > self.limits.max_entries:
            # refused before zipfile reads the central directory: its cost grows with the entry count
            self._refuse("zip-bomb", "", f"{declared} entries, more than {self.limits.max_entries}")
            return
        try:
            self._zf = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise UnsafeZipError(self.path, reason=str(exc) or type(exc).__name__) from None
        try:
            self._check()
        except BaseException:
            self._zf.close()
            raise

    def _refuse(self, code: str, name: str, reason: str) -> None:
        self.report.add(issue(code, file=self.path, path=name, reason=reason))

    def _check(self) -> None:
        if self._zf is None:
            return
        infos = self._zf.infolist()
        if len(infos) > self.limits.max_entries:
            self._refuse("zip-bomb", "", f"{len(infos)} entries, more than {self.limits.max_entries}")
            return
        total = sum(i.file_size for i in infos)
        if total > self.limits.max_total_bytes:
            self._refuse("zip-bomb", "", f"{total} bytes unpacked, more than {self.limits.max_total_bytes}")
            return
        bad = self._overlapping(infos)
        candidates: dict[str, zipfile.ZipInfo] = {}
        counts: dict[str, int] = {}
        for info in infos:
            counts[info.filename] = counts.get(info.filename, 0) + 1
        for info in infos:
            name = info.filename
            reason = self._member_problem(info)
            if reason:
                self._refuse("unsafe-path", name, reason)
            elif counts[name] > 1:
                if name not in candidates:
                    self._refuse("zip-invalid", name, f"{name} appears {counts[name]} times")
                candidates[name] = info
            elif info.filename in bad:
                self._refuse("zip-bomb", name, "its data overlaps another member")
            elif info.file_size > self.limits.ratio_floor and (
                info.file_size > self.limits.max_ratio * max(info.compress_size, 1)
            ):
                self._refuse("zip-bomb", name, f"compression ratio beyond {self.limits.max_ratio:g}:1")
            elif info.flag_bits & 0x1:
                self._refuse("zip-invalid", name, "encrypted member")
            elif info.is_dir():
                self.directories.append(info)
            else:
                candidates[name] = info
        collisions = check_paths((n for n in candidates if counts[n] == 1), file=self.path, unportable=None)
        refused = {i.path for i in collisions}
        self.report.merge(collisions)
        self.members = {n: i for n, i in sorted(candidates.items()) if counts[n] == 1 and n not in refused}

    @staticmethod
    def _member_problem(info: zipfile.ZipInfo) -> str | None:
        name = info.filename
        reason = path_problem(name[:-1] if info.is_dir() else name)
        if reason:
            return reason
        if info.create_system == 3:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                return "symbolic link"
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                return "device, FIFO or socket entry"
        return None

    @staticmethod
    def _overlapping(infos: list[zipfile.ZipInfo]) -> set[str]:
        spans = sorted(
            (i.header_offset, i.header_offset + 30 + len(i.filename.encode()) + i.compress_size, i.filename)
            for i in infos
        )
        bad: set[str] = set()
        for (_, end, name), (start, _, other) in zip(spans, spans[1:], strict=False):
            if end > start:
                bad.update((name, other))
        return bad

    def open(self, name: str) -> IO[bytes]:
        """A stream of one safe member's bytes (CRC checked by :mod:`zipfile` at its end)."""
        if self._zf is None:
            raise KeyError(name)
        return self._zf.open(self.members[name])

    def close(self) -> None:
        if self._zf is not None:
            self._zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
