"""Path safety for building and reading packages.

Public API::

    path_problem(rel) -> str | None        why a relative package path is unsafe, or None
    source_problem(path) -> str | None     why a source file cannot be packaged (symlink, device...)
    collision_key(rel) -> str              the name as case-insensitive, normalising file systems see it
    check_paths(names, *, sources=None, file=None) -> Report   unsafe-path and path-collision findings

A package path is relative, uses ``/``, and has no empty, ``.`` or ``..`` component, no
backslash, no drive letter and no NUL. Names that are equal after Unicode NFC normalisation and
case folding collide (they would be one file on macOS/Windows), and so does a file whose name is
also used as a folder.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from isaprofile.findings.issues import Report, issue

_DRIVE = re.compile(r"^[A-Za-z]:")


def path_problem(rel: str) -> str | None:
    """The reason ``rel`` is not a safe relative package path, or ``None``."""
    if not rel:
        return "empty path"
    if "\x00" in rel:
        return "NUL character in the name"
    if "\\" in rel:
        return "backslash in the name"
    if rel.startswith("/"):
        return "absolute path"
    if _DRIVE.match(rel):
        return "drive letter"
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "empty, '.' or '..' path component"
    return None


def source_problem(path: str | os.PathLike[str]) -> str | None:
    """The reason a source file cannot be packaged (missing, symlink, not a regular file) or ``None``."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or type(exc).__name__})"
    if stat.S_ISLNK(st.st_mode):
        return "symbolic link"
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "device, FIFO or socket, not a regular file"
    return None


def collision_key(rel: str) -> str:
    """``rel`` after NFC normalisation and case folding (NFC again: folding can denormalise)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", rel).casefold())


def check_paths(
    names: Iterable[str],
    *,
    sources: Mapping[str, str | os.PathLike[str]] | None = None,
    file: str | None = None,
) -> Report:
    """Check package paths (and, when given, their source files) for safety and collisions.

    ``sources`` maps a package path to the file it is copied from. ``file`` names the container
    (a zip) in findings; the package path is the finding's ``path``.
    """
    report = Report()
    seen: dict[str, str] = {}
    dirs: dict[str, str] = {}
    ordered = sorted(names)
    for rel in ordered:
        reason = path_problem(rel)
        if reason:
            report.add(issue("unsafe-path", file=file, path=rel, reason=reason))
            continue
        key = collision_key(rel)
        if key in seen:
            report.add(issue("path-collision", file=file, path=rel, other=seen[key]))
        else:
            seen[key] = rel
        parts = rel.split("/")
        for i in range(1, len(parts)):
            dirs.setdefault(collision_key("/".join(parts[:i])), "/".join(parts[:i]))
    for key, rel in seen.items():
        if key in dirs:
            report.add(issue("path-collision", file=file, path=rel, other=f"the folder {dirs[key]}/"))
    for rel, src in (sources or {}).items():
        reason = source_problem(Path(src))
        if reason:
            report.add(issue("unsafe-path", file=str(src), path=rel, reason=reason))
    return report
