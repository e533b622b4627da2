"""The result types of the image harvest and the helpers that build harvested values.

Workers of a process pool return *raw* values, ``(value, unit symbol, provenance path)`` tuples, which
pickle quickly and are compared cheaply when the instances of a DICOM series are merged; the main
process turns them into :class:`isaprofile.model.Value` objects once per series (:func:`to_values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from math import isfinite
from typing import Any

from isaprofile.model import CONTROL_RE, Provenance, Scalar, Term, Value
from isaprofile.units import find_unit

KINDS = ("dicom-series", "dicom-seg", "nifti")

# value, UCUM unit symbol (or None), place in the file (DICOM tag path, NIfTI field, JSON path)
RawValue = tuple[Scalar, str | None, str]
RawValues = dict[str, RawValue]


@cache
def unit_term(symbol: str) -> Term | None:
    """The unit called ``symbol`` as a Term (UO accession when UO has it), or None if unknown."""
    unit = find_unit(symbol)
    if unit is None:
        return None
    return Term(unit.label, "UO" if unit.accession else None, unit.accession)


def to_value(raw: RawValue, file: str) -> Value:
    """A :class:`Value` from a raw ``(value, unit, path)`` tuple read from ``file``."""
    val, unit, path = raw
    if isinstance(val, str) and CONTROL_RE.search(val):  # a corrupt header: drop them (as sidecars do)
        val = CONTROL_RE.sub("", val)
    return Value(val, unit_term(unit) if unit else None, Provenance(file=file, path=path))


def to_values(raw: Mapping[str, RawValue], file: str) -> dict[str, Value]:
    """:func:`to_value` for every entry of ``raw``, keeping the keys."""
    # a corrupt header may hold NaN or infinity where a number belongs: no value rather than a wrong one
    return {key: to_value(r, file) for key, r in raw.items() if not (isinstance(r[0], float) and not isfinite(r[0]))}


@dataclass(slots=True)
class Segment:
    """One segment of a DICOM SEG: its number, label and attributes (coded ones as Terms)."""

    number: int
    label: str
    values: dict[str, Value] = field(default_factory=dict)


@dataclass(slots=True)
class HarvestedImage:
    """What the headers of one scan say: a DICOM series, a DICOM SEG or a NIfTI file (+ sidecar).

    ``paths`` are relative to the harvest root (POSIX separators), sorted; ``values`` are keyed by the
    raw name in the source (DICOM keyword, NIfTI header field such as ``pixdim[1]``, sidecar key).
    ``uid`` is the Series Instance UID (DICOM) or None; ``subject`` a hint for linking to a subject: the
    PatientID pseudonym of a DICOM series, the file name stem of a NIfTI file. ``references`` are the
    Series Instance UIDs a SEG segments; ``instances`` the SOP Instance UIDs of the files, in ``paths``
    order (None where a file has none); ``study_uid`` the Study Instance UID; ``referenced_instances``
    the SOP Instance UIDs a SEG references, each with the tag path (in the SEG file) that names it.
    """

    kind: str
    paths: list[str]
    modality: str | None = None
    uid: str | None = None
    subject: str | None = None
    folder: str | None = None
    values: dict[str, Value] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    sidecar: str | None = None
    instances: list[str | None] = field(default_factory=list)
    study_uid: str | None = None
    referenced_instances: list[tuple[str, str]] = field(default_factory=list)  # (SOP Instance UID, tag path)
    inspected: dict[str, Any] = field(default_factory=dict, repr=False)  # per file: the header pass's extra facts

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"harvested image kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not self.paths:
            raise ValueError("a harvested image needs at least one file")

    @property
    def path(self) -> str:
        """The first file (a series' first instance, or the NIfTI file)."""
        return self.paths[0]

    @property
    def count(self) -> int:
        """Number of files (instances) read for this image."""
        return len(self.paths)
