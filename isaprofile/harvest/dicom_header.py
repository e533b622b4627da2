"""The header of a DICOM file as ``pydicom.dcmread(fh, stop_before_pixels=True)`` returns it, read faster.

Every command's header pass reads one header per file, and on a CT series that read is most of the work:
``dcmread`` parses a slice's header in about 0.13 ms of Python per file (its element generator reads the file
8 bytes at a time and builds each element through several calls). :func:`read_header` scans the same bytes
from one buffer with :mod:`struct` and builds, for each element, the very ``RawDataElement`` pydicom's
``data_element_generator`` yields (tag, VR as written, length, value bytes, value offset, encoding); the
file meta group, the dataset and the ``FileDataset`` are then assembled with pydicom's own classes in the
order ``pydicom.filereader.read_partial`` does, so values are still converted by pydicom, when asked.

Only the plain case is read here: a Part 10 file (preamble and ``DICM``) whose meta group is explicit VR
little endian, with an implicit or explicit VR little endian, explicit VR big endian or encapsulated
transfer syntax, no command set, every element complete in the file and the VRs as the transfer syntax
says, pydicom reading with its default options. A top-level sequence of undefined length is handed to
pydicom's own ``read_sequence`` at its place in the file, as pydicom's generator does. Anything else (no
meta, a missing, private or deflated transfer syntax, an undefined-length value that is not a sequence, a
truncated or malformed element, an unknown VR) returns None, and the caller reads the file with
``dcmread`` as before: the dataset is pydicom's in every case.

Measured on the CRLM replica's CT slices (``benchmarks/scale_bench.py``): the whole per-file read of the
harvest (header, pixel-length check, attributes, geometry) went from 0.32 to 0.22 ms.
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any, BinaryIO, TypeVar

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filereader import read_sequence
from pydicom.tag import BaseTag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    PrivateTransferSyntaxes,
)
from pydicom.values import convert_string

from isaprofile.harvest import dicom_flat
from isaprofile.harvest.dicom_flat import tag_key

__all__ = ["read_header"]

_D = TypeVar("_D", bound=Dataset)

BLOCK = 1 << 13  # the first read (as much as a buffered reader takes); a longer header is read on as it needs
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})  # where stop_before_pixels stops
_CHARSET = 0x00080005
_SYNTAX = 0x00020010  # TransferSyntaxUID
_UNDEFINED = 0xFFFFFFFF
_IMPLICIT = {True: struct.Struct("<HHL").unpack_from, False: struct.Struct(">HHL").unpack_from}
_EXPLICIT = {True: struct.Struct("<HH2sH").unpack_from, False: struct.Struct(">HH2sH").unpack_from}
_LENGTH = {True: struct.Struct("<L").unpack_from, False: struct.Struct(">L").unpack_from}
_TAG = {True: struct.Struct("<HH").unpack_from, False: struct.Struct(">HH").unpack_from}


class _Plain(Exception):
    """The file is not the plain case: ``dcmread`` reads it."""


class _Buffer:
    """The file's bytes from its start, read on demand (a header is a few KiB; a SEG's a few hundred)."""

    __slots__ = ("fh", "size", "data")

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size = fh, size
        self.data = fh.read(min(size, BLOCK))

    def need(self, end: int) -> bytes:
        """The buffer holding at least ``end`` bytes; :class:`_Plain` when the file is shorter."""
        if end > len(self.data):
            if end > self.size:
                raise _Plain
            self.fh.seek(len(self.data))  # a sequence read by pydicom may have moved the file
            self.data += self.fh.read(max(end - len(self.data), BLOCK))
            if end > len(self.data):
                raise _Plain  # the file shrank under us
        return self.data


def _elements(buf: _Buffer, pos: int, implicit: bool, little: bool, meta: bool) -> tuple[dict[BaseTag, Any], int]:
    """The elements from ``pos`` to the end of the meta group (``meta``), else to the pixel data or the end of
    the file, as pydicom's element generator yields them; and the position it stops at."""
    known, long_vrs = dicom_flat._VRS, dicom_flat._LONG
    implicit_head, explicit_head, long_length = _IMPLICIT[little], _EXPLICIT[little], _LENGTH[little]
    out: dict[BaseTag, Any] = {}
    encoding: Any = default_encoding
    first = True
    size = buf.size
    make = tuple.__new__  # RawDataElement(...) without the namedtuple's constructor call: the same tuple
    data = buf.data
    while pos < size:
        if pos + 12 > len(data):
            data = buf.need(min(pos + 12, size))
            if pos + 8 > len(data):
                raise _Plain
        if meta and data[pos : pos + 2] != b"\x02\x00":
            break  # the end of the meta group (whatever the encoding of what follows)
        if implicit:
            group, elem, length = implicit_head(data, pos)
            vr = None
            head = 8
        else:
            group, elem, vr_bytes, length = explicit_head(data, pos)
            vr = known.get(vr_bytes)
            if vr is None:
                raise _Plain  # an unknown VR, or implicit VR where explicit is declared
            head = 8
            if vr in long_vrs:
                if pos + 12 > len(data):
                    raise _Plain
                (length,) = long_length(data, pos + 8)
                head = 12
        if first and implicit and 0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B:
            raise _Plain  # explicit VR where implicit is declared: pydicom warns and switches
        first = False
        tag = group << 16 | elem
        if not meta and tag in _PIXEL_TAGS:
            break
        if group == 0xFFFE or (not meta and group == 0):
            raise _Plain  # a delimiter or a command set: pydicom's own paths
        value_at = pos + head
        if length == _UNDEFINED:
            pos = _undefined_sequence(buf, out, tag, vr, value_at, implicit, little, encoding)
            data = buf.data
            continue
        pos = value_at + length
        if pos > len(data):
            data = buf.need(pos)
        value: Any = data[value_at:pos] if length else empty_value_for_VR(vr, raw=True)
        key = tag_key(tag)
        out[key] = make(RawDataElement, (key, vr, length, value, value_at, implicit, little, True, False))
        if tag == _CHARSET:  # the text of sequences read below is decoded with it
            encoding = convert_encodings(convert_string(value or b"", little))
    return out, pos


def _undefined_sequence(
    buf: _Buffer, out: dict[BaseTag, Any], tag: int, vr: str | None, value_at: int, implicit: bool, little: bool,
    encoding: Any,
) -> int:  # fmt: skip
    """An element of undefined length at ``value_at``: a sequence is read by pydicom's ``read_sequence`` from
    the file, as its element generator does (and stored as the DataElement it yields); the position after it.
    An undefined-length value of any other kind is left to ``dcmread``."""
    if vr == "UN":
        vr = "SQ"  # pydicom's infer_sq_for_un_vr (its default, which _reading_is_default checks)
    if vr is None:
        vr = dicom_flat._undefined_vr(tag)
        if vr is None:  # not in the dictionary: a sequence when an item follows
            data = buf.need(value_at + 4)
            vr = "SQ" if _TAG[little](data, value_at) == (0xFFFE, 0xE000) else None
    if vr != "SQ":
        raise _Plain
    buf.fh.seek(value_at)
    seq = read_sequence(buf.fh, implicit, little, _UNDEFINED, encoding)
    out[tag_key(tag)] = DataElement(tag_key(tag), vr, seq, value_at, is_undefined_length=True)
    return buf.fh.tell()


def _syntax(uid: str | None) -> tuple[bool, bool]:
    """(implicit VR, little endian) as ``read_partial`` derives them from the transfer syntax (as pydicom's
    ``convert_UI`` reads it: ASCII without trailing NULs and spaces; a multi-valued one is no syntax)."""
    if uid is None or "\\" in uid or uid == DeflatedExplicitVRLittleEndian or uid in PrivateTransferSyntaxes:
        raise _Plain
    if uid == ImplicitVRLittleEndian:
        return True, True
    if uid == ExplicitVRBigEndian:
        return False, False
    if uid == ExplicitVRLittleEndian:
        return False, True
    return False, True  # any other syntax (every encapsulated one) is explicit VR little endian


def read_header(fh: BinaryIO, size: int) -> FileDataset | None:
    """``dcmread(fh, stop_before_pixels=True)`` for the plain case (see the module's notes), else None.

    ``fh`` is a file open for binary reading at its start; ``size`` is its size. On success the file is
    positioned where ``dcmread`` leaves it (the pixel data element, or the end); on None, anywhere.
    """
    if not dicom_flat._reading_is_default() or fh.tell() != 0:
        return None
    try:
        return _read(fh, size)
    except (_Plain, struct.error):
        return None


def _read(fh: BinaryIO, size: int) -> FileDataset:
    buf = _Buffer(fh, size)
    if len(buf.data) < 132 or buf.data[128:132] != b"DICM":
        raise _Plain
    preamble = buf.data[:128]
    raw_meta, pos = _elements(buf, 132, False, True, True)
    if not raw_meta or pos >= size:
        raise _Plain
    # as pydicom's _read_file_meta_info (its intermediate Dataset shares the same dict and is dropped). It also
    # converts the first element to catch a meta group in implicit VR: that never reaches here (its length
    # bytes are no VR, so _elements declined). Elements stay raw until asked for, as ever.
    file_meta = _made(FileMetaDataset, _dict=raw_meta, _read_implicit=False, _read_little=True,
                      _read_charset=default_encoding)  # fmt: skip
    syntax = raw_meta.get(tag_key(_SYNTAX))
    implicit, little = _syntax(syntax.value.decode(default_encoding).rstrip("\0 ") if syntax and syntax.value else None)
    raw, stop = _elements(buf, pos, implicit, little, False)
    # as read_partial, without read_dataset's intermediate Dataset (the same dict; its encoding is replaced)
    if type(fh) is io.BufferedReader and isinstance(fh.name, str):
        ds = _made(FileDataset, _dict=raw, preamble=preamble, file_meta=file_meta, _read_implicit=implicit,
                   _read_little=little, _is_implicit_VR=implicit, _is_little_endian=little, fileobj_type=open,
                   buffer=None, filename=fh.name, timestamp=os.fstat(fh.fileno()).st_mtime)  # fmt: skip
    else:
        ds = FileDataset(fh, raw, preamble, file_meta, implicit, little)
        ds.set_original_encoding(implicit, little)
    ds._read_charset = ds._character_set
    fh.seek(stop)
    return ds


def _made(cls: type[_D], **attributes: Any) -> _D:
    """A ``cls`` with the attributes pydicom's constructor gives it, then ``attributes``.

    Building a read header's two datasets through their constructors was a third of :func:`read_header`'s
    time (about 20 of 64 us a CT slice): each attribute goes through ``Dataset.__setattr__``, and
    ``FileDataset`` stats its file twice for the time stamp. The state of an empty one is taken once from
    the constructor itself and copied (its containers as new ones); ``tests/test_dicom_header.py`` checks
    every attribute against ``dcmread``'s.
    """
    state, containers = _blank(cls)
    ds = object.__new__(cls)
    vars(ds).update(state)
    for name in containers:
        setattr(ds, name, state[name].copy())
    vars(ds).update((k, v) for k, v in attributes.items() if k in state)  # (_is_implicit_VR: pydicom < 4 only)
    return ds


def _blank(cls: type[Dataset]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The attributes of an empty ``cls`` as its constructor sets them, and those that are containers."""
    made = _BLANK.get(cls)
    if made is None:
        blank = FileDataset(io.BytesIO(), {}, None, FileMetaDataset()) if cls is FileDataset else cls()
        state = dict(vars(blank))
        made = _BLANK[cls] = state, tuple(k for k, v in state.items() if type(v) in (dict, list, set) and k != "_dict")
    return made


_BLANK: dict[type, tuple[dict[str, Any], tuple[str, ...]]] = {}
