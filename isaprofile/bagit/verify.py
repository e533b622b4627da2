"""Verify a package: a bag folder, a zipped bag, or a split deposit of part bags.

Public API::

    verify_package(path, *, checks=None, workers=None, limits=None, progress=None) -> Report

The bag rules are in :mod:`isaprofile.bagit.bag`, split deposits in :mod:`isaprofile.bagit.split`;
this module only dispatches, so neither of those imports the other's caller.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from isaprofile.bagit.bag import verify_bag, verify_one
from isaprofile.bagit.build import PARTS_INDEX
from isaprofile.bagit.split import verify_split
from isaprofile.bagit.tags import DECLARATION
from isaprofile.bagit.views import Check, FolderView, PackageView, ZipView, run_checks
from isaprofile.bagit.ziputil import ZipLimits
from isaprofile.findings.issues import Report
from isaprofile.progress import Progress

__all__ = ["Check", "FolderView", "PackageView", "ZipView", "run_checks", "verify_bag", "verify_package"]


def verify_package(
    path: str | os.PathLike[str],
    *,
    checks: Iterable[Check] | None = None,
    workers: int | None = None,
    limits: ZipLimits | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify a bag folder, a zipped bag or a split deposit (a folder with ``parts-index.json``).

    ``checks`` are the metadata checks run on every bag (none by default; ``isaprofile verify`` passes
    :func:`isaprofile.package.metadata_checks.metadata_checks`). Unreadable packages give a
    ``package-unreadable`` finding; nothing is raised for bad content.
    """
    path = Path(path)
    todo = list(checks or ())
    if path.is_dir() and not path.is_symlink():
        if (path / PARTS_INDEX).is_file() and not (path / DECLARATION).exists():
            return verify_split(path, checks=todo, workers=workers, progress=progress)
    return verify_one(path, checks=todo, workers=workers, limits=limits, progress=progress)
