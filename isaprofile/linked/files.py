"""Sizes, SHA-256 checksums and formats of the data files an investigation names."""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from isaprofile.bagit.hashing import Hasher
from isaprofile.findings.issues import Report, issue
from isaprofile.linked._common import FORMATS

FileInfo = tuple[int, str]  # (size in bytes, SHA-256 hex digest)


def sha256_file(path: str | Path) -> FileInfo:
    """Size and SHA-256 of one file, read in 1 MiB chunks (the BagIt engine's one hashing loop)."""
    hasher = Hasher(("sha256",))
    with open(path, "rb") as fh:
        hasher.feed(fh)
    digest = hasher.result()
    return digest.size, digest.hexdigest("sha256")


def scan_files(root: str | Path, paths: Iterable[str]) -> tuple[dict[str, FileInfo], Report]:
    """Size and SHA-256 of every named path under ``root``; a folder contributes each file in it.

    Keys are POSIX paths relative to ``root``. A path that does not exist is a
    ``data-file-missing`` finding.
    """
    base = Path(root)
    out: dict[str, FileInfo] = {}
    report = Report()
    for rel in sorted(set(paths)):
        full = base / rel
        if full.is_file():
            out[_posix(rel)] = sha256_file(full)
        elif full.is_dir():
            for dirpath, dirnames, filenames in os.walk(full):
                dirnames.sort()
                for name in sorted(filenames):
                    member = Path(dirpath) / name
                    out[member.relative_to(base).as_posix()] = sha256_file(member)
        else:
            report.add(issue("jsonld-file-missing", file=_posix(rel), path=_posix(rel)))
    return out, report


def members(path: str, info: Mapping[str, Any], keys: Sequence[str] | None = None) -> list[str]:
    """The keys of ``info`` that belong to ``path``: itself when it is a file, else the files below it
    (sorted). ``keys``: ``sorted(info)``, when the caller asks for many paths (a range of it, not a scan)."""
    key = _posix(path)
    if key in info:
        return [key]
    return below(key, sorted(info) if keys is None else keys)


def below(folder: str, keys: Sequence[str]) -> list[str]:
    """The paths of the sorted ``keys`` inside ``folder`` (they are one run of the sorted list)."""
    prefix = folder.rstrip("/") + "/"
    out = []
    for k in itertools.islice(keys, bisect.bisect_left(keys, prefix), None):
        if not k.startswith(prefix):
            break
        out.append(k)
    return out


def file_format(path: str, is_folder: bool = False) -> str:
    """The format key of a data file (``dicom``, ``nifti``, ``nifti-gz``, ``json`` or ``other``)."""
    low = path.lower()
    if low.endswith(".nii.gz"):
        return "nifti-gz"
    if low.endswith(".nii"):
        return "nifti"
    if low.endswith((".dcm", ".dicom", ".ima")) or is_folder:
        return "dicom"
    if low.endswith(".nrrd"):
        return "nrrd"
    if low.endswith(".json"):
        return "json"
    return "other"


def encoding_format(path: str, is_folder: bool = False) -> tuple[str, str | None]:
    """The IANA media type and format IRI (EDAM) of a file; ``.nii.gz`` is gzip-compressed NIfTI."""
    kind = file_format(path, is_folder)
    media, iri = FORMATS[kind]
    if kind == "nifti-gz":
        media = "application/gzip"
    return media, iri


def _posix(path: str) -> str:
    return path.replace("\\", "/").strip("/")
