"""The result types of the image harvest and the helpers that build harvested values.

Workers of a process pool return *raw* values, ``(value, unit symbol, provenance path)`` tuples, which
pickle quickly and are compared cheaply when the instances of a DICOM series are merged; the main
process turns them into :class:`isaprofile.model.Value` objects once per series (:func:`to_values`).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from math import isfinite
from typing import Any, overload

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


def _kept(raw: RawValue) -> bool:
    # a corrupt header may hold NaN or infinity where a number belongs: no value rather than a wrong one
    return not (isinstance(raw[0], float) and not isfinite(raw[0]))


def to_values(raw: Mapping[str, RawValue], file: str) -> dict[str, Value]:
    """:func:`to_value` for every entry of ``raw``, keeping the keys."""
    return {key: to_value(r, file) for key, r in raw.items() if _kept(r)}


# (key, unit symbol, place in the file, which of the files) of every value, in order
_Layout = tuple[tuple[str, str | None, str, int], ...]
_LAYOUTS: dict[_Layout, tuple[_Layout, dict[str, int]]] = {}
_LAYOUTS_MAX = 4096


def _layout(entries: _Layout) -> tuple[_Layout, dict[str, int]]:
    """One shared copy of a layout and its key index: the files of a collection share a handful."""
    found = _LAYOUTS.get(entries)
    if found is None:
        if len(_LAYOUTS) >= _LAYOUTS_MAX:  # sidecars of many shapes: only the sharing is lost
            _LAYOUTS.clear()
        found = _LAYOUTS[entries] = (entries, {e[0]: i for i, e in enumerate(entries)})
    return found


class HeaderValues(Mapping[str, Value]):
    """The values harvested from a file (and its sidecar), kept as read: the scalars of this file beside a
    layout (keys, units, places) shared with every file of the same shape. A :class:`Value` is made when it
    is asked for. ENHANCE's 14,377 NIfTI items, 13 values each, were 3.7 kB each as a dict of Values with
    their own provenance, and held all at once between the header pass and the model; this is a tenth of it.
    """

    __slots__ = ("_files", "_layout", "_index", "_raws")

    def __init__(self, *sources: tuple[str, Mapping[str, RawValue]]) -> None:
        """``sources``: (file, raw values read from it); a later file's value of a key replaces an earlier's."""
        merged: dict[str, tuple[RawValue, int]] = {}
        for n, (_file, raw) in enumerate(sources):
            merged.update((key, (r, n)) for key, r in raw.items() if _kept(r))
        entries = tuple((key, r[1], r[2], n) for key, (r, n) in merged.items())
        raws = tuple(_clean(r[0]) for r, _n in merged.values())
        self._set(tuple(f for f, _r in sources), entries, raws)

    def _set(self, files: tuple[str, ...], entries: _Layout, raws: tuple[Scalar, ...]) -> None:
        self._files = files
        self._layout, self._index = _layout(entries)
        self._raws = raws

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt_values, (self._files, self._layout, self._raws)

    def __getitem__(self, key: str) -> Value:
        i = self._index[key]
        _key, unit, path, n = self._layout[i]
        return Value(self._raws[i], unit_term(unit) if unit else None, Provenance(file=self._files[n], path=path))

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._raws)

    def __repr__(self) -> str:
        return f"HeaderValues({dict(self)!r})"


def _clean(val: Scalar) -> Scalar:
    if isinstance(val, str):  # a corrupt header's control characters are dropped (as sidecars do)
        return sys.intern(CONTROL_RE.sub("", val) if CONTROL_RE.search(val) else val)
    return val


def _rebuilt_values(files: tuple[str, ...], entries: _Layout, raws: tuple[Scalar, ...]) -> HeaderValues:
    """pickle's way back to :class:`HeaderValues` (a worker's or the cache's): the layout shared again, the
    short texts (data types, versions, matrix sizes) interned."""
    obj = HeaderValues.__new__(HeaderValues)
    obj._set(files, entries, tuple(sys.intern(v) if type(v) is str else v for v in raws))
    return obj


class InstanceRefs(Sequence[tuple[str, str]]):
    """The SOP Instance UIDs a SEG references, in file order, each with the tag path that names it: each place
    is kept as its item numbers under one of a few path templates (``str.format`` patterns shared by every
    SEG), and written out when asked for. CRLM's SEGs reference 17,636 slices: as (UID, path) tuples they were
    320 bytes each, 5.8 MiB held from the header pass to the model."""

    __slots__ = ("_templates", "_uids", "_kinds", "_numbers")
    _ARITY = 3  # item numbers kept per reference (a template takes as many as it has fields)

    def __init__(self, templates: tuple[str, ...]) -> None:
        self._templates = templates
        self._uids: list[str] = []
        self._kinds = bytearray()
        self._numbers = array("l")

    def add(self, uid: str, template: int, *numbers: int) -> None:
        """The reference to ``uid`` at ``self._templates[template].format(*numbers)``."""
        self._uids.append(uid)
        self._kinds.append(template)
        self._numbers.extend((*numbers, *(0,) * (self._ARITY - len(numbers))))

    def share(self, known: Mapping[str, str]) -> None:
        """Hold the UIDs ``known`` holds as those very strings (a SEG names its source series' slices)."""
        self._uids = [known.get(u, u) for u in self._uids]

    @overload
    def __getitem__(self, n: int) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, n: slice) -> list[tuple[str, str]]: ...

    def __getitem__(self, n: int | slice) -> tuple[str, str] | list[tuple[str, str]]:
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        template = self._templates[self._kinds[n]]
        at = (n if n >= 0 else len(self._uids) + n) * self._ARITY
        return self._uids[n], template.format(*self._numbers[at : at + template.count("{}")])

    def __len__(self) -> int:
        return len(self._uids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt_refs, (self._templates, self._uids, bytes(self._kinds), self._numbers)

    def __repr__(self) -> str:
        return f"InstanceRefs({len(self)} references)"


def _rebuilt_refs(templates: tuple[str, ...], uids: list[str], kinds: bytes, numbers: array) -> InstanceRefs:
    obj = InstanceRefs(templates)
    obj._uids, obj._kinds, obj._numbers = uids, bytearray(kinds), numbers
    return obj


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
    values: Mapping[str, Value] = field(default_factory=dict)
    # () by default, not a new empty list: a NIfTI item has none of these, and 14,377 of them held four lists each
    segments: Sequence[Segment] = ()
    references: Sequence[str] = ()
    sidecar: str | None = None
    instances: Sequence[str | None] = ()
    study_uid: str | None = None
    referenced_instances: Sequence[tuple[str, str]] = ()  # (SOP Instance UID, tag path)
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
