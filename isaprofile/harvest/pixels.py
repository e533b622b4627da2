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
from functools import cache, lru_cache
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


# --- the whole image: header complete, pixel data present and complete ----------------------------------

_NO_PIXEL_SOP_WORDS = ("Presentation State", "Structured Report", "SR Storage", "Waveform", "Key Object",
                       "Raw Data", "Spectroscopy", "Encapsulated", "Registration", "Surface", "Structure Set",
                       "RT Plan", "RT Beams Treatment", "Plan Storage", "Measurement", "Real World Value")  # fmt: skip


def is_image_sop_class(uid: str | None) -> bool:
    """True for a storage SOP class whose instances must carry pixel data: named "... Image Storage" in
    pydicom's UID dictionary, or Segmentation / RT Dose Storage."""
    return bool(uid) and _is_image_sop_class(str(uid))


@lru_cache(maxsize=1024)  # a dataset has a handful of SOP classes, looked up once per file
def _is_image_sop_class(uid: str) -> bool:
    from pydicom.uid import UID

    name = UID(uid).name
    if any(word in name for word in _NO_PIXEL_SOP_WORDS):
        return False
    return (
        name.endswith("Image Storage")
        or name.endswith("Image Storage - For Presentation")
        or name.endswith("Image Storage - For Processing")
        or name in ("Segmentation Storage", "RT Dose Storage")
    )


def header_truncation(ds: Any) -> Finding | None:
    """A ``dicom-header-truncated`` finding when an element of the header (file meta included) holds fewer
    bytes than its length field declares — the file ends inside it. Checked on the raw elements, so no
    value is converted (a cut value would raise in pydicom's converters)."""
    from pydicom.dataelem import RawDataElement

    meta = getattr(ds, "file_meta", None)
    for part in (meta, ds):
        if part is None:
            continue
        for tag, raw in getattr(part, "_dict", {}).items():  # the stored elements, not converted
            if type(raw) is not RawDataElement or raw.value is None or len(raw.value) >= raw.length:
                continue
            if raw.length != UNDEFINED:
                where = f"({int(tag) >> 16:04X},{int(tag) & 0xFFFF:04X})"
                return "dicom-header-truncated", {"path": where, "found": len(raw.value), "expected": raw.length}
    return None


# What pydicom raises while parsing a malformed or hostile file: its parser turns bad bytes into these
# (an unknown VR is NotImplementedError, a bad length AttributeError or struct.error deep inside).
_DICOM_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, EOFError, KeyError, TypeError, IndexError, AttributeError, struct.error,
    NotImplementedError, OverflowError, RecursionError, UnicodeError,
)  # fmt: skip


@cache  # imports pydicom on first use: the modules importing this one stay light
def dicom_read_errors() -> tuple[type[BaseException], ...]:
    """What pydicom raises for a malformed file (its BytesLengthException is not a ValueError)."""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    return (*_DICOM_ERRORS, BytesLengthException, InvalidDicomError)


def _plain(ds: Any, keyword: str) -> Any:
    """The value of ``keyword`` or None, without letting a malformed value raise."""
    from isaprofile.harvest.dicom_flat import plain_value

    try:
        return plain_value(ds, keyword)
    except dicom_read_errors():
        return None


def check_image_integrity(
    fh: BinaryIO, size: int, ds: Any, *, implicit: bool, little: bool, syntax: str | None, complete: bool = False
) -> Finding | None:
    """The first integrity finding for a DICOM file read with ``stop_before_pixels`` from ``fh``, or None.

    In order: an element of the header cut short by the end of the file (``dicom-header-truncated``,
    ``path`` the element's tag); an instance of an image SOP class (:func:`is_image_sop_class`) or a
    header with Rows and Columns that has no Pixel Data (``pixel-data-missing``); a pixel payload shorter
    than the header promises, by even one byte (``pixel-data-truncated``, see :func:`check_pixel_data`).
    Call it before the header's values are converted, so a cut header is a finding, not an exception;
    a header element pydicom cannot convert gives ``dicom-unreadable`` (``reason``: the error's type).
    ``complete``: the reader already knows every header element is whole (``harvest.dicom_header`` reads
    only such headers), so the first check is skipped.
    """
    try:
        return _image_integrity(fh, size, ds, implicit=implicit, little=little, syntax=syntax, complete=complete)
    except dicom_read_errors() as exc:  # a malformed element: the header cannot be read
        return "dicom-unreadable", {"reason": type(exc).__name__}


def _image_integrity(
    fh: BinaryIO, size: int, ds: Any, *, implicit: bool, little: bool, syntax: str | None, complete: bool
) -> Finding | None:
    cut = None if complete else header_truncation(ds)
    if cut is not None:
        return cut
    image = {k: _plain(ds, k) for k in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "NumberOfFrames")}
    image = {k: v for k, v in image.items() if v is not None}
    start = fh.tell()
    head = fh.read(8)
    fh.seek(start)
    at_pixels = False
    if len(head) >= 4:
        group, elem = struct.unpack(f"{'<' if little else '>'}HH", head[:4])
        at_pixels = (group << 16 | elem) in PIXEL_TAGS
    meta = getattr(ds, "file_meta", None)
    sop = _plain(ds, "SOPClassUID") or (_plain(meta, "MediaStorageSOPClassUID") if meta is not None else None)
    meta_length = _int(_plain(meta, "FileMetaInformationGroupLength")) if meta is not None else 0
    if getattr(ds, "preamble", None) is not None and (meta is None or "TransferSyntaxUID" not in meta):
        return "dicom-header-truncated", {"path": "(0002,0000)", "found": max(0, size - 132), "expected": 12}
    if meta_length and 132 + 12 + meta_length > size:
        return "dicom-header-truncated", {"path": "(0002,0000)", "found": max(0, size - 144), "expected": meta_length}
    if not at_pixels and is_image_sop_class(sop) and syntax not in DEFLATED:
        return "pixel-data-missing", {"rows": _int(image.get("Rows")), "columns": _int(image.get("Columns"))}
    found = check_pixel_data(fh, size, image, implicit=implicit, little=little, syntax=syntax)
    if found is not None or syntax in DEFLATED or not at_pixels:
        return found
    return _tail_truncation(fh, size, start, implicit=implicit, endian="<" if little else ">")


def element_header(fh: BinaryIO, implicit: bool, endian: str) -> tuple[int, bytes, int, int] | None:
    """``(tag, VR, length, header size)`` of the element at the file position, or None at a cut header."""
    head = fh.read(8)
    if len(head) < 8:
        return None
    group, elem = struct.unpack(f"{endian}HH", head[:4])
    tag = group << 16 | elem
    if implicit or group == 0xFFFE:
        return tag, b"", struct.unpack(f"{endian}L", head[4:8])[0], 8
    vr = head[4:6]
    if vr in _LONG_VRS:
        extra = fh.read(4)
        if len(extra) < 4:
            return None
        return tag, vr, struct.unpack(f"{endian}L", extra)[0], 12
    return tag, vr, struct.unpack(f"{endian}H", head[6:8])[0], 8


def _tail_truncation(fh: BinaryIO, size: int, start: int, *, implicit: bool, endian: str) -> Finding | None:
    """Walk the element headers from the pixel data to the end of the file (one small read per element):
    a ``dicom-header-truncated`` finding when an element after the pixel data is cut short."""
    pos = start
    while pos < size:
        fh.seek(pos)
        header = element_header(fh, implicit, endian)
        if header is None:
            return "dicom-header-truncated", {"path": "the end of the file", "found": size - pos, "expected": 8}
        tag, _vr, length, head_size = header
        where = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if length == UNDEFINED:
            if tag not in PIXEL_TAGS:
                return None  # an undefined-length sequence after the pixels: its items are not walked
            fh.seek(pos + head_size)
            while True:  # encapsulated pixel data (already checked complete): skip its items
                item = element_header(fh, True, endian)
                if item is None:
                    return None
                if item[0] == _SEQ_DELIM:
                    break
                fh.seek(item[2], 1)
            pos = fh.tell()
            continue
        if pos + head_size + length > size:
            found = max(0, size - pos - head_size)
            return "dicom-header-truncated", {"path": where, "found": found, "expected": length}
        pos += head_size + length
    return None
