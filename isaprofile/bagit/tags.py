"""BagIt (RFC 8493) tag files: write and parse ``bagit.txt``, ``bag-info.txt`` and manifests.

This module only makes and reads bytes; :mod:`isaprofile.bagit.build` writes them durably.

Public API::

    encode_path(rel) / decode_path(text)          RFC 8493 §2.1.3 percent-encoding of CR, LF and %
    bagit_txt() -> bytes                          the bag declaration (BagIt-Version 1.0, UTF-8)
    bag_info(info, *, payload_bytes, payload_files, bagging_date=None) -> list[tuple[str, str]]
    bag_info_txt(fields) -> bytes
    manifest_txt(digests: Mapping[str, str]) -> bytes        path -> hex digest, sorted, LF
    tag_files(payload, info, *, algorithms, bagging_date=None, extra_tags=None) -> dict[str, bytes]
    iter_tag_files(...)                           the same, one (name, bytes) at a time
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
    return _manifest(digests, digests.__getitem__)


def _hex(payload: Mapping[str, FileDigest], algorithm: str, path: str) -> str:
    return payload[path].hexdigest(algorithm)


def _manifest(paths: Iterable[str], hexdigest: Callable[[str], str]) -> bytes:
    """:func:`manifest_txt` of ``hexdigest(path)`` for each path, written a line at a time into one buffer: the
    lines, their text and a dict of hex digests were each held whole before (CRLM's SHA-512 manifest: 4 MB)."""
    out = bytearray()
    for encoded, path in sorted((encode_path(p), p) for p in paths):
        out += f"{hexdigest(path)}  {encoded}\n".encode()
    return bytes(out)


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
    return dict(iter_tag_files(payload, info, algorithms=algorithms, bagging_date=bagging_date, extra_tags=extra_tags))


def iter_tag_files(
    payload: Mapping[str, FileDigest],
    info: Mapping[str, str | Sequence[str]],
    *,
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, bytes] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """:func:`tag_files` one file at a time, in the same order, for a writer that lets each go once written
    (CRLM's two payload manifests are 6.5 MB). ``ValueError`` for a clashing extra tag file comes before any."""
    own = {DECLARATION, BAG_INFO, *(manifest_name(a) for a in algorithms)}
    for name in extra_tags or {}:
        if name in own or name.startswith(f"{PAYLOAD_DIR}/") or name.startswith("tagmanifest-"):
            raise ValueError(f"extra tag file {name!r} clashes with the bag's own files")
    return _tag_files(payload, info, algorithms, bagging_date, extra_tags or {})


def _tag_files(
    payload: Mapping[str, FileDigest], info: Mapping[str, str | Sequence[str]], algorithms: Sequence[str],
    bagging_date: dt.date | None, extra_tags: Mapping[str, bytes],
) -> Iterator[tuple[str, bytes]]:  # fmt: skip
    tag_digests: dict[str, FileDigest] = {}

    def files() -> Iterator[tuple[str, bytes]]:
        yield DECLARATION, bagit_txt()
        fields = bag_info(info, payload_bytes=sum(d.size for d in payload.values()), payload_files=len(payload),
                          bagging_date=bagging_date)  # fmt: skip
        yield BAG_INFO, bag_info_txt(fields)
        for algo in algorithms:
            yield manifest_name(algo), _manifest(payload, functools.partial(_hex, payload, algo))
        yield from extra_tags.items()

    for name, data in files():
        tag_digests[name] = _digest_bytes(data, algorithms)
        yield name, data
    for algo in algorithms:
        listed = {name: d.hexdigest(algo) for name, d in tag_digests.items()}
        yield manifest_name(algo, tag=True), manifest_txt(listed)


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
