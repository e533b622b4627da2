"""The dataset model: investigation → studies → subjects → samples → scans → data files.

Values are typed and carry where they came from (:class:`Provenance`). Constructors refuse values
that cannot be right (an empty identifier, a unit that is not a term, a number that is NaN) with a
``ValueError`` naming the field; whether a value fits a *profile* is the validator's business.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

OBO = "http://purl.obolibrary.org/obo/"
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters other than tab, LF, CR
_IDENT_BAD_RE = re.compile(r"[\x00-\x1f]")  # identifiers also refuse tab, LF and CR


_Frozen = TypeVar("_Frozen")
_SET = object.__setattr__


def _rebuilt(cls: type[_Frozen], state: tuple[Any, ...]) -> _Frozen:
    """pickle's way back to a frozen model object (``__reduce__``): its fields set as they were, without the
    checks of ``__init__`` (they held when it was made). Twice as fast as the ``__setstate__`` dataclasses
    give a frozen class: a worker process sends back the values of every header it read (ENHANCE: dozens for
    each of 14,377 files)."""
    obj = object.__new__(cls)
    for name, value in zip(cls.__slots__, state, strict=True):  # type: ignore[attr-defined]
        _SET(obj, name, value)
    return obj


@dataclass(frozen=True, slots=True)
class Term:
    """An ontology term: its label, the ontology's short name and the term's CURIE (``UO:0000016``)."""

    label: str
    source: str | None = None
    accession: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError("a term needs a non-empty label")
        if self.accession and not self.source and ":" in self.accession and "//" not in self.accession:
            object.__setattr__(self, "source", self.accession.split(":", 1)[0])

    @property
    def iri(self) -> str | None:
        """The term's IRI, OBO-style for OBO CURIEs, or the accession itself when it is an IRI."""
        acc = self.accession
        if not acc:
            return None
        if acc.startswith(("http://", "https://")):
            return acc
        if ":" in acc:
            prefix, local = acc.split(":", 1)
            if prefix == "SNOMED" or prefix == "SCTID":
                return f"http://snomed.info/id/{local}"
            if prefix == "NCBIGene":
                return f"https://www.ncbi.nlm.nih.gov/gene/{local}"
            return f"{OBO}{prefix}_{local}"
        return None

    def __str__(self) -> str:
        return self.label

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (Term, (self.label, self.source, self.accession))


class Location(TypedDict):
    """The location keywords of a finding, as :meth:`Provenance.location` gives them to ``issue(**loc)``."""

    file: str | None
    line: int | None
    column: int | None
    path: str | None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a value was read: a file and the place in it.

    For tables and sheets ``line``/``column`` are 1-based and ``path`` names the column or sheet;
    for DICOM ``path`` is the tag (``(0018,0050) SliceThickness``); for NIfTI the header field; for
    sidecars and JSON the key path.
    """

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (Provenance, (self.file, self.line, self.column, self.path))

    def location(self) -> Location:
        """The provenance as the location keywords of a finding (``file``, ``line``, ``column``, ``path``)."""
        return {"file": self.file, "line": self.line, "column": self.column, "path": self.path}

    def __str__(self) -> str:
        loc = self.file or ""
        if self.line is not None:
            loc += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{loc} ({self.path})" if self.path else loc


Scalar = str | int | float | bool | dt.date | Term


@dataclass(frozen=True, slots=True)
class Value:
    """A typed value with an optional unit (a term) and where it came from."""

    value: Scalar
    unit: Term | None = None
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        v = self.value
        if isinstance(v, str):
            if CONTROL_RE.search(v):
                raise ValueError("text contains control characters")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError("a number must be finite")
        elif not isinstance(v, int | dt.date | Term):  # bool is an int
            raise ValueError(f"unsupported value type {type(v).__name__}")
        if self.unit is not None and not isinstance(self.unit, Term):
            raise ValueError("a unit must be a Term")

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (Value, (self.value, self.unit, self.provenance))

    @property
    def term(self) -> Term | None:
        return self.value if isinstance(self.value, Term) else None

    def text(self) -> str:
        """The value as it is written in a table cell."""
        v = self.value
        if isinstance(v, Term):
            return v.label
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)


Values = dict[str, Value]


def _ident(kind: str, ident: object) -> str:
    if not isinstance(ident, str) or not ident.strip():
        raise ValueError(f"a {kind} needs a non-empty identifier")
    if _IDENT_BAD_RE.search(ident):
        raise ValueError(f"{kind} identifier {ident!r} contains tabs, newlines or control characters")
    return ident


def _values(kind: str, values: Mapping[str, Value], *, share: bool = False) -> Values:
    """``values`` checked, as a dict of their own (with ``share``, a dict given is kept itself)."""
    for name, val in values.items():
        if not isinstance(val, Value):
            raise ValueError(f"{kind} value {name!r} must be a Value, got {type(val).__name__}")
    return values if share and type(values) is dict else dict(values)


@dataclass(slots=True, kw_only=True)
class DataFile:
    """One image file (or a DICOM series folder) of a scan, relative to the dataset root."""

    path: str
    comments: Values = field(default_factory=dict)  # e.g. format, size, checksum
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _ident("data file", self.path)
        self.comments = _values("data file comment", self.comments)


@dataclass(slots=True, kw_only=True)
class Segmentation:
    """A segmentation of a scan: its parameters (organ, method, status) and its mask file, if any.

    The preclinical profile allows a segmentation entry without a mask: an organ's diseased status
    can be stated without having been delineated.
    """

    values: Values = field(default_factory=dict)
    path: str | None = None
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.path is not None:
            _ident("segmentation file", self.path)
        # kept as given: the segmentations of one label in every subject's label map share one dict (207,610 in
        # ENHANCE); a segmentation's values are replaced, never changed in place
        self.values = _values("segmentation", self.values, share=True)


@dataclass(slots=True, kw_only=True)
class Subject:
    """An ISA source: one animal or patient, with its characteristics."""

    id: str
    characteristics: Values = field(default_factory=dict)
    provenance: Provenance | None = field(default=None, compare=False)
    comments: Values = field(default_factory=dict)

    def __post_init__(self) -> None:
        _ident("subject", self.id)
        self.characteristics = _values("subject", self.characteristics)
        self.comments = _values("subject comment", self.comments)


@dataclass(slots=True, kw_only=True)
class Sample:
    """An ISA sample: a subject at one time point, with factor values and sample characteristics."""

    id: str
    subject: str
    factors: Values = field(default_factory=dict)
    characteristics: Values = field(default_factory=dict)
    provenance: Provenance | None = field(default=None, compare=False)
    comments: Values = field(default_factory=dict)

    def __post_init__(self) -> None:
        _ident("sample", self.id)
        _ident("sample's subject", self.subject)
        self.factors = _values("sample factor", self.factors)
        self.characteristics = _values("sample", self.characteristics)
        self.comments = _values("sample comment", self.comments)


@dataclass(slots=True, kw_only=True)
class Scan:
    """An assay row: one acquisition (a DICOM series, a NIfTI volume) of a sample."""

    id: str
    sample: str
    modality: str  # assay key as the profile names it: "MRI", "CT", "PET"
    parameters: Values = field(default_factory=dict)
    comments: Values = field(default_factory=dict)
    files: list[DataFile] = field(default_factory=list)
    segmentations: list[Segmentation] = field(default_factory=list)
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _ident("scan", self.id)
        _ident("scan's sample", self.sample)
        _ident("scan modality", self.modality)
        self.parameters = _values("scan parameter", self.parameters)
        self.comments = _values("scan comment", self.comments)
        if not all(isinstance(f, DataFile) for f in self.files):
            raise ValueError("scan files must be DataFile objects")
        if not all(isinstance(g, Segmentation) for g in self.segmentations):
            raise ValueError("scan segmentations must be Segmentation objects")


@dataclass(slots=True, kw_only=True)
class Person:
    last_name: str
    first_name: str = ""
    email: str = ""
    affiliation: str = ""
    orcid: str = ""
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.last_name.strip():
            raise ValueError("a person needs a last name")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(slots=True, kw_only=True)
class Protocol:
    name: str
    type: Term
    description: str = ""
    parameters: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class Study:
    identifier: str
    title: str = ""
    description: str = ""
    subjects: list[Subject] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    comments: Values = field(default_factory=dict)
    design_types: list[Term] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)  # names of the factors the samples carry
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _ident("study", self.identifier)
        self.comments = _values("study comment", self.comments)

    @property
    def modalities(self) -> list[str]:
        return sorted({s.modality for s in self.scans})


@dataclass(slots=True, kw_only=True)
class Investigation:
    """The top of a dataset. ``profile`` names the profile it follows, e.g. ``preclinical-imaging@1.0``."""

    identifier: str
    title: str = ""
    description: str = ""
    submission_date: str = ""
    public_release_date: str = ""
    contacts: list[Person] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)  # SPDX identifiers
    keywords: list[str] = field(default_factory=list)
    publications: list[dict[str, str]] = field(default_factory=list)  # doi, title, authors
    funding: list[dict[str, str]] = field(default_factory=list)  # funder, award
    studies: list[Study] = field(default_factory=list)
    profile: str | None = None
    comments: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _ident("investigation", self.identifier)

    def study(self, identifier: str) -> Study:
        for s in self.studies:
            if s.identifier == identifier:
                return s
        raise KeyError(identifier)
