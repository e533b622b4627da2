"""DICOM header harvest: read one file cheaply (headers only), then group instances into series.

:func:`read_dicom_file` runs in worker processes and returns a small, quickly pickled record; the
pixel data is never loaded (its length is checked from the element header and the file size, see
:mod:`isaprofile.harvest.pixels`). :func:`group_series` merges the records of one Series Instance
UID into one :class:`~isaprofile.harvest.types.HarvestedImage` (one scan = one series, however many
slice files), using the first instance (by path) for the values and flagging disagreements.
"""

from __future__ import annotations

import os
import posixpath
import struct
import warnings
from collections.abc import Iterable
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError

from isaprofile._shared import OneCopy
from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest import dicom_flat
from isaprofile.harvest.dicom_attrs import harvest_attributes, tag_path
from isaprofile.harvest.dicom_header import read_header
from isaprofile.harvest.geometry import read_geometry, series_geometry
from isaprofile.harvest.nifti import Inspect
from isaprofile.harvest.pixels import PIXEL_TAGS, UNDEFINED, check_image_integrity, element_header
from isaprofile.harvest.seg import is_seg, read_instance_references, read_references, read_segments, to_segments
from isaprofile.harvest.types import HarvestedImage, RawValues, to_values
from isaprofile.model import Provenance, Value

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ".ima", ""}
_DICOM_STARTS = (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02")
READ_ERRORS = (
    InvalidDicomError, OSError, EOFError, struct.error, ValueError, KeyError, IndexError, TypeError,
    NotImplementedError, OverflowError, BytesLengthException,
)  # fmt: skip
# attributes every instance of a series should share; disagreements are findings
CONSISTENT = (
    "Modality", "Manufacturer", "ManufacturerModelName", "Rows", "Columns", "PixelSpacing", "SliceThickness",
    "KVP", "ConvolutionKernel", "MagneticFieldStrength", "RepetitionTime", "EchoTime", "FlipAngle",
    "StudyInstanceUID", "PatientID",
)  # fmt: skip
_PIXEL_KEYS = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "NumberOfFrames")
IDENTIFYING = {"PatientID", "StudyInstanceUID"}  # never shown in messages

Record = dict[str, Any]


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


def group_series(records: Iterable[Record]) -> tuple[list[HarvestedImage], list[Issue]]:
    """Merge the readable records into one item per series (and per SEG); return items and findings.

    Items are ordered by their first file's path. Records without a Series Instance UID form a series
    of their own, with a ``dicom-tag-missing`` finding.
    """
    groups = SeriesGroups()
    for rec in records:
        groups.add(rec)
    return groups.finish()


class SeriesGroups:
    """Records merged into series as they arrive (:func:`group_series` over a stream).

    Of each series only its first instance by path is kept whole; of the others, what the series checks
    read: path, SOP Instance UID, frames, geometry, the PHI gate's result and the :data:`CONSISTENT`
    values (one shared dict while they agree). A CRLM slice's record is about 9 KB, its slim form a tenth
    of that, so memory no longer grows with every header value of every slice (17,639 of them).
    """

    def __init__(self) -> None:
        self._groups: dict[str, list[Record]] = {}  # first record (whole) + the rest (slim)
        self._consistent: OneCopy[tuple[tuple[str, Any], ...]] = OneCopy(4096)
        self._shared: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self.found: list[Issue] = []

    def add(self, rec: Record) -> None:
        """Take one record of :func:`read_dicom_file`: its findings, and its place in its series."""
        self.found.extend(rec["issues"])
        if not rec["ok"]:
            return
        if rec["uid"] is None:
            self.found.append(issue("dicom-tag-missing", file=rec["file"], path=tag_path("SeriesInstanceUID"),
                                    tag=tag_path("SeriesInstanceUID")))  # fmt: skip
        recs = self._groups.setdefault(rec["uid"] or f"\0{rec['file']}", [])
        if not recs:
            recs.append(rec)
        elif rec["file"] < recs[0]["file"]:  # files came out of order: this one is the series' first
            recs.append(self._slim(recs[0]))
            recs[0] = rec
        else:
            recs.append(self._slim(rec))

    def _slim(self, rec: Record) -> Record:
        values = rec["values"]
        consistent = tuple((k, values[k]) for k in CONSISTENT if k in values)
        try:
            key = self._consistent(consistent)
        except TypeError:  # an unhashable value (never read so far): this record keeps a dict of its own
            shared = dict(consistent)
        else:
            if len(self._shared) >= 4096:
                self._shared.clear()
            shared = self._shared.setdefault(key, dict(key))  # read only, never changed
        return {"file": rec["file"], "sop": rec["sop"], "frames": rec["frames"], "geo": rec["geo"],
                "inspected": rec.get("inspected"), "uid": rec["uid"], "values": shared}  # fmt: skip

    def finish(self) -> tuple[list[HarvestedImage], list[Issue]]:
        """One item per series (ordered by first path) and every finding, the records' own first."""
        items = []
        found = self.found
        for recs in self._groups.values():
            recs.sort(key=lambda r: r["file"])
            found.extend(_inconsistencies(recs))
            item, geometry_issues = _series(recs)
            found.extend(geometry_issues)
            items.append(item)
        items.sort(key=lambda i: i.path)
        self._groups = {}
        return items, found


def _inconsistencies(recs: list[Record]) -> list[Issue]:
    first = recs[0]
    out = []
    # a multi-echo series (several EchoNumbers) differs in EchoTime by design
    multi_echo = len({r["geo"].get("echo") for r in recs}) > 1
    for key in CONSISTENT:
        if key == "EchoTime" and multi_echo:
            continue
        ref = first["values"].get(key)
        for rec in recs[1:]:
            other = rec["values"].get(key)
            if (other and other[0]) != (ref and ref[0]):
                hide = key in IDENTIFYING
                out.append(issue(
                    "series-inconsistent", file=rec["file"], path=tag_path(key), attribute=key,
                    first="(withheld)" if hide else _shown(ref), first_file=first["file"],
                    other="(withheld)" if hide else _shown(other),
                ))  # fmt: skip
                break
    return out


def _shown(raw: tuple | None) -> str:
    if raw is None:
        return "(absent)"
    val, unit, _ = raw
    return f"{val} {unit}" if unit else str(val)


def _series(recs: list[Record]) -> tuple[HarvestedImage, list[Issue]]:
    first = recs[0]
    paths = [r["file"] for r in recs]
    dirs = {posixpath.dirname(p) for p in paths}  # a series is nearly always one folder: no commonpath then
    folder = (next(iter(dirs)) if len(dirs) == 1 else posixpath.commonpath(sorted(dirs))) or "."
    raw: RawValues = first["values"]
    values = to_values(raw, first["file"])
    geometry = series_geometry(recs, raw, folder)
    values["NumberOfInstances"] = Value(len(recs), None, Provenance(file=folder, path="number of instances"))
    for key, (val, prov) in geometry.values.items():
        values[key] = Value(val, None, prov)
    seg = first["seg"]
    modality = raw.get("Modality", (None,))[0]
    subject = raw.get("PatientID", (None,))[0]
    item = HarvestedImage(
        kind="dicom-seg" if seg is not None else "dicom-series",
        paths=paths,
        modality=str(modality) if modality else None,
        uid=first["uid"],
        subject=str(subject) if subject else None,
        folder=folder,
        values=values,
        segments=to_segments(seg[0], first["file"]) if seg else [],
        references=list(seg[1]) if seg else [],
        referenced_instances=list(seg[2]) if seg else [],
        instances=[r["sop"] for r in recs],
        inspected={r["file"]: r["inspected"] for r in recs if r.get("inspected") is not None},
        study_uid=str(study) if (study := raw.get("StudyInstanceUID", (None,))[0]) else None,
    )
    return item, geometry.issues
