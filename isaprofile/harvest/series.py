"""DICOM series from their instances' records: one :class:`~isaprofile.harvest.types.HarvestedImage` per
Series Instance UID (one scan = one series, however many slice files), with its geometry, the findings of
instances that disagree, and the SEG objects' references to their source series checked.

The records come from :func:`isaprofile.harvest.dicom.read_dicom_file` in the workers, or from the header
cache. Nothing here reads a file or needs pydicom: a re-run whose headers all come from the cache groups
them without importing it (0.3-0.7 s). The tags this module names in findings and provenances are
listed in :data:`TAGS` (DICOM PS3.6) rather than looked up in pydicom's dictionary.
"""

from __future__ import annotations

import math
import pickle
import posixpath
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from isaprofile._shared import OneCopy
from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest.types import HarvestedImage, InstanceRefs, RawValues, Segment, to_values
from isaprofile.model import Provenance, Scalar, Value

# attributes every instance of a series should share; disagreements are findings
CONSISTENT = (
    "Modality", "Manufacturer", "ManufacturerModelName", "Rows", "Columns", "PixelSpacing", "SliceThickness",
    "KVP", "ConvolutionKernel", "MagneticFieldStrength", "RepetitionTime", "EchoTime", "FlipAngle",
    "StudyInstanceUID", "PatientID",
)  # fmt: skip
IDENTIFYING = {"PatientID", "StudyInstanceUID"}  # never shown in messages

Record = dict[str, Any]  # an instance's record (read_dicom_file)
RawSegment = tuple[int, str, RawValues]  # a SEG segment's number, label and raw values

#: the tags of the keywords named here (DICOM PS3.6); ``tests/test_harvest_dicom.py`` checks them against
#: pydicom's dictionary
TAGS = {
    "Modality": 0x00080060, "Manufacturer": 0x00080070, "ManufacturerModelName": 0x00081090,
    "ReferencedSeriesSequence": 0x00081115, "SOPInstanceUID": 0x00080018, "PatientID": 0x00100020,
    "SliceThickness": 0x00180050, "KVP": 0x00180060, "RepetitionTime": 0x00180080, "EchoTime": 0x00180081,
    "MagneticFieldStrength": 0x00180087, "ConvolutionKernel": 0x00181210, "FlipAngle": 0x00181314,
    "StudyInstanceUID": 0x0020000D, "SeriesInstanceUID": 0x0020000E, "ImagePositionPatient": 0x00200032,
    "PlanePositionSequence": 0x00209113, "Rows": 0x00280010, "Columns": 0x00280011, "PixelSpacing": 0x00280030,
    "PerFrameFunctionalGroupsSequence": 0x52009230,
}  # fmt: skip


def tag_path(keyword: str) -> str:
    """``(gggg,eeee) Keyword``, as :func:`isaprofile.harvest.dicom_attrs.tag_path` writes it."""
    tag = TAGS[keyword]
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}"


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

    Series can also come finished, from :meth:`part` of the groups of one folder's files (made in a worker
    or loaded from the header cache): :meth:`merge` keeps such a series as it is, unless another part has
    records of the same series too, and then merges the records of both.
    """

    def __init__(self) -> None:
        # per series, in order of arrival: its records (first whole, the rest slim), or a finished series
        self._groups: dict[str, list[Record] | _Finished] = {}
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
        self._merge(rec["uid"] or f"\0{rec['file']}", [rec])

    def _merge(self, uid: str, recs: list[Record]) -> None:
        """Add ``recs`` (a series' records sorted by path, the first whole, the others slim) to its series."""
        mine = self._groups.get(uid)
        if mine is None:
            self._groups[uid] = list(recs)
            return
        if isinstance(mine, _Finished):  # records of it elsewhere too: back to its records
            mine = self._groups[uid] = list(mine.records())
        first, rest = (recs[0], mine[0]) if recs[0]["file"] < mine[0]["file"] else (mine[0], recs[0])
        mine[0] = first
        mine.append(self._slim(rest))
        mine.extend(recs[1:])

    def part(self) -> SeriesPart:
        """The series taken so far, each finished, with the records' findings: what :meth:`merge` takes. The
        header cache keeps one per folder, so a re-run merges a few hundred of them instead of adding every
        record, and finishes no series again. The records stay along, compressed, for a series that
        continues in another folder."""
        return self.found, {uid: _Finished.of(recs) for uid, recs in self._groups.items() if isinstance(recs, list)}

    def merge(self, part: SeriesPart) -> None:
        """Take the series of another :class:`SeriesGroups` (its :meth:`part`), as if each record had been added."""
        found, series = part
        self.found.extend(found)
        for uid, done in series.items():
            if uid in self._groups:
                self._merge(uid, list(done.records()))
            else:
                self._groups[uid] = done

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
            done = recs if isinstance(recs, _Finished) else _Finished.of(recs, keep=False)
            found.extend(done.issues)
            items.append(done.item)
        items.sort(key=lambda i: i.path)
        self._groups = {}
        # a SEG's references name its source series' slices: the same strings, not a copy from each file
        known = {u: u for i in items if i.kind == "dicom-series" for u in i.instances if u}
        for item in items:
            if isinstance(item.referenced_instances, InstanceRefs):
                item.referenced_instances.share(known)
        return items, found


@dataclass(slots=True)
class _Finished:
    """A series made from all its records: its item and findings, and its records compressed (for a series
    that turns out to continue in another part)."""

    item: HarvestedImage
    issues: list[Issue]
    packed: bytes | None

    @classmethod
    def of(cls, recs: list[Record], keep: bool = True) -> _Finished:
        recs.sort(key=lambda r: r["file"])
        issues = _inconsistencies(recs)
        item, geometry_issues = _series(recs)
        return cls(item, issues + geometry_issues, zlib.compress(pickle.dumps(recs, protocol=5), 1) if keep else None)

    def records(self) -> list[Record]:
        if self.packed is None:  # finish() makes these, and merges nothing after
            raise RuntimeError("a finished series without its records cannot be merged")
        recs: list[Record] = pickle.loads(zlib.decompress(self.packed))
        return recs


# the records' findings, and each series finished (SeriesGroups.part)
SeriesPart = tuple[list[Issue], dict[str, _Finished]]


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
        referenced_instances=seg[2] if seg else (),
        instances=[r["sop"] for r in recs],
        inspected={r["file"]: r["inspected"] for r in recs if r.get("inspected") is not None},
        study_uid=str(study) if (study := raw.get("StudyInstanceUID", (None,))[0]) else None,
    )
    return item, geometry.issues


def to_segments(raw: Iterable[RawSegment], file: str) -> list[Segment]:
    """Segments with :class:`Value` attributes from their raw form (``file``: the SEG's path)."""
    return [Segment(number, label, to_values(values, file)) for number, label, values in raw]


@dataclass
class Geometry:
    """The derived values of one series, each with where it was worked out from."""

    values: dict[str, tuple[Scalar, Provenance]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def _distinct(recs: Sequence[dict[str, Any]], key: str) -> set[Any]:
    return {v for r in recs if (v := r["geo"].get(key)) is not None}


def _text(nums: Iterable[float]) -> str:
    return "\\".join(str(int(n)) if float(n).is_integer() else str(n) for n in sorted(nums))


def series_geometry(recs: Sequence[dict[str, Any]], raw: dict[str, Any], folder: str) -> Geometry:
    """The geometry of the series made of ``recs`` (worker records, sorted by path).

    ``raw`` holds the raw values of the first instance (Rows, Columns, Modality); ``folder`` is the
    series folder, used as the provenance of counts made over its files.
    """
    out = Geometry()
    first = recs[0]
    rows, cols = raw.get("Rows", (None,))[0], raw.get("Columns", (None,))[0]
    is_seg = raw.get("Modality", (None,))[0] == "SEG"
    files = Provenance(file=folder, path="number of instances")
    enhanced = first["geo"].get("frames") if len(recs) == 1 else None
    mosaic = [r["geo"].get("mosaic") for r in recs] if "mosaic" in first["geo"] else []
    slices: int
    volumes: int | None
    if enhanced:
        count, positions = enhanced["count"], enhanced["positions"]
        where = Provenance(file=first["file"], path=f"{tag_path('PerFrameFunctionalGroupsSequence')} "
                                                     f"{tag_path('PlanePositionSequence')}")  # fmt: skip
        slices = positions or count
        volumes = count // slices if count % slices == 0 else None
        if volumes is None:
            out.issues.append(issue("series-volumes-irregular", file=first["file"], path=where.path,
                                    frames=count, slices=slices))  # fmt: skip
        echoes, temporal, bvalues = enhanced["echoes"], enhanced["temporal"], enhanced["bvalues"]
    elif mosaic and all(n is not None for n in mosaic) and len(set(mosaic)) == 1:
        n = int(mosaic[0])
        side = math.ceil(math.sqrt(n))
        where = Provenance(file=first["file"], path="(0019,xx0A) NumberOfImagesInMosaic [SIEMENS MR HEADER]")
        if isinstance(rows, int) and isinstance(cols, int) and rows % side == 0 and cols % side == 0:
            rows, cols = rows // side, cols // side
        else:
            out.issues.append(issue("dicom-mosaic-inconsistent", file=first["file"], path=where.path, images=n,
                                    rows=rows, columns=cols, side=side))  # fmt: skip
        slices, volumes = n, len(recs)
        echoes, temporal = len(_distinct(recs, "echo")), len(_distinct(recs, "temporal"))
        bvalues = sorted(_distinct(recs, "bvalue"))
    else:
        frames = sum(r["frames"] for r in recs)
        positions = _distinct(recs, "position")
        where = Provenance(file=folder, path=f"distinct {tag_path('ImagePositionPatient')}") if positions else files
        slices = len(positions) if positions and len(recs) > 1 else frames
        volumes = frames // slices if slices and frames % slices == 0 else None
        if volumes is None:
            out.issues.append(issue("series-volumes-irregular", file=first["file"], path=where.path,
                                    frames=frames, slices=slices))  # fmt: skip
        echoes, temporal = len(_distinct(recs, "echo")), len(_distinct(recs, "temporal"))
        bvalues = sorted(_distinct(recs, "bvalue"))
    out.values["NumberOfSlices"] = (slices, where)
    if rows is not None and cols is not None:
        out.values["MatrixSize"] = (f"{rows}x{cols}x{slices}", where)
    if is_seg:
        return out  # a SEG's frames are segments × slices, not volumes
    if volumes is not None:
        out.values["NumberOfVolumes"] = (volumes, where)
    if echoes > 1:
        out.values["NumberOfEchoes"] = (echoes, Provenance(file=folder, path="distinct echo numbers / times"))
    if temporal > 1:
        out.values["NumberOfTemporalPositions"] = (
            temporal,
            Provenance(file=folder, path="distinct temporal positions"),
        )
    if bvalues:
        out.values["DiffusionBValues"] = (_text(bvalues), Provenance(file=folder, path="distinct b-values"))
    return out


def check_seg_sources(items: Iterable[HarvestedImage]) -> list[Issue]:
    """A ``seg-source-missing`` finding for every referenced series of a SEG not among ``items``, and a
    ``seg-instance-missing`` one for every referenced SOP instance that no harvested file holds.

    The finding names the SEG file and the position in ReferencedSeriesSequence, not the UID (UIDs
    are identifying data under DICOM PS3.15).
    """
    items = list(items)
    present = {i.uid for i in items if i.kind == "dicom-series" and i.uid}
    instances = {u for i in items if i.kind == "dicom-series" for u in i.instances if u}
    found = []
    path = tag_path("ReferencedSeriesSequence")
    for item in items:
        if item.kind != "dicom-seg":
            continue
        missing_series = False
        for n, uid in enumerate(item.references):
            if uid not in present:
                missing_series = True
                found.append(
                    issue(
                        "seg-source-missing",
                        file=item.path,
                        path=f"{path}[{n}]>{tag_path('SeriesInstanceUID')}",
                        index=n + 1,
                    )
                )
        if missing_series:
            continue  # the whole source series is absent: one finding per series is enough
        for n, (uid, where) in enumerate(item.referenced_instances):
            if uid not in instances:
                found.append(issue("seg-instance-missing", file=item.path, path=where, index=n + 1))
    return found
