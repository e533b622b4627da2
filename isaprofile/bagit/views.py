"""What a check and the bag validator read: one bag's files by their path in the bag.

Public API::

    PackageView                       .name, .files(), .open(rel), .size(rel), .is_dir(rel)
    FolderView(root) / ZipView(safe)  a bag folder / a zipped bag (never extracted)
    Check = Callable[[PackageView], Report]
    run_checks(view, checks) -> Report

Checks are the integrator's hook for ISA-Tab structure, RO-Crate and profile validation: a check
sees the bag's files by their path in the bag (``data/i_investigation.txt``), whether the bag is a
folder or a zip.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Protocol

from isaprofile.bagit.tags import DECLARATION
from isaprofile.bagit.ziputil import SafeZip
from isaprofile.findings.issues import Report, issue


class PackageView(Protocol):
    """Read access to one bag's files by their path in the bag, for verification and checks."""

    name: str

    def files(self) -> list[str]: ...

    def open(self, rel: str) -> IO[bytes]: ...

    def size(self, rel: str) -> int: ...

    def is_dir(self, rel: str) -> bool: ...


Check = Callable[[PackageView], Report]


class FolderView:
    """A bag folder. ``files()`` lists regular files; symlinks and devices become findings.

    One ``scandir`` pass: the file list, the folders and every size come from it (no second walk).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.name = str(root)
        self.report = Report()
        self.bag_clean: bool | None = None  # set by verify_bag: True when it found nothing at all
        self.sizes: dict[str, int] = {}  # every regular file -> its size
        self._dirs: set[str] = set()
        self._walk(os.fspath(self.root), "")
        self._files = sorted(self.sizes)

    def _walk(self, folder: str, prefix: str) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = sys.intern(prefix + entry.name)  # shared with the manifests' copy of the path
            if entry.is_symlink():
                self.report.add(issue("unsafe-path", file=self.name, path=rel, reason="symbolic link"))
            elif entry.is_dir(follow_symlinks=False):
                self._dirs.add(rel)
                self._walk(entry.path, rel + "/")
            elif entry.is_file(follow_symlinks=False):
                self.sizes[rel] = entry.stat(follow_symlinks=False).st_size
            else:
                mode = entry.stat(follow_symlinks=False).st_mode
                if not stat.S_ISREG(mode):
                    reason = "device, FIFO or socket"
                    self.report.add(issue("unsafe-path", file=self.name, path=rel, reason=reason))

    def files(self) -> list[str]:
        return list(self._files)

    def open(self, rel: str) -> IO[bytes]:
        return open(self.root / rel, "rb")

    def size(self, rel: str) -> int:
        got = self.sizes.get(rel)
        return got if got is not None else (self.root / rel).stat().st_size

    def is_dir(self, rel: str) -> bool:
        return rel in self._dirs

    def path(self, rel: str) -> Path:
        return self.root / rel


class ZipView:
    """A zipped bag read through :class:`SafeZip`: the bag is at the zip's top or in its one folder."""

    def __init__(self, safe: SafeZip) -> None:
        self.safe = safe
        self.name = safe.path
        self.bag_clean: bool | None = None  # set by verify_bag: True when it found nothing at all
        names = list(safe.members)
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        self.prefix = ""
        if DECLARATION not in safe.members and len(tops) == 1:
            top = next(iter(tops))
            if all(n.startswith(f"{top}/") for n in names):
                self.prefix = f"{top}/"
        self._files = sorted(n[len(self.prefix) :] for n in names)
        self._dirs: set[str] = set()
        for rel in self._files:
            parts = rel.split("/")[:-1]
            self._dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        for info in safe.directories:
            name = info.filename.rstrip("/")
            if name.startswith(self.prefix.rstrip("/")) and self.prefix:
                name = name[len(self.prefix) :]
            if name:
                self._dirs.add(name)

    def files(self) -> list[str]:
        return list(self._files)

    def open(self, rel: str) -> IO[bytes]:
        return self.safe.open(self.prefix + rel)

    def size(self, rel: str) -> int:
        return self.safe.members[self.prefix + rel].file_size

    def is_dir(self, rel: str) -> bool:
        return rel in self._dirs


def run_checks(view: PackageView, checks: Iterable[Check]) -> Report:
    """Run metadata checks; a check that raises becomes a ``package-check-failed`` finding."""
    report = Report()
    for check in checks:
        try:
            report.merge(check(view))
        except Exception as exc:  # a broken plug-in must not hide the fixity results
            name = getattr(check, "__qualname__", repr(check))
            report.add(issue("package-check-failed", name=name, reason=f"{type(exc).__name__}: {exc}"))
    return report
