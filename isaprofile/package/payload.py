"""Which files may enter a deposit: only those the gates can check, or that the user listed with a reason.

Public API::

    select_payload(root, referenced, *, include=(), checked=()) -> tuple[dict[str, str], Report]
    include_entries(config_section) -> tuple[list[IncludeEntry], Report]    the ``package: include:`` list
    sniff_dicom(path) -> bool        DICOM by content: Part 10 preamble, or a bare dataset that parses
    sniff_nifti(path) -> bool        NIfTI-1/2 by content (header size field; gzip stream for .nii.gz)
    hidden_reason(name) -> str | None   why a file name is a hidden file or an editor / OS leftover

Config (read by the pipeline from ``isaprofile.yaml``)::

    package:
      include:
        - {path: docs/protocol.pdf, reason: "acquisition protocol, reviewed for identifiers"}
        - {path: "mri/*/notes_*.txt", reason: "scanner operator notes, reviewed"}

``path`` is a dataset-relative path or a glob (``*``, ``?``, ``[...]``, matched with ``fnmatch`` against the
whole ``/``-separated path); ``reason`` is mandatory. A listed file that exists is deposited even when no
scan references it.

Symbolic links: a link (to a file or a folder, at any depth) whose target stays inside the dataset is
followed and the file is deposited under the link's path, copied from its target; a link that leads
outside the dataset, or that cannot be resolved, is refused. Hard links: a file whose link count is higher
than the number of its names inside the dataset has a name elsewhere and is refused.
"""

from __future__ import annotations

import fnmatch
import gzip
import itertools
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isaprofile.bagit.paths import Sources
from isaprofile.findings.issues import Report, issue
from isaprofile.harvest.pixels import dicom_read_errors

_LEFTOVER_NAMES = {"thumbs.db": "Windows thumbnail cache", "desktop.ini": "Windows folder settings",
                   "ehthumbs.db": "Windows thumbnail cache", "icon\r": "macOS folder icon"}  # fmt: skip
_LEFTOVER_SUFFIXES = {
    "~": "editor backup", ".swp": "vim swap file", ".swo": "vim swap file", ".swx": "vim swap file",
    ".bak": "backup copy", ".tmp": "temporary file", ".part": "incomplete download",
    ".crdownload": "incomplete download", ".orig": "merge leftover", ".rej": "patch leftover",
}  # fmt: skip
_SUFFIXES = tuple(_LEFTOVER_SUFFIXES)


def hidden_reason(name: str) -> str | None:
    """Why the file or folder ``name`` is a hidden file or an editor / OS leftover, or None."""
    low = name.lower()
    if low.startswith(".~lock.") and low.endswith("#"):
        return "LibreOffice lock file"
    if low.startswith("~$"):
        return "Microsoft Office lock file"
    if low == ".ds_store":
        return "macOS folder metadata"
    if low.startswith("._"):
        return "macOS resource fork"
    if low in ("__macosx", ".trashes", ".spotlight-v100", ".fseventsd"):
        return "macOS metadata folder"
    if low.startswith("."):
        return "hidden file"
    if low.startswith("#") and low.endswith("#"):
        return "Emacs auto-save file"
    if low in _LEFTOVER_NAMES:
        return _LEFTOVER_NAMES[low]
    if low.endswith(_SUFFIXES):  # one test for the common case, a name that is none of them
        return next(why for suffix, why in _LEFTOVER_SUFFIXES.items() if low.endswith(suffix))
    return None


_DICOM_FIRST_GROUPS = (0x0002, 0x0008)
_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF",
        b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN",
        b"UR", b"US", b"UT", b"UV"}  # fmt: skip


def sniff_dicom(path: str | os.PathLike[str]) -> bool:
    """DICOM by content: ``DICM`` at byte 128 (Part 10), or — without a preamble — a first element in
    group 0002 or 0008 (either byte order, explicit or implicit VR) from which pydicom parses a dataset."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    plausible = False
    for endian in "<>":
        group, elem = struct.unpack(f"{endian}HH", head[:4])
        if group in _DICOM_FIRST_GROUPS and elem <= 0x0100:
            explicit = head[4:6] in _VRS
            (implicit_len,) = struct.unpack(f"{endian}L", head[4:8])
            plausible = plausible or explicit or implicit_len < 1 << 16
    if not plausible:
        return False
    import pydicom

    try:
        with warnings.catch_warnings():  # a sniff of unknown bytes: pydicom's warnings say nothing useful
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=True, defer_size=1024)
        return len(ds) > 0 and any(int(t) >> 16 in _DICOM_FIRST_GROUPS or int(t) >> 16 == 0x0010 for t in ds.keys())
    except dicom_read_errors():
        return False


def sniff_nifti(path: str | os.PathLike[str]) -> bool:
    """NIfTI by content: ``sizeof_hdr`` (348 for NIfTI-1, 540 for NIfTI-2, either byte order) in the first
    four bytes of the file, or of the decompressed stream for a gzip file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if head[:2] == b"\x1f\x8b":
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    head = gz.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    if len(head) < 4:
        return False
    return any(struct.unpack(f"{e}i", head)[0] in (348, 540) for e in "<>")


@dataclass(frozen=True, slots=True)
class IncludeEntry:
    """One ``package: include:`` entry: a dataset-relative path or glob and the reason it is deposited."""

    path: str
    reason: str

    def matches(self, rel: str) -> bool:
        return rel == self.path or fnmatch.fnmatchcase(rel, self.path)


def include_entries(section: Any, file: str = "isaprofile.yaml") -> tuple[list[IncludeEntry], Report]:
    """The ``include`` list of the config's ``package:`` section (``section`` is that mapping or None);
    entries without a path or a reason are ``payload-include-invalid`` errors."""
    report = Report()
    out: list[IncludeEntry] = []
    items = (section or {}).get("include", []) if isinstance(section, Mapping) else None
    if not isinstance(items, list):
        report.add(issue("payload-include-invalid", file=file, path="package.include", reason="not a list"))
        return out, report
    for i, item in enumerate(items):
        where = f"package.include[{i}]"
        if not isinstance(item, Mapping):
            report.add(issue("payload-include-invalid", file=file, path=where, reason="not a {path, reason} mapping"))
            continue
        path, reason = item.get("path"), item.get("reason")
        if not isinstance(path, str) or not path.strip() or os.path.isabs(path) or ".." in path.split("/"):
            report.add(issue("payload-include-invalid", file=file, path=where, reason="path must be dataset-relative"))
        elif not isinstance(reason, str) or not reason.strip():
            report.add(issue("payload-include-invalid", file=file, path=where, reason="a reason is required"))
        else:
            out.append(IncludeEntry(path.strip().strip("/"), reason.strip()))
    return out, report


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Selector:
    def __init__(self, root: Path, include: list[IncludeEntry], checked: dict[str, str]) -> None:
        self.root = os.path.realpath(root)
        self.include = include
        # path -> the same string: a file found in a folder is named by the caller's string for it, not by a
        # new one (the harvest's names of CRLM's 17,836 slices are held anyway; a copy of each was 3 MiB)
        self.checked = checked
        self.report = Report()
        self.out: dict[str, str | None] = {}  # as Sources keeps them
        self.used: set[IncludeEntry] = set()
        self._names: dict[tuple[int, int], int] | None = None
        self._folders: dict[str, str | tuple[str, str] | None] = {}  # resolve(): each folder's _step
        self._hidden_folders: dict[str, tuple[str, str] | None] = {}  # add_file(): each folder's _hidden

    def names_inside(self, st: os.stat_result) -> int:
        """How many names inside the dataset the inode of ``st`` has (walks the dataset once)."""
        if self._names is None:
            self._names = {}
            for folder, _dirs, files in os.walk(self.root):
                for name in files:
                    try:
                        s = os.lstat(os.path.join(folder, name))
                    except OSError:
                        continue
                    if stat.S_ISREG(s.st_mode) and s.st_nlink > 1:
                        key = (s.st_dev, s.st_ino)
                        self._names[key] = self._names.get(key, 0) + 1
        return self._names.get((st.st_dev, st.st_ino), 0)

    def resolve(self, rel: str) -> str | None:
        """The real path of ``root/rel`` when every component stays inside the dataset, else None
        (with a finding). Folders are resolved once each: a dataset's files share them (ENHANCE: 14,377
        files, four components each)."""
        parent, _, name = rel.rpartition("/")
        base = self._folder(parent) if parent else self.root
        real = self._step(base, rel, name) if isinstance(base, str) else base
        if isinstance(real, tuple):
            shown, kind = real
            self.report.add(issue("payload-link-outside", file=rel, path=shown, reason=kind))
            return None
        return real

    def _folder(self, rel: str) -> str | tuple[str, str] | None:
        """:meth:`_step` of each component of the folder ``rel``, remembered."""
        if rel not in self._folders:
            parent, _, name = rel.rpartition("/")
            base = self._folder(parent) if parent else self.root
            self._folders[rel] = self._step(base, rel, name) if isinstance(base, str) else base
        return self._folders[rel]

    def _step(self, current: str, shown: str, name: str) -> str | tuple[str, str] | None:
        """The real path of ``current/name`` (``shown``: its dataset-relative path); None when it is missing
        (the profile rules report referenced files that do not exist); ``(shown, reason)`` when it is a
        symbolic link leaving the dataset or broken."""
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except OSError:
            return None
        if not stat.S_ISLNK(st.st_mode):
            return candidate
        target = os.path.realpath(candidate)
        if not _within(target, self.root) or not os.path.exists(target):
            return shown, "the symbolic link" if os.path.exists(target) else "the broken symbolic link"
        return target

    def add_file(self, rel: str, real: str, *, referenced: bool, in_folder: bool = False) -> None:
        """``in_folder``: found by :meth:`add_folder`, which has checked the names of its folders."""
        parent, _, name = rel.rpartition("/")
        hidden = None if in_folder or not parent else self._hidden(parent)
        if hidden is None and (why := hidden_reason(name)):
            hidden = rel, why
        if hidden is not None:
            self.report.add(issue("payload-hidden", file=rel, path=hidden[0], reason=hidden[1]))
            return
        try:
            st = os.stat(real)
        except OSError as exc:
            self.report.add(issue("payload-unreadable", file=rel, reason=exc.strerror or type(exc).__name__))
            return
        if not stat.S_ISREG(st.st_mode):
            self.report.add(issue("payload-not-regular", file=rel))
            return
        if st.st_nlink > 1 and self.names_inside(st) < st.st_nlink:
            self.report.add(issue("payload-hard-link", file=rel, links=st.st_nlink, inside=self.names_inside(st)))
            return
        entry = next((e for e in self.include if e.matches(rel)), None)
        if entry is not None:
            self.used.add(entry)
        elif rel not in self.checked:
            reason = self.unrecognised(rel, real)
            if reason:
                self.report.add(issue("payload-unrecognised", file=rel, reason=reason))
                return
        self.out[rel] = None if real == os.path.join(self.root, rel) else real

    def _hidden(self, folder: str) -> tuple[str, str] | None:
        """The first component of ``folder`` that is hidden or a leftover, as its path and why (remembered)."""
        if folder not in self._hidden_folders:
            parent, _, name = folder.rpartition("/")
            found = self._hidden(parent) if parent else None
            if found is None and (why := hidden_reason(name)):
                found = folder, why
            self._hidden_folders[folder] = found
        return self._hidden_folders[folder]

    @staticmethod
    def unrecognised(rel: str, real: str) -> str | None:
        """Why the file is not one the gates check (None when it is a DICOM, NIfTI or JSON file)."""
        low = rel.lower()
        if low.endswith((".nii", ".nii.gz")):
            return None if sniff_nifti(real) else "named NIfTI but its header is not NIfTI"
        if low.endswith(".json"):
            return None  # read and checked by the PHI gate (an unparseable sidecar is refused there)
        if sniff_dicom(real):
            return None
        return "neither DICOM, NIfTI nor a JSON sidecar"

    def add(self, rel: str, *, referenced: bool = True) -> None:
        rel = rel.strip("/")
        if not rel or os.path.isabs(rel) or any(p in ("", ".", "..") for p in rel.split("/")):
            self.report.add(issue("payload-link-outside", file=rel or ".", path=rel or ".", reason="the path"))
            return
        real = self.resolve(rel)
        if real is None:
            return
        if os.path.isdir(real):
            self.add_folder(rel, real, {real})
        else:
            self.add_file(rel, real, referenced=referenced)

    def add_folder(self, rel: str, real: str, seen: set[str]) -> None:
        why = next((hidden_reason(p) for p in rel.split("/") if hidden_reason(p)), None)
        if why:
            self.report.add(issue("payload-hidden", file=rel, path=rel, reason=why))
            return
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError as exc:
            self.report.add(issue("payload-unreadable", file=rel, reason=exc.strerror or type(exc).__name__))
            return
        for entry in entries:
            child = f"{rel}/{entry.name}"
            child = self.checked.get(child, child)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not _within(target, self.root) or not os.path.exists(target):
                    kind = "the symbolic link" if os.path.exists(target) else "the broken symbolic link"
                    self.report.add(issue("payload-link-outside", file=child, path=child, reason=kind))
                    continue
                if os.path.isdir(target):
                    if target in seen or any(_within(s, target) for s in seen):
                        self.report.add(issue("payload-link-loop", file=child, path=child))
                        continue
                    self.add_folder(child, target, seen | {target})
                else:
                    self.add_file(child, target, referenced=True, in_folder=True)
            elif entry.is_dir(follow_symlinks=False):
                self.add_folder(child, entry.path, seen | {os.path.realpath(entry.path)})
            else:
                self.add_file(child, entry.path, referenced=True, in_folder=True)


def select_payload(
    root: str | os.PathLike[str],
    referenced: Iterable[str],
    *,
    include: Iterable[IncludeEntry] = (),
    checked: Iterable[str] = (),
) -> tuple[Sources, Report]:
    """The files that may enter the deposit, by their dataset-relative path (the value: the source file's path,
    see :class:`~isaprofile.bagit.paths.Sources`), and the findings of those refused.

    ``referenced`` are the dataset-relative paths the dataset's scans and segmentations name (files or
    series folders; folders are expanded recursively). ``include`` are the ``package: include:`` entries
    (:func:`include_entries`); ``checked`` are further dataset-relative files that the pipeline has already
    checked itself (sheets, label maps, the config) and that may enter as they are.

    Every file is kept only when it is recognised by content — DICOM (Part 10, or a bare dataset without
    preamble or extension), NIfTI, a JSON sidecar — or is in ``checked`` or matches an include entry;
    otherwise ``payload-unrecognised``. Hidden files and editor / OS leftovers (``.DS_Store``,
    ``.~lock.x#``, ``~$x.xlsx``, ``x~``, ``x.swp``, ``Thumbs.db`` …) are always refused
    (``payload-hidden``), as are paths whose symbolic links leave the dataset (``payload-link-outside``),
    link loops, files with hard links outside the dataset (``payload-hard-link``) and devices / FIFOs
    (``payload-not-regular``). Links inside the dataset are followed: the value is the real source file.
    Include entries that match nothing are ``payload-include-unused`` warnings. Referenced paths that do
    not exist are skipped (the profile rules report them). The returned files still need the PHI gate
    (:func:`isaprofile.package.phi.check_phi`). Never raises for bad files.
    """
    entries = list(include)
    sel = _Selector(Path(root), entries, {rel: rel for rel in checked})
    for rel in sorted(set(referenced)):
        sel.add(rel)
    for rel in sorted(rel for rel in sel.checked if rel not in sel.out):
        sel.add(rel, referenced=False)
    for entry in entries:
        literal = not any(c in entry.path for c in "*?[")
        if literal and entry.path not in sel.out:
            sel.add(entry.path, referenced=False)
        if entry not in sel.used and not any(entry.matches(rel) for rel in sel.out):
            sel.report.add(issue("payload-include-unused", file="isaprofile.yaml", path=entry.path))
    sel.report.stats.update(payload_files=len(sel.out))
    if all(a < b for a, b in itertools.pairwise(sel.out)):  # the usual order of the walk: no sorted copy
        return Sources(sel.root, sel.out), sel.report
    return Sources(sel.root, dict(sorted(sel.out.items()))), sel.report
