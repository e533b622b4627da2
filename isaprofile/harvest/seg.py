"""DICOM SEG: the segments of SegmentSequence (0062,0002) and the series they segment.

Coded attributes (category, type, anatomic region) become :class:`isaprofile.model.Term` values; see
:func:`isaprofile.harvest.dicom_attrs.code_term` for how coding schemes map to term sources.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from isaprofile.harvest.dicom_attrs import read_attributes, read_code, tag_path
from isaprofile.harvest.dicom_flat import FlatError, raw_uids, sequence_value
from isaprofile.harvest.series import RawSegment
from isaprofile.harvest.types import InstanceRefs, RawValues

SEGMENT_ATTRIBUTES: dict[str, str | None] = {
    "SegmentNumber": None, "SegmentLabel": None, "SegmentDescription": None,
    "SegmentAlgorithmType": None, "SegmentAlgorithmName": None,
}  # fmt: skip
SEGMENT_CODES = (
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentedPropertyTypeModifierCodeSequence",
    "AnatomicRegionSequence",
)
# how a reader gets a top-level sequence: as dicom_flat items when they read, else as pydicom's Datasets
Getter = Callable[[Dataset, str], Any]


def _pydicom(ds: Dataset, keyword: str) -> Any:
    return ds.get(keyword)


def _read(reader: Callable[[Dataset, Getter], Any], ds: Dataset) -> Any:
    """``reader`` over dicom_flat items, or over pydicom's Datasets when an item cannot be read that way."""
    try:
        return reader(ds, sequence_value)
    except FlatError:
        return reader(ds, _pydicom)


def is_seg(values: RawValues) -> bool:
    """True for a Segmentation object (Modality SEG, which the Segmentation IOD requires)."""
    modality = values.get("Modality")
    return modality is not None and modality[0] == "SEG"


def read_segments(ds: Dataset) -> list[RawSegment]:
    """Every segment of ``ds`` as ``(number, label, raw values)``, in file order."""
    segments: list[RawSegment] = _read(_segments, ds)
    return segments


def _segments(ds: Dataset, get: Getter) -> list[RawSegment]:
    out: list[RawSegment] = []
    seq_path = tag_path("SegmentSequence")
    for i, item in enumerate(get(ds, "SegmentSequence") or []):
        prefix = f"{seq_path}[{i}]>"
        raw: RawValues = {}
        read_attributes(item, SEGMENT_ATTRIBUTES, raw, prefix)
        for keyword in SEGMENT_CODES:
            read_code(item, keyword, raw, prefix)
        number = raw.get("SegmentNumber", (i + 1, None, ""))[0]
        label = raw.get("SegmentLabel", (f"segment {number}", None, ""))[0]
        out.append((int(number) if isinstance(number, int | float) else i + 1, str(label), raw))
    return out


def read_references(ds: Dataset) -> list[str]:
    """The Series Instance UIDs of ReferencedSeriesSequence (0008,1115), in file order."""
    refs: list[str] = _read(_references, ds)
    return refs


def _references(ds: Dataset, get: Getter) -> list[str]:
    refs = []
    for item in get(ds, "ReferencedSeriesSequence") or []:
        uid = item.get("SeriesInstanceUID")
        if uid:
            refs.append(str(uid))
    return refs


_SOP = tag_path("ReferencedSOPInstanceUID")


def read_instance_references(ds: Dataset) -> InstanceRefs:
    """Every SOP Instance UID a SEG references, with the tag path that names it, in file order.

    First the ReferencedInstanceSequence (0008,114A) of each ReferencedSeriesSequence item, then the
    per-frame source images (PerFrameFunctionalGroupsSequence > DerivationImageSequence >
    SourceImageSequence) that the series-level list does not already name: a SEG of 240 frames
    referencing one missing slice gives one finding, not one per frame.
    """
    refs: InstanceRefs = _read(_instance_references, ds)
    return refs


@functools.cache
def _templates() -> tuple[str, str]:
    """The tag paths of a series-level and a per-frame reference, with their item numbers as fields."""
    series = f"{tag_path('ReferencedSeriesSequence')}[{{}}]>{tag_path('ReferencedInstanceSequence')}[{{}}]>{_SOP}"
    frames = (f"{tag_path('PerFrameFunctionalGroupsSequence')}[{{}}]>{tag_path('DerivationImageSequence')}[{{}}]>"
              f"{tag_path('SourceImageSequence')}[{{}}]>{_SOP}")  # fmt: skip
    return series, frames


def _instance_references(ds: Dataset, get: Getter) -> InstanceRefs:
    out = InstanceRefs(_templates())
    seen: set[str] = set()
    for i, item in enumerate(get(ds, "ReferencedSeriesSequence") or []):
        for j, ref in enumerate(item.get("ReferencedInstanceSequence") or []):
            uid = ref.get("ReferencedSOPInstanceUID")
            if uid:
                out.add(str(uid), 0, i, j)
                seen.add(str(uid))
    per_frame = raw_uids(ds, "PerFrameFunctionalGroupsSequence", "ReferencedSOPInstanceUID")
    if per_frame is not None and per_frame <= seen:
        return out  # the frames name no source the series list does not: walking them would add nothing
    # frames that repeat a derivation byte for byte share one read of it (dicom_flat): its references are
    # all seen at its first frame, so it is walked once (kept in ``walked`` so its id stays its own)
    walked: dict[int, Any] = {}
    for f, frame in enumerate(get(ds, "PerFrameFunctionalGroupsSequence") or []):
        derivations = frame.get("DerivationImageSequence") or []
        if walked.get(id(derivations)) is derivations:
            continue
        walked[id(derivations)] = derivations
        for d, derivation in enumerate(derivations):
            for k, source in enumerate(derivation.get("SourceImageSequence") or []):
                uid = source.get("ReferencedSOPInstanceUID")
                if uid and str(uid) not in seen:
                    seen.add(str(uid))
                    out.add(str(uid), 1, f, d, k)
    return out
