"""Is the pixel payload of a DICOM file complete? Checked without reading it.

After ``dcmread(..., stop_before_pixels=True)`` on an open file, the file position is the start of the
pixel data element (or the end of the file). The element header gives the payload length; the file
size says how much of it is there. Native (uncompressed) payloads must hold Rows x Columns x Samples
per Pixel x Bits Allocated / 8 x Number of Frames bytes; encapsulated payloads are walked item header
by item header (one small read per fragment) to see that every fragment and the sequence delimiter
are in the file and that there is at least one fragment per frame.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_ITEM, _SEQ_DELIM = 0xFFFEE000, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UC", b"UR", b"UT", b"SV", b"UV"}
UNDEFINED = 0xFFFFFFFF
DEFLATED = {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1"}

Finding = tuple[str, dict[str, Any]]


def expected_length(image: Mapping[str, Any]) -> int | None:
    """Bytes a native payload must hold, from the image pixel attributes; None if they are missing.

    ``image`` maps Rows, Columns, BitsAllocated, SamplesPerPixel and NumberOfFrames to numbers.
    """
    rows, cols, bits = _int(image.get("Rows")), _int(image.get("Columns")), _int(image.get("BitsAllocated"))
    if not rows or not cols or not bits:
        return None
    samples = _int(image.get("SamplesPerPixel")) or 1
    frames = _int(image.get("NumberOfFrames")) or 1
    return (rows * cols * samples * bits * frames + 7) // 8  # Bits Allocated 1 (binary SEG) packs bits


def _bytes(n: int | None) -> str:
    return "a payload" if n is None else f"{n} bytes"


def _int(val: Any) -> int:
    try:
        return int(val) if val not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def check_pixel_data(
    fh: BinaryIO, size: int, image: Mapping[str, Any], *, implicit: bool, little: bool, syntax: str | None
) -> Finding | None:
    """A ``(code, params)`` finding when the pixel payload is missing or cut short, else None.

    ``fh`` is positioned where ``stop_before_pixels`` stopped; ``size`` is the file's size; ``image``
    gives the pixel attributes (see :func:`expected_length`).
    Deflated files cannot be checked this way and are passed.
    """
    if syntax in DEFLATED:
        return None
    start = fh.tell()
    head = fh.read(8)
    endian = "<" if little else ">"
    if len(head) < 8:
        if _int(image.get("Rows")) and _int(image.get("Columns")):
            return "pixel-data-missing", {"rows": _int(image["Rows"]), "columns": _int(image["Columns"])}
        return None
    group, elem = struct.unpack(f"{endian}HH", head[:4])
    if (group << 16 | elem) not in PIXEL_TAGS:
        return None
    if implicit:
        (length,) = struct.unpack(f"{endian}L", head[4:8])
        value_pos = start + 8
    elif head[4:6] in _LONG_VRS:
        extra = fh.read(4)
        if len(extra) < 4:
            return "pixel-data-truncated", {"found": "0 bytes", "expected": _bytes(expected_length(image))}
        (length,) = struct.unpack(f"{endian}L", extra)
        value_pos = start + 12
    else:
        (length,) = struct.unpack(f"{endian}H", head[6:8])
        value_pos = start + 8
    available = size - value_pos
    if length == UNDEFINED:
        return _check_encapsulated(fh, size, image, endian)
    expected = expected_length(image)
    if expected is not None and (length < expected or available < expected):
        return "pixel-data-truncated", {"found": _bytes(min(length, available)), "expected": _bytes(expected)}
    if available < length:
        return "pixel-data-truncated", {"found": _bytes(available), "expected": _bytes(length)}
    return None


def _check_encapsulated(fh: BinaryIO, size: int, image: Mapping[str, Any], endian: str) -> Finding | None:
    """Walk the items of an encapsulated payload: offset table, fragments, sequence delimiter."""
    fmt = f"{endian}HHL"
    items = 0
    found = 0
    while True:
        pos = fh.tell()
        head = fh.read(8)
        if len(head) < 8:
            break
        group, elem, length = struct.unpack(fmt, head)
        tag = group << 16 | elem
        if tag == _SEQ_DELIM:
            frames = _int(image.get("NumberOfFrames")) or 1
            fragments = items - 1  # the first item is the basic offset table
            if fragments < 1:
                return "pixel-data-missing", {"rows": _int(image.get("Rows")), "columns": _int(image.get("Columns"))}
            if fragments < frames:
                return "pixel-data-truncated", {
                    "found": f"{fragments} fragment(s)",
                    "expected": f"at least {frames} (one per frame)",
                }
            return None
        if tag != _ITEM or pos + 8 + length > size:
            found += max(0, size - pos - 8)
            break
        items += 1
        found += length
        fh.seek(length, 1)
    return "pixel-data-truncated", {
        "found": f"{_bytes(found)} in {items} item(s) without an end",
        "expected": "a complete encapsulated payload",
    }
