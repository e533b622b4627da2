"""DICOM header harvest: read one file cheaply (headers only).

:func:`read_dicom_file` runs in worker processes and returns a small, quickly pickled record; the
pixel data is never loaded (its length is checked from the element header and the file size, see
:mod:`isaprofile.harvest.pixels`). :mod:`isaprofile.harvest.series` merges the records of one Series
Instance UID into one :class:`~isaprofile.harvest.types.HarvestedImage`.
"""

from __future__ import annotations

import os
import struct
import warnings
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError

from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest import dicom_flat
from isaprofile.harvest.dicom_attrs import harvest_attributes
from isaprofile.harvest.dicom_header import read_header
from isaprofile.harvest.geometry import read_geometry
from isaprofile.harvest.nifti import Inspect
from isaprofile.harvest.pixels import PIXEL_TAGS, UNDEFINED, check_image_integrity, element_header
from isaprofile.harvest.seg import is_seg, read_instance_references, read_references, read_segments
from isaprofile.harvest.series import Record

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ".ima", ""}
_DICOM_STARTS = (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02")
READ_ERRORS = (
    InvalidDicomError, OSError, EOFError, struct.error, ValueError, KeyError, IndexError, TypeError,
    NotImplementedError, OverflowError, BytesLengthException,
)  # fmt: skip
_PIXEL_KEYS = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "NumberOfFrames")


def _encoding(ds: Dataset) -> tuple[bool, bool]:
    """(implicit VR, little endian) the dataset was read with."""
    enc = getattr(ds, "original_encoding", None)
    if enc is not None and enc[0] is not None:
        return bool(enc[0]), bool(enc[1])
    return bool(getattr(ds, "is_implicit_VR", False)), bool(getattr(ds, "is_little_endian", True))


def _record(rel: str, issues: list[Issue], **fields: Any) -> Record:
    return {"file": rel, "issues": issues, "uid": None, "sop": None, "values": {}, "frames": 0, "seg": None, "geo": {},
            **fields}  # fmt: skip


def _header_is_whole(fh: BinaryIO, size: int, implicit: bool, little: bool) -> bool:
    """True when the dataset read up to the pixel data is all of the file's elements: the file ends
    there, or with a pixel data element of defined length (encapsulated data or trailing elements such
    as digital signatures: False). Leaves the file position where it was."""
    start = fh.tell()
    if start >= size:
        return True
    try:
        header = element_header(fh, implicit, "<" if little else ">")
    finally:
        fh.seek(start)
    if header is None:
        return False
    tag, _vr, length, head_size = header
    return tag in PIXEL_TAGS and length != UNDEFINED and start + head_size + length >= size


def read_dicom_file(path: str, rel: str, inspect: Inspect | None = None) -> Record:
    """Read the header of one file and check its pixel payload, in one open; never raises for a bad file.

    ``inspect("dicom", dataset, rel)``, when given, runs on the parsed header in the same read (the PHI
    gate's facts); its result is the record's ``inspected``.

    Returns a record: ``file`` (``rel``), ``ok`` (a DICOM dataset was read), ``uid`` (Series Instance
    UID or None), ``values`` (raw values), ``frames``, ``seg`` (segments and references for a SEG,
    else None) and ``issues`` (findings for this file).
    """
    issues: list[Issue] = []
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(132)
            part10 = head[128:132] == b"DICM"
            suffix = os.path.splitext(path)[1].lower()
            if not part10 and suffix not in DICOM_SUFFIXES and not head.startswith(_DICOM_STARTS):
                return _record(rel, [issue("not-dicom", file=rel)], ok=False)
            fh.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_header(fh, size) if part10 else None  # the plain case, faster; else pydicom's reader
                complete = ds is not None  # (that reader takes only headers whose every element is whole)
                if ds is None:
                    fh.seek(0)
                    ds = dcmread(fh, stop_before_pixels=True, force=not part10)
                if not part10 and not any(k in ds for k in ("SOPClassUID", "SeriesInstanceUID", "Modality")):
                    if suffix and suffix in DICOM_SUFFIXES:
                        return _record(rel, [issue("dicom-no-meta", file=rel), _unreadable(rel)], ok=False)
                    return _record(rel, [issue("not-dicom", file=rel)], ok=False)
                if not part10:
                    issues.append(issue("dicom-no-meta", file=rel))
                implicit, little = _encoding(ds)
                meta = getattr(ds, "file_meta", None)
                syntax = dicom_flat.plain_value(meta, "TransferSyntaxUID") if meta else None
                whole = inspect is not None and _header_is_whole(fh, size, implicit, little)
                finding = check_image_integrity(fh, size, ds, implicit=implicit, little=little, syntax=syntax,
                                                complete=complete)  # fmt: skip
                if finding is not None and finding[0] in ("dicom-header-truncated", "dicom-unreadable"):
                    code, params = finding  # a header cut short: its values cannot be trusted
                    return _record(rel, [*issues, issue(code, file=rel, **params)], ok=False)
                # the hook sees every element only when nothing follows the pixel data (else the gate reads it)
                inspected = inspect("dicom", ds, rel) if inspect is not None and whole else None
                values = harvest_attributes(ds)
                seg = (read_segments(ds), read_references(ds), read_instance_references(ds)) if is_seg(values) else None
                geo = read_geometry(ds)
    except READ_ERRORS as exc:
        return _record(rel, [*issues, issue("dicom-unreadable", file=rel, reason=_reason(exc))], ok=False)
    finally:
        dicom_flat.forget()  # the sequences read for this file's gate and readers are not looked up again
    if finding is not None:
        code, params = finding
        issues.append(issue(code, file=rel, **{"path": "(7FE0,0010) PixelData", **params}))
    uid = values.get("SeriesInstanceUID", (None,))[0]
    sop = values.get("SOPInstanceUID", (None,))[0]
    frames = values.get("NumberOfFrames", (1,))[0]
    return _record(
        rel, issues, ok=True, uid=str(uid) if uid else None, values=values, sop=str(sop) if sop else None, geo=geo,
        frames=int(frames) if isinstance(frames, int | float) else 1, seg=seg, inspected=inspected,
    )  # fmt: skip


def _unreadable(rel: str) -> Issue:
    return issue("dicom-unreadable", file=rel, reason="no DICOM data elements could be read")


def _reason(exc: BaseException) -> str:
    """A one-line reason for a read error, without the file's path (the finding names the file)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
