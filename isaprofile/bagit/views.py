"""What a check and the bag validator read: one bag's files by their path in the bag.

Public API::

    PackageView                       .name, .files(), .open(rel), .size(rel)
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


Check = Callable[[PackageView], Report]


class FolderView:
    """A bag folder. ``files()`` lists regular files; symlinks and devices become findings."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.name = str(root)
        self.report = Report()
        self._files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            base = Path(dirpath)
            for name in sorted(dirnames + filenames):
                path = base / name
                rel = path.relative_to(self.root).as_posix()
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    self.report.add(issue("unsafe-path", file=self.name, path=rel, reason="symbolic link"))
                elif stat.S_ISREG(mode):
                    self._files.append(rel)
                elif not stat.S_ISDIR(mode):
                    reason = "device, FIFO or socket"
                    self.report.add(issue("unsafe-path", file=self.name, path=rel, reason=reason))
            dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
        self._files.sort()

    def files(self) -> list[str]:
        return list(self._files)

    def open(self, rel: str) -> IO[bytes]:
        return open(self.root / rel, "rb")

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size

    def path(self, rel: str) -> Path:
        return self.root / rel


class ZipView:
    """A zipped bag read through :class:`SafeZip`: the bag is at the zip's top or in its one folder."""

    def __init__(self, safe: SafeZip) -> None:
        self.safe = safe
        self.name = safe.path
        names = list(safe.members)
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        self.prefix = ""
        if DECLARATION not in safe.members and len(tops) == 1:
            top = next(iter(tops))
            if all(n.startswith(f"{top}/") for n in names):
                self.prefix = f"{top}/"
        self._files = sorted(n[len(self.prefix) :] for n in names)

    def files(self) -> list[str]:
        return list(self._files)

    def open(self, rel: str) -> IO[bytes]:
        return self.safe.open(self.prefix + rel)

    def size(self, rel: str) -> int:
        return self.safe.members[self.prefix + rel].file_size


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
