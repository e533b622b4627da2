"""The PHI gate: refuse files whose headers or names may still identify a person.

Public API::

    annex_e() -> dict[str, AnnexEntry]            DICOM PS3.15 Table E.1-1, 2024b (shipped as data, by keyword)
    annex_edition() -> str                        the edition of that table
    AllowEntry(attribute, reason, files=None)     one exception; a reason is mandatory
    PhiPolicy(pseudonyms=(), allow_uids=True, retain=(), allow=())
    check_phi(files: Mapping[str, Path], policy=PhiPolicy(), *, workers=None) -> PhiResult
    dicom_phi_findings(ds, rel, policy) -> FileFindings            one parsed pydicom Dataset
    nifti_phi_findings(header, extensions, rel, policy) -> FileFindings   one parsed NIfTI header
    sidecar_phi_findings(data, rel, policy) -> FileFindings         one parsed JSON sidecar
    finish_phi(results: Mapping[str, FileFindings], policy) -> PhiResult   names + redaction over all files
    column_phi_findings(headers, file, policy=None) -> list[Issue]  identifying sheet / ISA-Tab column headers
    free_text_phi_findings(cells, file, policy=None, tokens=()) -> list[Issue]   dates, names in free text
    has_text(data: bytes) -> bool                 readable text in ASCII, UTF-8, UTF-16 or UTF-32
    exceptions_json(result) -> bytes              the applied exceptions, to record in the package
    exception_notes(applied) -> list[Issue]       one info finding per attribute and reason, counting files

``check_phi`` reads each file once (DICOM with pydicom, values above 4 KiB deferred so pixel data is never
loaded; NIfTI header only; JSON) and is ``finish_phi`` over the per-file results. The ``*_phi_findings``
functions take what a harvest pass has already parsed, so the gate need not read a file twice.

What is refused: every Table E.1-1 attribute that still holds a value (the configured ``pseudonyms`` are
accepted for PatientID / PatientName; UIDs — action U — are accepted when ``allow_uids``; sequences whose
action is X/Z/U* — Referenced Image Sequence, Source Image Sequence — are looked into instead, since a
de-identified SEG or Enhanced MR keeps them with replaced UIDs; ``retain`` names Table E.1-1 options kept on
purpose, see ``RETAIN_OPTIONS``), private tags, PatientIdentityRemoved not YES and BurnedInAnnotation YES.
NIfTI: ``descrip``, ``aux_file``, ``intent_name`` and ``db_name`` when they hold a date, a DICOM person
name (``Family^Given``), an e-mail address or a patient name / ID found in any header (scanner-written text
such as ``TE=30;Time=120000`` is not PHI), and extensions holding text in any of ASCII, UTF-8, UTF-16 or
UTF-32. JSON sidecars: keys named after Table E.1-1 attributes. Names: a file or folder name holding a
patient name or ID found in a header (whole words; words of DICOM's own vocabulary, such as ``enhanced``,
are not taken for names).

Findings name the attribute (tag and keyword) and the file, never the value: identifying values are only
compared in memory (they are kept out of ``repr``), and in file paths identifying words are replaced by
``[redacted]`` — only in the path, never in the attribute's name. Each applied allow-list exception is
listed in :attr:`PhiResult.exceptions` (file, attribute, reason: what a package records); the report has
one ``phi-exception-applied`` info finding per attribute and reason, with the number of files, so an
exception that applies to every slice of a collection is one finding (CRLM: 3 in all, where there were
47,401). An entry's ``attribute`` may be a keyword, a tag, a tag pattern or the location exactly as a finding prints it
(``extension[0] (code 6)``, ``(0008,1140) ReferencedImageSequence``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import warnings
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, NamedTuple, overload

from isaprofile._json import flat_item, utf8_chunks
from isaprofile._shared import OneCopy
from isaprofile.findings.issues import Issue, Report, issue
from isaprofile.harvest.pixels import dicom_read_errors as _dicom_errors

REDACTED = "[redacted]"
NIFTI_FIELDS = ("descrip", "aux_file", "intent_name", "db_name")
_ID_KEYWORDS = ("PatientID", "PatientName", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName")
_PSEUDONYM_KEYWORDS = ("PatientID", "PatientName")
_PARALLEL_MIN_FILES = 200
_MAX_DEPTH = 64  # sequence nesting the gate follows; deeper is refused, not recursed into
# Table E.1-1 option names a config's ``retain`` may list (the attributes an option keeps or cleans)
RETAIN_OPTIONS = (
    "safe-private", "uids", "device-identity", "institution-identity", "patient-characteristics",
    "dates", "modified-dates", "descriptions", "structured-content", "graphics",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnnexEntry:
    """One row of Table E.1-1: the tag (``(60XX,4000)`` style for repeating groups), keyword, name, VR,
    Basic Profile action code (D, Z, X, U, or a combination such as ``X/Z/U*``) and the options under
    which the attribute may be kept or cleaned (``options``: option name -> K or C)."""

    tag: str
    keyword: str
    name: str
    vr: str
    action: str
    options: Mapping[str, str]

    @property
    def retainable(self) -> frozenset[str]:
        """Options that keep (K) or clean (C) the attribute: when retained, a value is accepted."""
        return frozenset(name for name, code in self.options.items() if code in ("K", "C"))


@cache
def _table() -> dict[str, Any]:
    text = (resources.files("isaprofile.package") / "data" / "annex_e.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def annex_edition() -> str:
    """The PS3.15 edition of the shipped table (``2024b``)."""
    return str(_table()["edition"])


@cache
def annex_e() -> dict[str, AnnexEntry]:
    """The shipped Table E.1-1, keyed by keyword (the private-attributes row is handled by tag parity)."""
    out: dict[str, AnnexEntry] = {}
    for row in _table()["attributes"]:
        if not row["keyword"]:
            continue
        out[row["keyword"]] = AnnexEntry(
            row["tag"], row["keyword"], row["name"], row["vr"], row["action"], dict(row["options"])
        )
    return out


@cache
def _by_tag() -> dict[int, AnnexEntry]:
    return {int(e.tag[1:5] + e.tag[6:10], 16): e for e in annex_e().values() if "X" not in e.tag}


def _lookup(tag: int) -> AnnexEntry | None:
    found = _by_tag().get(tag)
    if found is not None:
        return found
    group, elem = tag >> 16, tag & 0xFFFF
    if 0x6000 <= group <= 0x601E and not group & 1:
        return {0x4000: annex_e()["OverlayComments"], 0x3000: annex_e()["OverlayData"]}.get(elem)
    if 0x5000 <= group <= 0x501E and not group & 1:
        return annex_e()["CurveData"]
    return None


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


_TAG_PATTERN = re.compile(r"^\([0-9A-Fa-f*?X]{1,4},[0-9A-Fa-f*?X]{1,4}\)$")


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """An exception to the PHI gate: ``attribute`` is a keyword (``StudyDate``), a tag (``(0008,0020)``),
    a tag pattern (``(0029,*)``) or a location exactly as a finding prints it (``extension[0] (code 6)``);
    ``files`` an optional glob over package paths. Without a non-empty ``reason`` the entry is refused
    (``ValueError``)."""

    attribute: str
    reason: str
    files: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError(f"the PHI allow-list entry for {self.attribute!r} needs a reason")

    def matches(self, keyword: str, tag: str, file: str, location: str = "") -> bool:
        if self.files and not fnmatch.fnmatchcase(file, self.files):
            return False
        wanted = self.attribute.strip()
        if keyword and wanted == keyword:
            return True
        if location and " ".join(wanted.split()).lower() == " ".join(location.split()).lower():
            return True
        return bool(tag) and bool(_TAG_PATTERN.match(wanted)) and fnmatch.fnmatchcase(tag.upper(), wanted.upper())


@dataclass(frozen=True)
class PhiPolicy:
    """What the gate accepts. See the module docstring."""

    pseudonyms: frozenset[str] = frozenset()
    allow_uids: bool = True
    retain: frozenset[str] = frozenset()
    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PhiPolicy:
        """Build from a dataset-config mapping: ``pseudonyms``, ``allow_uids``, ``retain`` and
        ``allow`` (a list of ``{attribute, files?, reason}``)."""
        allow = tuple(AllowEntry(a["attribute"], a.get("reason", ""), a.get("files")) for a in config.get("allow", ()))
        return cls(
            pseudonyms=frozenset(str(p) for p in config.get("pseudonyms", ())),
            allow_uids=bool(config.get("allow_uids", True)),
            retain=frozenset(config.get("retain", ())),
            allow=allow,
        )


class PhiException(NamedTuple):
    """An allow-list exception applied to one file: the package path, the attribute as a finding
    names it, and the entry's reason."""

    file: str
    attribute: str
    reason: str


class AppliedExceptions(Sequence[PhiException]):
    """The allow-list exceptions applied, file by file: a list of :class:`PhiException`, kept as each one's
    file and the number of its (attribute, reason). CRLM applies three entries to nearly every one of 17,840
    files: 47,401 tuples were 3 MiB, a file reference and a number each are 12 bytes."""

    __slots__ = ("_files", "_which", "_kinds", "_numbers")

    def __init__(self, applied: Iterable[PhiException] = ()) -> None:
        self._files: list[str] = []
        self._which = array("I")
        self._kinds: list[tuple[str, str]] = []
        self._numbers: dict[tuple[str, str], int] = {}
        self.extend(applied)

    def append(self, applied: PhiException) -> None:
        file, attribute, reason = applied
        kind = (attribute, reason)
        number = self._numbers.get(kind)
        if number is None:
            number = self._numbers[kind] = len(self._kinds)
            self._kinds.append(kind)
        self._files.append(file)
        self._which.append(number)

    def extend(self, applied: Iterable[PhiException]) -> None:
        for one in applied:
            self.append(one)

    def __len__(self) -> int:
        return len(self._files)

    @overload
    def __getitem__(self, index: int) -> PhiException: ...
    @overload
    def __getitem__(self, index: slice) -> list[PhiException]: ...
    def __getitem__(self, index: int | slice) -> PhiException | list[PhiException]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return PhiException(self._files[index], *self._kinds[self._which[index]])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, as the list it stands for

    def __repr__(self) -> str:
        return f"AppliedExceptions({list(self)!r})"


@dataclass
class PhiResult:
    """The gate's findings and the allow-list exceptions that were applied, file by file (sorted)."""

    report: Report = field(default_factory=Report)
    exceptions: AppliedExceptions = field(default_factory=AppliedExceptions)

    @property
    def passed(self) -> bool:
        return self.report.valid


@dataclass
class FileFindings:
    """One file's gate result before the names check: findings, applied exceptions, and — in memory
    only, never in ``repr`` — the identifying values seen (for the file-name check) and free text."""

    issues: list[Issue] = field(default_factory=list)
    exceptions: list[tuple[str, str]] = field(default_factory=list)  # (attribute, reason)
    tokens: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (attribute, value)
    texts: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (location, free text)

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickled, (self.issues, self.exceptions, self.tokens, self.texts)


# each (attribute, reason) an allow-list entry applies is one object, however many files it applies to: CRLM
# applies two or three in each of 17,840 files, whose results (pickled from the workers, or one by one from the
# header cache) would otherwise hold a copy each
shared_exception: OneCopy[tuple[str, str]] = OneCopy(4096)
_clean: OneCopy[tuple[tuple[Any, ...], ...]] = OneCopy(4096)
_clean_results: dict[tuple[tuple[Any, ...], ...], FileFindings] = {}


def _unpickled(issues: list[Issue], exceptions: list[tuple[str, str]], tokens: list[tuple[str, str]],
               texts: list[tuple[str, str]]) -> FileFindings:  # fmt: skip
    """A result back from a worker or the header cache. One without findings of its own is one object with
    every equal result (CRLM: the same exceptions and patient ID in each slice of a patient), so memory does not
    grow by a result for every file; results are read, never changed, once made."""
    exceptions = [shared_exception(e) for e in exceptions]
    if issues:
        return FileFindings(issues, exceptions, tokens, texts)
    key = _clean((tuple(exceptions), tuple(tokens), tuple(texts)))
    if len(_clean_results) >= _clean.limit:
        _clean_results.clear()
    return _clean_results.setdefault(key, FileFindings([], exceptions, tokens, texts))


class _Checker:
    def __init__(self, policy: PhiPolicy, file: str, out: FileFindings) -> None:
        self.policy = policy
        self.file = file
        self.out = out

    def allowed(self, keyword: str, tag: str, location: str = "") -> bool:
        for entry in self.policy.allow:
            if entry.matches(keyword, tag, self.file, location):
                self.out.exceptions.append(shared_exception((location or f"{tag} {keyword}".strip(), entry.reason)))
                return True
        return False

    def annex_value(self, entry: AnnexEntry, value: str | None, code: str, path: str) -> None:
        """Report an Annex E attribute that holds ``value`` unless the policy accepts it."""
        if value is None or not value.strip():
            return
        if entry.keyword in _PSEUDONYM_KEYWORDS and value.strip() in self.policy.pseudonyms:
            return
        if entry.keyword in _ID_KEYWORDS:
            self.out.tokens.append((entry.keyword, value))
        if entry.action == "U" and self.policy.allow_uids:
            return
        if entry.retainable & self.policy.retain:
            return
        if self.allowed(entry.keyword, entry.tag, path):
            return
        if code == "phi-attribute":
            self.out.issues.append(issue(code, file=self.file, path=path, action=entry.action))
        else:
            self.out.issues.append(issue(code, file=self.file, path=path))


_PIXEL_TAGS = {0x7FE00008, 0x7FE00009, 0x7FE00010}
_DEFERRED = "<deferred>"


class _TooDeep(ValueError):
    pass


def _walk(ds: Any, trail: str = "", depth: int = 0) -> Iterator[tuple[str, int, str, str | None]]:
    """``(trail, tag, VR, value as text or None)`` for every element the gate judges (private ones and those
    of Table E.1-1), nested items included; other public elements are walked into only when they hold items.

    Elements larger than the read's ``defer_size`` are never loaded: pixel data is skipped and any other
    large value is reported as present (``_DEFERRED``) without reading it. Items of sequences that are
    not Table E.1-1 attributes are walked, and so are those of X/Z/U* sequences (whose UIDs are replaced
    rather than removed); other Table E.1-1 sequences are reported as a whole.

    A sequence pydicom left as raw bytes is read with :mod:`isaprofile.harvest.dicom_flat` (one light
    object per item instead of a Dataset; the harvest readers share that read); when its bytes are not
    ones that module takes, pydicom reads it as before. The elements and trails are the same either way.
    """
    from pydicom.dataelem import RawDataElement

    from isaprofile.harvest.dicom_flat import raw_value, sequence

    if depth > _MAX_DEPTH:
        raise _TooDeep(f"sequences nested deeper than {_MAX_DEPTH}")
    lookup = ds._dict
    for key in list(lookup):
        tag = int(key)
        if tag in _PIXEL_TAGS:
            continue
        private, entry = _judged(tag)
        raw = lookup[key]
        is_raw = type(raw) is RawDataElement
        if is_raw and raw.value is None:
            raw = ds.get_item(key)  # a deferred value: read as get_item reads it
            is_raw = type(raw) is RawDataElement
        if entry is None and not private and is_raw and not _may_be_sequence(tag, raw):
            continue  # a public attribute outside Table E.1-1 that holds no items: its value is never looked at
        if is_raw and raw.value is None and raw.length:
            yield trail, tag, raw.VR or "UN", _DEFERRED
            continue
        if is_raw:  # read without converting it in ds (a Dataset per item, a DataElement per element)
            items = sequence(ds, tag)
            if items is not None:
                found = _flat_sequence(items, tag, entry, private, trail, depth)
                if found is not None:
                    yield from found
                    continue
            elif entry is not None or private:
                known = raw_value(ds, tag)
                if known is not None:
                    yield trail, tag, known[0], _text(known[1])
                    continue
        elem = ds[tag]
        if elem.VR == "SQ" and entry is not None and entry.action.endswith("U*"):
            for item in elem.value or ():
                yield from _walk(item, f"{trail}{tag_text(tag)} {elem.keyword} > ", depth + 1)
            continue
        yield trail, tag, elem.VR, _value(elem)
        if elem.VR == "SQ" and entry is None and not (tag >> 16) & 1:
            for item in elem.value or ():
                yield from _walk(item, f"{trail}{tag_text(tag)} {elem.keyword} > ", depth + 1)


@cache
def _judged(tag: int) -> tuple[bool, AnnexEntry | None]:
    """Whether ``tag`` is private, and its Table E.1-1 row (None for private tags)."""
    private = bool((tag >> 16) & 1)
    return private, None if private else _lookup(tag)


def _flat_sequence(
    items: list[Any], tag: int, entry: AnnexEntry | None, private: bool, trail: str, depth: int
) -> list[tuple[str, int, str, str | None]] | None:
    """What :func:`_walk` yields for the sequence ``tag`` read as dicom_flat items, or None when part of it is
    left to pydicom (a nested sequence the flat read declines once it is reached, a value of ambiguous VR):
    then pydicom reads the whole element, as before."""
    from isaprofile.harvest.dicom_flat import FlatError

    out: list[tuple[str, int, str, str | None]] = []
    walked: _Walked = {}
    try:
        if entry is not None and entry.action.endswith("U*"):
            _walk_items(items, trail + _label(tag), depth + 1, out, walked)
            return out
        out.append((trail, tag, "SQ", "sequence" if items else None))
        if entry is None and not private:
            _walk_items(items, trail + _label(tag), depth + 1, out, walked)
        return out
    except FlatError:
        return None


@cache
def _label(tag: int) -> str:
    """A sequence's part of the trail of the elements in its items: ``(gggg,eeee) Keyword > ``."""
    from isaprofile.harvest.dicom_flat import keyword_of

    return f"{tag_text(tag)} {keyword_of(tag)} > "


# nested sequences already walked in this top-level sequence: (id of its items, trail) -> (items, what it gave)
_Walked = dict[tuple[int, str], tuple[list[Any], list[tuple[str, int, str, str | None]]]]


def _walk_items(
    items: list[Any], trail: str, depth: int, out: list[tuple[str, int, str, str | None]], walked: _Walked
) -> None:
    """:func:`_walk` over the dicom_flat items of one sequence (``depth``: theirs), into ``out``. Only the
    elements the gate judges are listed: a public element outside Table E.1-1 is walked into when it is a
    sequence, and left alone otherwise (its value is never looked at).

    dicom_flat gives a nested sequence repeated byte for byte (a SEG's plane position in each of its
    segments' frames, its derivation codes in every frame) as one list of items: walked once at a trail,
    its elements are the same every time, so ``walked`` gives them again."""
    for item in items:
        if depth > _MAX_DEPTH:
            raise _TooDeep(f"sequences nested deeper than {_MAX_DEPTH}")
        for tag, (vr, _value_or_bounds, _raw_vr) in list(item.elements.items()):
            if tag in _PIXEL_TAGS:
                continue
            private, entry = _judged(tag)
            if vr == "SQ":
                inner = item.value(tag)
                if private or (entry is not None and not entry.action.endswith("U*")):
                    out.append((trail, tag, vr, "sequence" if inner else None))
                    continue
                inner_trail = trail + _label(tag)
                done = walked.get((id(inner), inner_trail))
                if done is not None and done[0] is inner:
                    out.extend(done[1])
                    continue
                start = len(out)
                _walk_items(inner, inner_trail, depth + 1, out, walked)
                walked[(id(inner), inner_trail)] = (inner, out[start:])
            elif private or entry is not None:
                out.append((trail, tag, vr, _text(item.value(tag))))


def _may_be_sequence(tag: int, raw: Any) -> bool:
    """Whether a raw element could hold items: SQ by its VR, or by the dictionary when the VR is implicit or
    UN (a sequence stored as UN is still walked, so nothing hides in it)."""
    if raw.VR == "SQ" or raw.length == 0xFFFFFFFF:  # undefined length: pydicom reads it as items
        return True
    if raw.VR not in (None, "UN"):
        return False
    from pydicom.datadict import dictionary_VR

    try:
        return "SQ" in dictionary_VR(tag)
    except KeyError:  # not in the dictionary: pydicom decodes it as UN, which holds no items
        return False


def _value(elem: Any) -> str | None:
    if elem.VR == "SQ":
        return "sequence" if elem.value else None
    return _text(elem.value)


def _text(value: Any) -> str | None:
    """An element's value as the gate compares it: text, bytes as Latin-1, several values joined by \\."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def dicom_phi_findings(ds: Any, rel: str, policy: PhiPolicy | None = None) -> FileFindings:
    """The gate's findings for one parsed DICOM dataset (a pydicom ``Dataset``, its ``file_meta``
    included when present) known in the package as ``rel``. Never raises for a bad dataset."""
    out = FileFindings()
    _dicom_dataset(ds, _Checker(policy or PhiPolicy(), rel, out))
    return out


def _dicom_dataset(ds: Any, chk: _Checker) -> None:
    try:
        with warnings.catch_warnings():  # pydicom warns while decoding odd values; findings say what matters
            warnings.simplefilter("ignore")
            _dicom_elements(ds, chk)
    except _dicom_errors() as exc:  # a dataset the gate cannot read cannot be packaged
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=_reason(exc)))


def _dicom_elements(ds: Any, chk: _Checker) -> None:
    from pydicom.datadict import keyword_for_tag

    meta = getattr(ds, "file_meta", None)
    elements = list(_walk(meta)) if meta else []
    elements += list(_walk(ds))
    for trail, tag, _vr, value in elements:
        private, entry = _judged(tag)
        keyword = (entry.keyword if entry else "") or ("" if private else keyword_for_tag(tag))
        where = f"{trail}{tag_text(tag)} {keyword}".strip()
        if private:
            if (tag & 0xFFFF) < 0x0100 or value in (None, ""):
                continue  # private creator, or empty
            if not chk.allowed("", tag_text(tag), where):
                chk.out.issues.append(issue("phi-private-tag", file=chk.file, path=where))
            continue
        if entry is not None:
            chk.annex_value(entry, value, "phi-attribute", where)
    from isaprofile.harvest.dicom_flat import plain_value

    removed = str(plain_value(ds, "PatientIdentityRemoved") or "").strip().upper()
    if removed != "YES" and not chk.allowed("PatientIdentityRemoved", "(0012,0062)"):
        state = "missing" if "PatientIdentityRemoved" not in ds else "not YES"
        chk.out.issues.append(issue("phi-identity-not-removed", file=chk.file, state=state))
    burned = str(plain_value(ds, "BurnedInAnnotation") or "").strip().upper()
    if burned == "YES" and not chk.allowed("BurnedInAnnotation", "(0028,0301)"):
        chk.out.issues.append(issue("phi-burned-in", file=chk.file))


def _reason(exc: BaseException) -> str:
    # the exception's type only: pydicom's messages may quote element values
    return "sequences nested too deep" if isinstance(exc, _TooDeep) else type(exc).__name__


def _check_dicom(path: Path, chk: _Checker) -> None:
    import pydicom

    from isaprofile.package.payload import sniff_dicom

    if not sniff_dicom(path):
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason="not a DICOM file by its content"))
        return
    try:
        # every element is parsed (also those after the pixel data, such as digital signatures);
        # values above 4 KiB stay on disk, so memory does not grow with the pixel data. A file without
        # the Part 10 preamble is read too (the payload selection let it in as DICOM by its content).
        with warnings.catch_warnings():  # pydicom warns per odd element: the gate's findings say it
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, defer_size=4096, force=True)
    except _dicom_errors() as exc:
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    if not len(ds):
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason="no DICOM data elements"))
        return
    _dicom_dataset(ds, chk)


# --- text ---------------------------------------------------------------------------------------------

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_RUN = re.compile(r"[^\W_][\w \t,.'()/:;@-]{2}[^\W_]")  # four characters: a word, maybe with spaces or punctuation
_ASCII_RUN = re.compile(rb"[\x20-\x7e]{4}")
_WIDE_RUN = re.compile(r"[^\W\d_\x00-\x7f]{2}")  # two letters of a non-Latin script (CJK names are short)


# four printable ASCII characters in a row, zero-interleaved as UTF-16 or UTF-32 text of a Latin script is
_WIDE_ASCII = (
    re.compile(rb"(?:[\x20-\x7e]\x00\x00\x00){4}"),  # UTF-32-LE
    re.compile(rb"(?:\x00\x00\x00[\x20-\x7e]){4}"),  # UTF-32-BE
    re.compile(rb"(?:[\x20-\x7e]\x00){4}"),  # UTF-16-LE
    re.compile(rb"(?:\x00[\x20-\x7e]){4}"),  # UTF-16-BE
)


def _decodings(data: bytes) -> Iterator[str]:
    """``data`` decoded the ways it is text in any script: by its byte-order mark, or as UTF-8 when it is
    valid UTF-8."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            yield data[len(bom) :].decode(codec, "replace")
            return
    try:
        yield data.decode("utf-8")
    except UnicodeDecodeError:
        return


def has_text(data: bytes) -> bool:
    """True when ``data`` holds readable text: four printable ASCII characters in a row, in ASCII / UTF-8
    or zero-interleaved as UTF-16 / UTF-32 (either byte order, no byte-order mark needed), or a run of four
    word characters (two in a non-Latin script) in text with a byte-order mark or in valid UTF-8."""
    data = bytes(data)
    if _ASCII_RUN.search(data) or any(p.search(data) for p in _WIDE_ASCII):
        return True
    return any(_RUN.search(text) or _WIDE_RUN.search(text) for text in _decodings(data))


_DATE = re.compile(
    r"(?<![\d.])(?:(?:19|20)\d\d[-./]?(?:0[1-9]|1[0-2])[-./]?(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[1-9]|[12]\d|3[01])[-./](?:0[1-9]|1[0-2])[-./](?:19|20)\d\d)(?![\d.])"
)
_PERSON_NAME = re.compile(r"[^\W\d_]{2,}\^[^\W\d_]{2,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _identifying_text(text: str) -> bool:
    """Free text that holds a calendar date, a DICOM person name (Family^Given) or an e-mail address."""
    return bool(_DATE.search(text) or _PERSON_NAME.search(text) or _EMAIL.search(text))


# --- NIfTI and sidecars ------------------------------------------------------------------------------


def nifti_phi_findings(
    header: Any, extensions: Iterable[Any] | None, rel: str, policy: PhiPolicy | None = None
) -> FileFindings:
    """The gate's findings for one parsed NIfTI header (a nibabel ``Nifti1Header`` / ``Nifti2Header``)
    and its extensions (``header.extensions`` when None), known in the package as ``rel``."""
    out = FileFindings()
    chk = _Checker(policy or PhiPolicy(), rel, out)
    keys = set(header.keys())
    for name in NIFTI_FIELDS:
        if name not in keys:
            continue
        raw = header[name]
        data = raw.item() if hasattr(raw, "item") else raw
        text = data.decode("latin-1") if isinstance(data, bytes) else str(data)
        text = text.strip("\0 \t\r\n")
        if not text:
            continue
        out.texts.append((name, text))
        if _identifying_text(text) and not chk.allowed(name, "", name):
            out.issues.append(issue("phi-nifti-text", file=rel, path=name))
    exts = extensions if extensions is not None else (getattr(header, "extensions", ()) or ())
    for i, ext in enumerate(exts):
        content = ext.get_content()
        if not isinstance(content, bytes | bytearray):
            content = str(content).encode("utf-8", "replace")
        label = f"extension[{i}] (code {ext.get_code()})"
        if has_text(bytes(content)) and not chk.allowed("extension", "", label):
            out.issues.append(issue("phi-nifti-text", file=rel, path=label))
    return out


def _check_nifti(path: Path, chk: _Checker) -> None:
    from isaprofile.harvest.nifti import nifti_errors, read_nifti_header

    try:
        header = read_nifti_header(path)
    except nifti_errors() as exc:
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    found = nifti_phi_findings(header, None, chk.file, chk.policy)
    chk.out.issues.extend(found.issues)
    chk.out.exceptions.extend(found.exceptions)
    chk.out.texts.extend(found.texts)


def sidecar_phi_findings(data: Any, rel: str, policy: PhiPolicy | None = None) -> FileFindings:
    """The gate's findings for one parsed JSON sidecar: keys named after Table E.1-1 attributes."""
    out = FileFindings()
    chk = _Checker(policy or PhiPolicy(), rel, out)
    table = annex_e()
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        node, trail, depth = stack.pop()
        if depth > _MAX_DEPTH:
            out.issues.append(issue("phi-unreadable", file=rel, reason=f"JSON nested deeper than {_MAX_DEPTH}"))
            break
        if isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                where = f"{trail}.{key}"
                if key in table and not isinstance(value, dict | list):
                    chk.annex_value(table[key], "" if value is None else str(value), "phi-sidecar-key", where)
                elif key in table and value:
                    chk.annex_value(table[key], "structured value", "phi-sidecar-key", where)
                else:
                    stack.append((value, where, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{trail}[{i}]", depth + 1) for i, item in reversed(list(enumerate(node))))
    out.issues.sort(key=lambda i: i.path or "")
    return out


def _check_sidecar(path: Path, chk: _Checker) -> None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    found = sidecar_phi_findings(data, chk.file, chk.policy)
    chk.out.issues.extend(found.issues)
    chk.out.exceptions.extend(found.exceptions)
    chk.out.tokens.extend(found.tokens)


# --- sheets and ISA-Tab columns ------------------------------------------------------------------------

_COLUMN_WRAPPER = re.compile(r"^\s*(?:Comment|Characteristics|Parameter Value|Factor Value)\s*\[(.*)\]\s*$", re.I)
# column titles that name a direct identifier of a person (compared without case, spaces, - _ . ')
_IDENTIFYING_COLUMNS = frozenset({
    "patientname", "patientsname", "name", "fullname", "firstname", "lastname", "surname", "givenname",
    "familyname", "forename", "birthname", "mothersbirthname", "maidenname",
    "dateofbirth", "birthdate", "dob", "patientbirthdate", "patientsbirthdate", "birthday",
    "address", "patientaddress", "patientsaddress", "streetaddress", "postcode", "zipcode",
    "phone", "telephone", "phonenumber", "telephonenumber", "mobile", "email", "emailaddress",
    "mrn", "medicalrecordnumber", "hospitalnumber", "nhsnumber", "socialsecuritynumber", "ssn",
    "insurancenumber", "patientid", "otherpatientids",
})  # fmt: skip


def identifying_column(header: str) -> bool:
    """True for a sheet or ISA-Tab column header that names a direct identifier (``Patient Name``,
    ``Date of Birth``, ``DOB``, ``Comment[Patient Name]`` …) or a Table E.1-1 person attribute."""
    match = _COLUMN_WRAPPER.match(header)
    inner = match.group(1) if match else header
    key = re.sub(r"[\s\-_.'’]", "", inner).lower()
    if key in _IDENTIFYING_COLUMNS:
        return True
    entry = annex_e().get(re.sub(r"[^0-9A-Za-z]", "", inner))
    return entry is not None and entry.vr in ("PN", "DA") and entry.keyword.startswith(("Patient", "OtherPatient"))


def column_phi_findings(
    headers: Iterable[tuple[str, int]] | Sequence[str],
    file: str,
    policy: PhiPolicy | None = None,
    *,
    sheet: str | None = None,
) -> list[Issue]:
    """``phi-column`` errors for the identifying column headers of one table (a sheet or ISA-Tab file).

    ``headers`` are ``(header, column number)`` pairs (1-based) or plain headers (numbered in order). A
    column is accepted when the policy's allow-list names it (``attribute`` = the header as written).
    The findings hold the header, never a cell value. The columns a profile maps to its own subject
    field (pseudonymous IDs) should not be passed."""
    policy = policy or PhiPolicy()
    out: list[Issue] = []
    pairs: list[tuple[str, int]] = []
    for i, h in enumerate(headers, 1):
        pairs.append((h, i) if isinstance(h, str) else (str(h[0]), int(h[1])))
    for header, column in pairs:
        if not identifying_column(header):
            continue
        where = f"{sheet}: {header}" if sheet else header
        chk = _Checker(policy, file, FileFindings())
        if chk.allowed(header, "", header):
            out.extend(exception_notes(PhiException(file, *e) for e in chk.out.exceptions))
            continue
        out.append(issue("phi-column", file=file, line=1, column=column, path=where))
    return out


def free_text_phi_findings(
    cells: Iterable[tuple[str, int, int, str]],
    file: str,
    policy: PhiPolicy | None = None,
    *,
    tokens: Iterable[str] = (),
) -> list[Issue]:
    """``phi-free-text`` errors for free-text sheet or ISA-Tab cells that hold a calendar date, a DICOM
    person name (``Family^Given``), an e-mail address, or one of ``tokens`` (patient names / IDs seen in
    headers, matched as whole words). ``cells`` are ``(text, line, column, header)``; the finding names
    the cell and its header, never the text. A header on the allow-list (``attribute`` = the header as
    written) is accepted. Pass only free-text columns: typed date columns are the profile's business."""
    policy = policy or PhiPolicy()
    pattern = _word_pattern(t.lower() for t in tokens if len(t) >= 3)
    out: list[Issue] = []
    chk = _Checker(policy, file, FileFindings())
    for text, line, column, header in cells:
        if not text or not (_identifying_text(text) or (pattern is not None and pattern.search(text))):
            continue
        if chk.allowed(header, "", header):
            continue
        out.append(issue("phi-free-text", file=file, line=line, column=column, path=header))
    return out + exception_notes(PhiException(file, *e) for e in chk.out.exceptions)


# --- one file, many files -----------------------------------------------------------------------------


def _kind(rel: str, path: Path) -> str:
    low = rel.lower()
    if low.endswith((".nii", ".nii.gz")):
        return "nifti"
    if low.endswith(".json"):
        return "sidecar"
    if low.endswith((".dcm", ".dicom", ".ima")):
        return "dicom"
    from isaprofile.package.payload import sniff_dicom

    return "dicom" if sniff_dicom(path) else "other"  # DICOM by content, whatever its name


def check_file(rel: str, path: str | os.PathLike[str], policy: PhiPolicy) -> FileFindings:
    """Check one file's headers (not its name); identifying tokens are kept in memory only."""
    out = FileFindings()
    chk = _Checker(policy, rel, out)
    kind = _kind(rel, Path(path))
    if kind == "dicom":
        _check_dicom(Path(path), chk)
    elif kind == "nifti":
        _check_nifti(Path(path), chk)
    elif kind == "sidecar":
        _check_sidecar(Path(path), chk)
    return out


def _check_batch(batch: list[tuple[str, str]], policy: PhiPolicy) -> list[FileFindings]:
    return [check_file(rel, path, policy) for rel, path in batch]


def _check_item(item: tuple[str, str], policy: PhiPolicy) -> FileFindings:
    """One file of :func:`check_phi` (runs in a worker of :func:`isaprofile.engine.map_files`)."""
    rel, path = item
    return check_file(rel, path, policy)


@cache
def _dicom_vocabulary() -> frozenset[str]:
    """Lower-cased words of DICOM's attribute and UID names (``enhanced``, ``image``, ``series`` …):
    a folder word that DICOM itself uses is not taken for a patient's name."""
    from pydicom._uid_dict import UID_dictionary
    from pydicom.datadict import DicomDictionary, RepeatersDictionary

    words: set[str] = set()
    names = [v[2] for v in DicomDictionary.values()] + [v[2] for v in RepeatersDictionary.values()]
    names += [v[0] for v in UID_dictionary.values()]
    for name in names:
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", name))
    return frozenset(words)


def _name_tokens(tokens: Iterable[tuple[str, str]], pseudonyms: frozenset[str]) -> dict[str, str]:
    """Lower-cased identifying strings to look for in names -> the attribute they came from.

    IDs are looked for whole, names also by their parts; words of DICOM's vocabulary and the
    pseudonyms are left out."""
    found: dict[str, str] = {}
    lowered = {p.lower() for p in pseudonyms}
    for keyword, value in tokens:
        vocabulary = _dicom_vocabulary()  # once there is a token (a NIfTI-only dataset has none: no pydicom)
        parts = [value] + (re.split(r"[\^=\\ ,]+", value) if "Name" in keyword else [])
        for part in parts:
            part = part.strip(" ^=\\,")
            low = part.lower()
            if len(part) < 3 or low in lowered or low in vocabulary:
                continue
            found.setdefault(low, keyword)
    return found


def _word_pattern(tokens: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(tokens), key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(t) for t in ordered)
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


def finish_phi(results: Mapping[str, FileFindings], policy: PhiPolicy | None = None) -> PhiResult:
    """Combine per-file results (package path -> :class:`FileFindings`): add the findings for file and
    folder names (and NIfTI text) that hold a patient name or ID seen in any header, and redact those
    words from every path in the findings and exceptions."""
    policy = policy or PhiPolicy()
    tokens = _name_tokens((t for r in results.values() for t in r.tokens), policy.pseudonyms)
    pattern = _word_pattern(tokens)
    result = PhiResult()
    for rel in sorted(results):
        res = results[rel]
        result.report.extend(res.issues)
        result.exceptions.extend(PhiException(rel, attribute, reason) for attribute, reason in res.exceptions)
        if pattern is None:
            continue
        flagged = {i.path for i in res.issues if i.code == "phi-nifti-text"}
        for location, text in res.texts:
            hit = pattern.search(text)
            if hit and location not in flagged:
                result.report.add(issue("phi-nifti-text", file=rel, path=location))
    result.report.extend(exception_notes(result.exceptions))
    if pattern is not None:
        named: set[str] = set()
        for rel in sorted(results):
            parts = rel.split("/")
            for depth, part in enumerate(parts):
                hit = pattern.search(part)
                if hit is None:
                    continue
                prefix = "/".join(parts[: depth + 1])
                if prefix in named:
                    continue
                named.add(prefix)
                kind = "file" if depth == len(parts) - 1 else "folder"
                result.report.add(
                    issue("phi-file-name", file=rel, path=prefix, part=kind, attribute=tokens[hit.group(0).lower()])
                )
        result.report.issues = [_scrub(i, pattern) for i in result.report.issues]
        result.exceptions = AppliedExceptions(e._replace(file=_redact(e.file, pattern)) for e in result.exceptions)
    result.report.stats.update(phi_files_checked=len(results))
    return result


def inspect_header(kind: str, header: Any, rel: str, *, policy: PhiPolicy) -> FileFindings:
    """The gate's findings for a header another pass has already parsed: the per-header hook of
    :func:`isaprofile.harvest.images.harvest_files` (``kind`` "dicom": a pydicom Dataset with every
    element of the file; "nifti": ``(header, extensions)``). Bind ``policy`` with functools.partial."""
    if kind == "dicom":
        return dicom_phi_findings(header, rel, policy)
    nifti_header, extensions = header
    return nifti_phi_findings(nifti_header, extensions, rel, policy)


def check_phi(
    files: Mapping[str, str | os.PathLike[str]],
    policy: PhiPolicy | None = None,
    *,
    workers: int | None = None,
    known: Mapping[str, FileFindings] | None = None,
) -> PhiResult:
    """Run the PHI gate over ``files`` (package path -> source). Never raises for bad files.

    ``known``: per-file results already computed from headers read by another pass
    (:func:`inspect_header`); those files are not read again.
    """
    policy = policy or PhiPolicy()
    known = known or {}
    items = sorted((rel, str(files[rel])) for rel in files if rel not in known)
    from functools import partial

    from isaprofile.engine import default_workers, map_files

    n = workers if workers is not None else default_workers()
    if n <= 1 or len(items) < _PARALLEL_MIN_FILES:
        results = _check_batch(items, policy)
    else:  # the engine's pool (or Dask cluster, see isaprofile.engine.scheduler), in item order
        from isaprofile.harvest.readers import load_readers_for

        load_readers_for(rel for rel, _ in items)
        results = list(map_files(partial(_check_item, policy=policy), items, n))
    fresh = {rel: res for (rel, _), res in zip(items, results, strict=True)}
    return finish_phi(_Results(known, files, fresh), policy)


class _Results(Mapping[str, FileFindings]):
    """The ``known`` results of the payload's files, and the ``fresh`` ones of the others, as one mapping
    without a merged copy (CRLM: 17,836 known)."""

    def __init__(self, known: Mapping[str, FileFindings], files: Mapping[str, object],
                 fresh: Mapping[str, FileFindings]) -> None:  # fmt: skip
        self._known, self._files, self._fresh = known, files, fresh

    def __getitem__(self, rel: str) -> FileFindings:
        hit = self._fresh.get(rel)
        if hit is not None:
            return hit
        if rel in self._files:
            return self._known[rel]
        raise KeyError(rel)

    def __iter__(self) -> Iterator[str]:
        yield from (rel for rel in self._known if rel in self._files)
        yield from self._fresh

    def __len__(self) -> int:
        return sum(1 for rel in self._known if rel in self._files) + len(self._fresh)


def _redact(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(REDACTED, text)


def _scrub(item: Issue, pattern: re.Pattern[str]) -> Issue:
    """Redact identifying words in the finding's file path (and, for a file-name finding, its path) —
    in the message only where that path is quoted, so attribute names stay readable."""
    if not item.file:
        return item
    file = _redact(item.file, pattern)
    message = item.message.replace(item.file, file) if file != item.file else item.message
    path = item.path
    if item.code == "phi-file-name" and path:
        path = _redact(path, pattern)
        message = message.replace(item.path or "", path) if item.path else message
    if file == item.file and path == item.path:
        return item
    return dataclasses.replace(item, file=file, path=path, message=message)


def exception_notes(applied: Iterable[PhiException]) -> list[Issue]:
    """One ``phi-exception-applied`` note per attribute and reason of ``applied``, in the order first
    seen, located at the first file and counting the files (each file is in ``phi-exceptions.json``).
    ``applied`` is in file order, as :attr:`PhiResult.exceptions` is."""
    seen: dict[tuple[str, str], list[Any]] = {}  # (attribute, reason) -> [first file, last file, files]
    for file, attribute, reason in applied:
        known = seen.setdefault((attribute, reason), [file, None, 0])
        if known[1] != file:  # an attribute allowed at several places of one file counts that file once
            known[1] = file
            known[2] += 1
    return [
        issue("phi-exception-applied", file=file, path=attribute, reason=reason,
              scope=file if count == 1 else f"{count:,} files ({file} first)")
        for (attribute, reason), (file, _, count) in seen.items()
    ]  # fmt: skip


def exceptions_json(result: PhiResult) -> bytes:
    """The applied allow-list exceptions as JSON, to record inside the package: one entry per attribute and
    reason, as the report's ``phi-exception-applied`` notes, with every file it was applied to (sorted, one
    per line). A CRLM deposit applies three entries to 17,836 files; a row per file and attribute, repeating
    the reason, was 47,401 rows and 11.7 MB. The bytes of :func:`exceptions_chunks`."""
    return b"".join(exceptions_chunks(result))


def exceptions_chunks(result: PhiResult) -> Iterator[bytes]:
    """:func:`exceptions_json` in chunks, made as they are written, one entry's files at a time (CRLM's 5 MB
    of it were held whole, as text and as bytes, until the bag's tag files were written)."""
    kinds = sorted({(e.attribute, e.reason) for e in result.exceptions})

    def pieces() -> Iterator[str]:  # pretty_json's layout of {"phi_exceptions": rows}, "files" flat
        if not kinds:
            yield '{\n  "phi_exceptions": []\n}\n'
            return
        yield '{\n  "phi_exceptions": ['
        for n, (attribute, reason) in enumerate(kinds):
            files = sorted({e.file for e in result.exceptions if e.attribute == attribute and e.reason == reason})
            yield f'{"," if n else ""}\n    {{\n      "attribute": {encode_basestring(attribute)},\n      "files": ['
            for i, file in enumerate(files):
                yield f"{',' if i else ''}\n        {flat_item(file)}"
            yield f'\n      ],\n      "reason": {encode_basestring(reason)}\n    }}'
        yield "\n  ]\n}\n"

    return utf8_chunks(pieces(), 1 << 16)
