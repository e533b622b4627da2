"""Never destroy: the one check every writing command runs on its ``-o`` before it writes anything.

A command may write to a path that does not exist yet, to an empty folder, to a file (which it
replaces), or to something it made itself earlier (which it replaces as a whole). It refuses, with
exit code 2 and a one-line reason:

- an output that is one of its inputs (``-o DATASET``, or ``-o .`` run inside the dataset);
- an output inside an input, or one that contains an input (replacing it would delete the input);
- a non-empty folder it did not make, and, for a folder output, an existing file;
- for a file output, an existing folder.

What counts as "made by isaprofile":

- a package: a BagIt folder whose ``bag-info.txt`` says ``Bag-Software-Agent: isaprofile ...``, or a
  split deposit (``parts-index.json`` beside ``part-NNN`` bags of ours), or a zip holding such a bag;
- an ISA-Tab folder: nothing but ``i_*.txt`` / ``s_*.txt`` / ``a_*.txt`` files, the investigation file
  carrying the ``Comment[isaprofile profile]`` row our writer puts there. A folder the user added a
  file to is no longer ours: that file would be lost.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from isaprofile.cli._common import EXIT_USAGE, fail

Kind = Literal["file", "isatab", "package", "zip"]

AGENT = "isaprofile"
_ISATAB_NAME = re.compile(r"^[isa]_.+\.txt$")
_PART_NAME = re.compile(r"^part-\d{3,}$")
PARTS_INDEX = "parts-index.json"


class OutputRefused(Exception):
    """The output would destroy something; the message says what and why."""


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def _agent_is_ours(bag_info: str) -> bool:
    for line in bag_info.splitlines():
        label, sep, value = line.partition(":")
        if sep and label.strip().lower() == "bag-software-agent":
            words = value.split()
            return bool(words) and words[0] == AGENT
    return False


def is_our_bag(folder: Path) -> bool:
    info = folder / "bag-info.txt"
    try:
        return (folder / "bagit.txt").is_file() and _agent_is_ours(info.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def is_our_package(folder: Path) -> bool:
    """A bag of ours, or a split deposit whose every part is one."""
    if is_our_bag(folder):
        return True
    if not (folder / PARTS_INDEX).is_file():
        return False
    others = [p for p in folder.iterdir() if p.name != PARTS_INDEX]
    return bool(others) and all(p.is_dir() and _PART_NAME.match(p.name) and is_our_bag(p) for p in others)


def is_our_zip(path: Path) -> bool:
    """A zip whose bag (at its root or in one top folder) was written by isaprofile."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "bag-info.txt" and n.count("/") <= 1]
            return any(_agent_is_ours(zf.read(n).decode("utf-8", "replace")) for n in names)
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


def is_our_isatab(folder: Path) -> bool:
    entries = list(folder.iterdir())
    if not entries or not all(p.is_file() and _ISATAB_NAME.match(p.name) for p in entries):
        return False
    investigations = [p for p in entries if p.name.startswith("i_")]
    try:
        return len(investigations) == 1 and any(
            line.startswith(("Comment[isaprofile profile]", '"Comment[isaprofile profile]"'))
            for line in investigations[0].read_text(encoding="utf-8", errors="replace").splitlines()
        )
    except OSError:
        return False


_OURS = {"isatab": (is_our_isatab, "an ISA-Tab folder"), "package": (is_our_package, "a package")}


def check_output(output: str | os.PathLike[str], kind: Kind, inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The path to write for ``output`` (``.zip`` added for a zip that lacks it); raises
    :class:`OutputRefused` when writing there could destroy an input or a foreign folder's content."""
    out = Path(output)
    if kind == "zip" and out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    real = _real(out)
    for given in inputs:
        src = _real(given)
        if real == src:
            raise OutputRefused(f"the output {out} is the input {given}: it would be replaced")
        if src in real.parents:
            raise OutputRefused(f"the output {out} is inside the input {given}: write it elsewhere")
        if real in src.parents:
            raise OutputRefused(f"the output {out} contains the input {given}: replacing it would delete the input")
    if not (real.exists() or out.is_symlink()):
        return out
    if kind in ("file", "zip"):
        if real.is_dir():
            raise OutputRefused(f"the output {out} is a folder; give a file name")
        if kind == "zip" and not is_our_zip(real):
            raise OutputRefused(f"the output {out} exists and is not a package zip written by isaprofile")
        return out
    if not real.is_dir():
        raise OutputRefused(f"the output {out} exists and is not a folder")
    ours, what = _OURS[kind]
    if any(real.iterdir()) and not ours(real):
        raise OutputRefused(
            f"the output folder {out} is not empty and is not {what} written by isaprofile; "
            "give a new or empty folder (nothing was written)"
        )
    return out


def output_path(output: str | os.PathLike[str], kind: Kind, inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """:func:`check_output` for a command: a refusal stops it with the reason and exit code 2."""
    try:
        return check_output(output, kind, inputs)
    except OutputRefused as exc:
        fail(str(exc), EXIT_USAGE)
        raise  # unreachable: fail exits
