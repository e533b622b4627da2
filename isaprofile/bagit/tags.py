"""BagIt (RFC 8493) tag files: write and parse ``bagit.txt``, ``bag-info.txt`` and manifests.

This module only makes and reads bytes; :mod:`isaprofile.bagit.build` writes them durably.

Public API::

    encode_path(rel) / decode_path(text)          RFC 8493 §2.1.3 percent-encoding of CR, LF and %
    bagit_txt() -> bytes                          the bag declaration (BagIt-Version 1.0, UTF-8)
    bag_info(info, *, payload_bytes, payload_files, bagging_date=None) -> list[tuple[str, str]]
    bag_info_txt(fields) -> bytes
    manifest_txt(digests: Mapping[str, str]) -> bytes        path -> hex digest, sorted, LF
    tag_files(payload, info, *, algorithms, bagging_date=None, extra_tags=None) -> dict[str, bytes]
    tag_contents(...), tag_manifests(digests)     the same for a writer that digests as it writes
    parse_manifest(fh)                            our own manifests (any bag: isaprofile.bagit.bag)

Paths in manifests are relative to the bag (``data/scan.dcm``) with ``/`` separators.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO

from isaprofile.bagit.hashing import ALGORITHMS, FileDigest, hash_bytes

BAGIT_VERSION = "1.0"
ENCODING = "UTF-8"
PAYLOAD_DIR = "data"
DECLARATION = "bagit.txt"
BAG_INFO = "bag-info.txt"
SOFTWARE = "isaprofile (https://pypi.org/project/isaprofile/)"
RESERVED = ("Bagging-Date", "Payload-Oxum", "Bag-Software-Agent")


def encode_path(rel: str) -> str:
    """Percent-encode ``%``, CR and LF in a manifest path (RFC 8493 §2.1.3)."""
    return rel.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


_ESCAPE = re.compile("%(0D|0A|25)", re.IGNORECASE)
_UNESCAPED = {"0D": "\r", "0A": "\n", "25": "%"}
_HEX = re.compile("[0-9a-fA-F]{32,}")


def decode_path(text: str) -> str:
    """Undo :func:`encode_path` (``%0D``/``%0A``/``%25`` in either case)."""
    if "%" not in text:  # nearly every path: nothing to undo
        return text
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1).upper()], text)


def bagit_txt() -> bytes:
    """The bag declaration."""
    return f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: {ENCODING}\n".encode()


def default_bagging_date() -> dt.date:
    """``SOURCE_DATE_EPOCH`` (reproducible builds) as a UTC date when set, else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.datetime.now(tz=dt.UTC).date()


def payload_oxum(total_bytes: int, count: int) -> str:
    """``OctetCount.StreamCount`` of the payload."""
    return f"{total_bytes}.{count}"


def bag_info(
    info: Mapping[str, str | Sequence[str]],
    *,
    payload_bytes: int,
    payload_files: int,
    bagging_date: dt.date | None = None,
) -> list[tuple[str, str]]:
    """The ``bag-info.txt`` fields: the caller's (in their order), then Bagging-Date,
    Payload-Oxum and Bag-Software-Agent, which the library sets. A list value repeats the label."""
    fields: list[tuple[str, str]] = []
    for label, value in info.items():
        if label in RESERVED:
            continue
        if not label or any(c in label for c in ":\r\n") or label != label.strip():
            raise ValueError(f"bad bag-info label {label!r}")
        values = [value] if isinstance(value, str) else list(value)
        fields.extend((label, str(v)) for v in values)
    date = bagging_date or default_bagging_date()
    fields.append(("Bagging-Date", date.isoformat()))
    fields.append(("Payload-Oxum", payload_oxum(payload_bytes, payload_files)))
    fields.append(("Bag-Software-Agent", SOFTWARE))
    return fields


def bag_info_txt(fields: Iterable[tuple[str, str]]) -> bytes:
    """Serialise bag-info fields; line breaks inside a value become continuation lines."""
    lines = []
    for label, value in fields:
        parts = [p.strip() for p in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        lines.append(f"{label}: {parts[0]}")
        lines.extend(f"  {p}" for p in parts[1:] if p)
    return ("\n".join(lines) + "\n").encode("utf-8")


def manifest_txt(digests: Mapping[str, str]) -> bytes:
    """A manifest: one ``<hex>  <encoded path>`` line per file, sorted by path, LF line ends."""
    return b"".join(manifest_chunks(digests, digests.__getitem__))


def _hex(payload: Mapping[str, FileDigest], algorithm: str, path: str) -> str:
    return payload[path].hexdigest(algorithm)


def manifest_chunks(paths: Iterable[str], hexdigest: Callable[[str], str], size: int = 1 << 20) -> Iterator[bytes]:
    """:func:`manifest_txt` of ``hexdigest(path)`` for each path, in pieces of about ``size`` bytes: a writer
    holds one piece, not the whole manifest, its lines and a dict of hex digests (CRLM's SHA-512 one: 4 MB)."""
    lines: list[bytes] = []
    held = 0
    for encoded, path in sorted((encode_path(p), p) for p in paths):
        line = f"{hexdigest(path)}  {encoded}\n".encode()
        lines.append(line)
        held += len(line)
        if held >= size:
            yield b"".join(lines)
            lines, held = [], 0
    if lines:
        yield b"".join(lines)


def manifest_name(algorithm: str, *, tag: bool = False) -> str:
    return f"{'tagmanifest' if tag else 'manifest'}-{algorithm}.txt"


def tag_files(
    payload: Mapping[str, FileDigest],
    info: Mapping[str, str | Sequence[str]],
    *,
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """Every tag file of a bag whose payload (paths relative to the bag, ``data/...``) is digested.

    ``extra_tags`` are further tag files (relative to the bag root, outside ``data/``). The
    result maps tag-file paths to bytes; the tag manifests cover every other tag file.
    """
    files = {name: data if isinstance(data, bytes) else b"".join(data())
             for name, data in tag_contents(payload, info, algorithms=algorithms, bagging_date=bagging_date,
                                            extra_tags=extra_tags)}  # fmt: skip
    digests = {name: _digest_bytes(data, algorithms) for name, data in files.items()}
    return {**files, **tag_manifests(digests, algorithms)}


def tag_contents(
    payload: Mapping[str, FileDigest],
    info: Mapping[str, str | Sequence[str]],
    *,
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, bytes | Callable[[], Iterable[bytes]]] | None = None,
) -> list[tuple[str, bytes | Callable[[], Iterable[bytes]]]]:
    """The tag files of :func:`tag_files` but the tag manifests, in order; a payload manifest as a producer of
    its pieces (:func:`manifest_chunks`), for a writer that digests them as it writes (:func:`tag_manifests`)."""
    out: list[tuple[str, bytes | Callable[[], Iterable[bytes]]]] = [(DECLARATION, bagit_txt())]
    fields = bag_info(info, payload_bytes=sum(d.size for d in payload.values()), payload_files=len(payload),
                      bagging_date=bagging_date)  # fmt: skip
    out.append((BAG_INFO, bag_info_txt(fields)))
    for algo in algorithms:
        hexdigest = functools.partial(_hex, payload, algo)
        out.append((manifest_name(algo), functools.partial(manifest_chunks, payload, hexdigest)))
    names = {name for name, _ in out}
    for name, data in (extra_tags or {}).items():
        if name in names or name.startswith(f"{PAYLOAD_DIR}/") or name.startswith("tagmanifest-"):
            raise ValueError(f"extra tag file {name!r} clashes with the bag's own files")
        out.append((name, data))
    return out


def tag_manifests(digests: Mapping[str, FileDigest], algorithms: Sequence[str] = ALGORITHMS) -> dict[str, bytes]:
    """The tag manifests over the other tag files, whose ``digests`` are given (by name)."""
    return {manifest_name(a, tag=True): manifest_txt({n: d.hexdigest(a) for n, d in digests.items()})
            for a in algorithms}  # fmt: skip


def _digest_bytes(data: bytes, algorithms: Sequence[str]) -> FileDigest:
    return hash_bytes(data, algorithms)


def parse_manifest(fh: IO[bytes]) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Manifest entries (decoded path -> lower-case hex) and ``(line, reason)`` problems, from the manifest
    open for reading bytes. Read line by line, and each path interned as the views intern theirs: the text and
    its lines are never all held, and a path listed both in a view and here is one string (CRLM's manifest,
    17,836 lines, took 11 MiB at once)."""
    entries: dict[str, str] = {}
    problems: list[tuple[int, str]] = []
    lines = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="\n")
    for n, line in enumerate(lines, start=1):
        line = line.removesuffix("\n").rstrip("\r")
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _is_hex(parts[0]):
            problems.append((n, "expected a hexadecimal digest, whitespace and a path"))
            continue
        path = sys.intern(decode_path(parts[1].strip().lstrip("*")))
        if path in entries:
            problems.append((n, f"{path} is listed twice"))
            continue
        entries[path] = parts[0].lower()
    lines.detach()  # the caller's file stays the caller's to close
    return entries, problems


def _is_hex(text: str) -> bool:
    return _HEX.fullmatch(text) is not None
