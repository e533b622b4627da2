"""Image geometry of a DICOM series: in-plane matrix, slices per volume, volumes, echoes, b-values, time points.

What each instance's header gives is read here (:func:`read_geometry`, in the workers); a series' instances are
combined by :func:`isaprofile.harvest.series.series_geometry` (which needs no pydicom: the records may come
from the header cache).

Vendors store the same acquisition in different shapes, and counting files or frames gets the matrix
wrong for most of them:

- **Siemens mosaic** (ImageType contains ``MOSAIC``): each file is one volume whose slices are tiled
  into one large image. The number of tiles is NumberOfImagesInMosaic (private (0019,xx0A) of the
  ``SIEMENS MR HEADER`` block); the tiles form a square of ``ceil(sqrt(n))`` per side, so the in-plane
  matrix is Rows / side × Columns / side and the series has one volume per file.
- **Classic multi-file series** (GE, Philips, Siemens non-mosaic, CT, PET): one slice per file. The
  slices of a volume are the distinct ImagePositionPatient values; repeated positions are further
  volumes (time points of fMRI, b-values / directions of DWI, echoes).
- **Enhanced multi-frame** objects (Enhanced MR/CT/PET, SEG): one file, many frames; the per-frame
  functional groups give each frame's plane position (slices), echo time, diffusion b-value and
  temporal position index.

Echoes are counted from EchoNumbers (else EchoTime / EffectiveEchoTime), time points from
TemporalPositionIdentifier / TemporalPositionIndex, b-values from DiffusionBValue (0018,9087) or the
vendors' private elements (Siemens (0019,xx0C) ``SIEMENS MR HEADER``, GE (0043,xx39) ``GEMS_PARM_01``
first value, Philips (2001,xx03) ``Philips Imaging DD 001``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from isaprofile.harvest.dicom_flat import FlatError, FlatItem, absent_from, plain_value, sequence_value

# (group, element offset, private creator) of the vendors' private elements read here
SIEMENS_MOSAIC = (0x0019, 0x0A, "SIEMENS MR HEADER")
PRIVATE_BVALUES = (
    (0x0019, 0x0C, "SIEMENS MR HEADER"),
    (0x0043, 0x39, "GEMS_PARM_01"),
    (0x2001, 0x03, "Philips Imaging DD 001"),
)
_GE_BVALUE_OFFSET = 1_000_000_000  # GE adds 10^9 multiples to (0043,xx39)[0] in some versions
_DECIMALS = 3  # positions and times are compared to a thousandth of a millimetre / millisecond


def _number(val: Any) -> float | None:
    if val is None:
        return None  # the common case (a frame without the macro), without the exception
    try:
        num = float(val)
    except (TypeError, ValueError):
        return None
    return num if math.isfinite(num) else None


def _groups(ds: Dataset) -> frozenset[int]:
    """The groups ``ds`` has elements in."""
    return frozenset({tag >> 16 for tag in ds.keys()})  # (a BaseTag is an int)


def _private(ds: Dataset, group: int, offset: int, creator: str, groups: frozenset[int] | None = None) -> Any:
    if groups is not None and group not in groups:
        return None  # no element in the group (pydicom's private_block would slice the whole dataset to say so)
    try:
        return ds.get_private_item(group, offset, creator).value
    except (KeyError, ValueError, TypeError):
        return None


def _first(val: Any) -> Any:
    if isinstance(val, list | tuple) or (hasattr(val, "__getitem__") and not isinstance(val, str | bytes)):
        try:
            return val[0] if len(val) else None
        except TypeError:
            return val
    return val


def _bvalue(ds: Dataset, groups: frozenset[int] | None = None) -> float | None:
    std = _number(plain_value(ds, "DiffusionBValue"))
    if std is not None:
        return std
    for group, offset, creator in PRIVATE_BVALUES:
        raw = _private(ds, group, offset, creator, groups)
        if raw is None:
            continue
        num = _number(_first(raw))
        if num is None:
            continue
        if group == 0x0043:
            num = num % _GE_BVALUE_OFFSET
        return num
    return None


def _position(val: Any) -> tuple[float, ...] | None:
    if val is None:
        return None
    try:
        nums = [_number(v) for v in val]
    except TypeError:
        return None
    if len(nums) != 3 or any(n is None for n in nums):
        return None
    return tuple(round(n, _DECIMALS) for n in nums if n is not None)


def _echo(ds: Dataset) -> float | None:
    num = _number(_first(plain_value(ds, "EchoNumbers")))
    if num is not None:
        return num
    return _number(plain_value(ds, "EchoTime"))


def _macro(frame: Any, sequence: str, keyword: str) -> Any:
    if isinstance(frame, FlatItem):
        return frame.macro(sequence, keyword)
    seq = frame.get(sequence)
    if not seq:
        return None
    return seq[0].get(keyword)


def read_geometry(ds: Dataset) -> dict[str, Any]:
    """What one file says about geometry, small enough to pickle from a worker process."""
    groups = _groups(ds)
    geo: dict[str, Any] = {
        "position": _position(plain_value(ds, "ImagePositionPatient")),
        "echo": _echo(ds),
        "temporal": _number(plain_value(ds, "TemporalPositionIdentifier")),
        "bvalue": _bvalue(ds, groups),
    }
    image_type = plain_value(ds, "ImageType")
    if image_type is not None and "MOSAIC" in [str(t).upper() for t in image_type]:
        n = _number(_private(ds, *SIEMENS_MOSAIC, groups))
        geo["mosaic"] = int(n) if n is not None and n >= 1 else None
    try:  # the functional groups as light items read from their bytes (dicom_flat), else as pydicom reads them
        # a macro value whose tag is nowhere in the per-frame bytes is not looked for in each frame (a SEG's
        # frames each carry a FrameContentSequence, without the TemporalPositionIndex asked for)
        lacks = absent_from(ds, "PerFrameFunctionalGroupsSequence", _PER_FRAME)
        counts = _frame_counts(sequence_value(ds, "PerFrameFunctionalGroupsSequence"),
                               lambda: sequence_value(ds, "SharedFunctionalGroupsSequence"), lacks)  # fmt: skip
    except FlatError:
        counts = _frame_counts(ds.get("PerFrameFunctionalGroupsSequence"),
                               lambda: ds.get("SharedFunctionalGroupsSequence"))  # fmt: skip
    if counts is not None:
        geo["frames"] = counts
    return geo


_PER_FRAME = ("EffectiveEchoTime", "TemporalPositionIndex", "DiffusionBValue")  # read from each frame's macros


def _frame_counts(
    frames: Any, shared_groups: Callable[[], Any], lacks: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """Frames, distinct positions, echoes, temporal positions and b-values of the per-frame functional groups
    ``frames`` (pydicom Datasets or dicom_flat items); ``shared_groups()`` gives the shared ones; ``lacks``
    names the values of :data:`_PER_FRAME` known to be in no frame (not looked for)."""
    echo_of, index_of, b_of = (name not in lacks for name in _PER_FRAME)
    if not frames:
        return None
    shared = (shared_groups() or [Dataset()])[0]
    positions, echoes, temporal, bvalues = set(), set(), set(), set()
    # a position read from the same bytes is the same (shared) value object: worked out once (a SEG repeats
    # each slice's position once per segment); the value is kept with its result so its id stays its own
    known: dict[int, tuple[Any, tuple[float, ...] | None]] = {}
    for frame in frames:
        raw = _macro(frame, "PlanePositionSequence", "ImagePositionPatient")
        hit = known.get(id(raw))
        if hit is None or hit[0] is not raw:
            hit = known[id(raw)] = (raw, _position(raw))
        pos = hit[1]
        if pos is None:
            pos = _position(_macro(shared, "PlanePositionSequence", "ImagePositionPatient"))
        if pos is not None:
            positions.add(pos)
        echo = _number(_macro(frame, "MREchoSequence", "EffectiveEchoTime")) if echo_of else None
        if echo is not None:
            echoes.add(round(echo, _DECIMALS))
        index = _number(_macro(frame, "FrameContentSequence", "TemporalPositionIndex")) if index_of else None
        if index is not None:
            temporal.add(index)
        b = _number(_macro(frame, "MRDiffusionSequence", "DiffusionBValue")) if b_of else None
        if b is not None:
            bvalues.add(b)
    return {"count": len(frames), "positions": len(positions), "echoes": len(echoes),
            "temporal": len(temporal), "bvalues": sorted(bvalues)}  # fmt: skip
