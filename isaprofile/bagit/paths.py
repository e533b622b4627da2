"""Path safety for building and reading packages.

Public API::

    path_problem(rel) -> str | None        why a relative package path is unsafe, or None
    portability_problem(rel) -> str | None why a name cannot be unpacked on Windows, or None
    source_problem(path) -> str | None     why a source file cannot be packaged (symlink, device...)
    collision_key(rel) -> str              the name as case-insensitive, normalising file systems see it
    check_paths(names, *, sources=None, file=None) -> Report   unsafe-path and path-collision findings
    Sources(root, links)                   payload path -> source file, a source held only for a link

A package path is relative, uses ``/``, and has no empty, ``.`` or ``..`` component, no
backslash, no drive letter and no NUL. Names that are equal after Unicode NFC normalisation and
case folding collide (they would be one file on macOS/Windows), and so does a file whose name is
also used as a folder.

A portable name also unpacks on Windows (Microsoft, "Naming Files, Paths, and Namespaces"; the
trailing space/dot rule as eryksun explains in CPython issue 95486): no component ends with a space
or a dot, none is a reserved device name (CON, PRN, AUX, NUL, CONIN$, CONOUT$, COM1-9, LPT1-9 and
their superscript-digit forms, in any case, with or without an extension: ``aux.txt``), and no
character is one of ``< > : " | ? *`` or a control character. COM0 and LPT0 are not refused: they
can be created on Windows 10 (git-for-windows, commit "mingw: do not treat COM0 as a reserved file
name"). A '%' is refused too: RFC 8493 writes it as %25 in manifests, which bagit-python (1.9)
does not decode. The build refuses such names; verify warns about them in bags made elsewhere.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from isaprofile.findings.issues import Report, issue

_DRIVE = re.compile(r"^[A-Za-z]:")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]}
)
_WINDOWS_CHARS = frozenset('<>:"|?*') | frozenset(chr(c) for c in range(32))


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


def portability_problem(rel: str) -> str | None:
    """The reason ``rel`` (a safe relative path) cannot be unpacked on Windows, or ``None``."""
    if "%" in rel:
        # RFC 8493 §2.1.3 percent-encodes '%' in manifests, but bagit-python (1.9) decodes only
        # %0A/%0D, so it would look for 'a%25b' and call the bag incomplete
        return "'%' in a name: bagit-python does not decode %25 in manifests and would reject the bag"
    for part in rel.split("/"):
        bad = sorted({c for c in part if c in _WINDOWS_CHARS})
        if bad:
            shown = " ".join(repr(c) for c in bad)
            return f"the name {part!r} holds {shown}, which Windows does not allow in a name"
        if part[-1:] in (" ", "."):
            return f"the name {part!r} ends with {'a space' if part[-1] == ' ' else 'a dot'}, which Windows drops"
        if part.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
            return f"{part!r} is a reserved device name on Windows"
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
    unportable: str | None = "error",
    collisions: str | None = None,
) -> Report:
    """Check package paths (and, when given, their source files) for safety and collisions.

    ``sources`` maps a package path to the file it is copied from. ``file`` names the container
    (a zip) in findings; the package path is the finding's ``path``. ``unportable`` is the severity
    of ``unportable-name`` findings (``None``: not checked); ``collisions`` overrides the severity
    of ``path-collision`` (a bag made elsewhere may hold such names: a warning there).
    """
    report = Report()
    # names that fold alike can only be in folders that fold alike: the names are compared a folder at a time,
    # so only one folder's folded names are held (for CRLM's 17,840 long paths those were 3 MiB at once)
    folders: dict[str, list[str]] = {}  # a folder's collision key -> the paths in folders of that key
    folded: dict[str, str] = {}  # a folder -> its collision key
    dirs: dict[str, str] = {}  # a folder's collision key -> its first spelling
    for rel in sorted(names):
        reason = path_problem(rel)
        if reason:
            report.add(issue("unsafe-path", file=file, path=rel, reason=reason))
            continue
        if unportable is not None:
            why = portability_problem(rel)
            if why:
                report.add(issue("unportable-name", file=file, path=rel, reason=why, severity=unportable))
        parent = rel.rpartition("/")[0]
        key = folded.get(parent)
        if key is None:  # a folder seen first: it and its ancestors are folders a file's name may collide with
            key = folded[parent] = collision_key(parent)
            if parent:
                parts = parent.split("/")
                for i in range(1, len(parts) + 1):
                    dirs.setdefault(collision_key("/".join(parts[:i])), "/".join(parts[:i]))
        folders.setdefault(key, []).append(rel)
    for key, members in folders.items():
        seen: dict[str, str] = {}
        for rel in members:
            name = collision_key(rel.rpartition("/")[2])
            if name in seen:
                report.add(issue("path-collision", file=file, path=rel, other=seen[name], severity=collisions))
                continue
            seen[name] = rel
            full = f"{key}/{name}" if key else name
            if full in dirs:
                other = f"the folder {dirs[full]}/"
                report.add(issue("path-collision", file=file, path=rel, other=other, severity=collisions))
    for rel, src in (sources or {}).items():
        reason = source_problem(Path(src))
        if reason:
            report.add(issue("unsafe-path", file=str(src), path=rel, reason=reason))
    return report


class Sources(Mapping[str, str]):
    """The files to copy into a bag's payload: path in the payload -> the source file's path. A source is
    held only when it is not ``root/path`` (a file reached through a symbolic link, :meth:`linked`); the
    others are joined when asked for: CRLM's 17,836 absolute paths were 3.7 MiB. Read only."""

    __slots__ = ("root", "_links")

    def __init__(self, root: str, links: dict[str, str | None]) -> None:
        self.root = root
        self._links = links  # path -> its source, or None for root/path

    def linked(self, rel: str) -> str | None:
        """The source of ``rel`` when it is not ``root/rel``, else None."""
        return self._links[rel]

    def __getitem__(self, rel: str) -> str:
        real = self._links[rel]
        return real if real is not None else os.path.join(self.root, rel)

    def __contains__(self, rel: object) -> bool:
        return rel in self._links

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)

    def __repr__(self) -> str:
        return f"Sources({self.root!r}, {len(self)} files)"
