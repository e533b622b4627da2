"""The PHI gate: refuse files whose headers or names may still identify a person.

Public API::

    annex_e() -> dict[int | str, AnnexEntry]     DICOM PS3.15 Annex E Table E.1-1 (shipped as data)
    AllowEntry(attribute, reason, files=None)     one exception; a reason is mandatory
    PhiPolicy(pseudonyms=(), allow_uids=True, retain=(), allow=(), private_allow=())
    check_phi(files: Mapping[str, Path], policy=PhiPolicy(), *, workers=None) -> PhiResult
    exceptions_json(result) -> bytes              the applied exceptions, to record in the package

``files`` maps a package path to its source. DICOM headers (read with pydicom, values above
4 KiB deferred so pixel data is never loaded) are checked for every Annex E attribute that still
holds a value (the configured ``pseudonyms`` are accepted for PatientID / PatientName; UIDs are accepted when
``allow_uids``; ``retain`` names Annex E options kept on purpose: ``patient-characteristics``,
``device-identity``, ``descriptions``, ``dates``), private tags (unless matched by
``private_allow`` patterns such as ``(0029,*)``), PatientIdentityRemoved not YES and
BurnedInAnnotation YES. NIfTI headers (nibabel, header only): ``descrip``, ``aux_file``,
``intent_name``, ``db_name`` and extensions holding text. JSON sidecars: keys named after Annex E
attributes. Names: any file or folder name holding a patient name or ID found in a header.

Findings name the attribute (tag and keyword) and the file, never the value: identifying values
are only compared in memory, and file paths in findings have identifying parts replaced by
``[redacted]``. Allow-list exceptions become ``phi-exception-applied`` info findings and are listed
in :attr:`PhiResult.exceptions`.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import json
import os
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from isaprofile.findings.issues import Issue, Report, issue

REDACTED = "[redacted]"
NIFTI_FIELDS = ("descrip", "aux_file", "intent_name", "db_name")
_ID_KEYWORDS = ("PatientID", "PatientName", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName")
_PSEUDONYM_KEYWORDS = ("PatientID", "PatientName")
_TEXT_RUN = re.compile(rb"[\x20-\x7e]{4,}")
_PARALLEL_MIN_FILES = 200


@dataclass(frozen=True, slots=True)
class AnnexEntry:
    """One row of Table E.1-1: the tag (``(60XX,4000)`` style for repeating groups), keyword,
    name, VR, Basic Profile action code (D, Z, X, U, or a combination) and the options that keep it."""

    tag: str
    keyword: str
    name: str
    vr: str
    action: str
    options: frozenset[str]


@cache
def annex_e() -> dict[str, AnnexEntry]:
    """The shipped attribute list, keyed by keyword."""
    text = (resources.files("isaprofile.package") / "data" / "annex_e.csv").read_text(encoding="utf-8")
    out: dict[str, AnnexEntry] = {}
    for row in csv.DictReader(text.splitlines()):
        opts = frozenset(o for o in row["options"].split(";") if o)
        out[row["keyword"]] = AnnexEntry(row["tag"], row["keyword"], row["name"], row["vr"], row["action"], opts)
    return out


@cache
def _by_tag() -> dict[int, AnnexEntry]:
    return {int(e.tag[1:5] + e.tag[6:10], 16): e for e in annex_e().values() if "X" not in e.tag[1:5]}


def _lookup(tag: int) -> AnnexEntry | None:
    found = _by_tag().get(tag)
    if found is None and (tag >> 16) & 0xFF00 == 0x6000 and tag & 0xFFFF == 0x4000:
        return annex_e()["OverlayComments"]
    return found


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """An exception to the PHI gate: ``attribute`` is a keyword (``StudyDate``), a tag
    (``(0008,0020)``) or a tag pattern (``(0029,*)``); ``files`` an optional glob over package
    paths. Without a non-empty ``reason`` the entry is refused (``ValueError``)."""

    attribute: str
    reason: str
    files: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError(f"the PHI allow-list entry for {self.attribute!r} needs a reason")

    def matches(self, keyword: str, tag: str, file: str) -> bool:
        if self.files and not fnmatch.fnmatchcase(file, self.files):
            return False
        return self.attribute == keyword or fnmatch.fnmatchcase(tag, self.attribute.upper())


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


@dataclass
class PhiResult:
    """The gate's findings and the allow-list exceptions that were applied."""

    report: Report = field(default_factory=Report)
    exceptions: list[dict[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.report.valid


@dataclass
class _FileResult:
    issues: list[Issue] = field(default_factory=list)
    exceptions: list[dict[str, str]] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (attribute, value), memory only


class _Checker:
    def __init__(self, policy: PhiPolicy, file: str, out: _FileResult) -> None:
        self.policy = policy
        self.file = file
        self.out = out

    def allowed(self, keyword: str, tag: str) -> bool:
        for entry in self.policy.allow:
            if entry.matches(keyword, tag, self.file):
                where = f"{tag} {keyword}".strip()
                self.out.issues.append(issue("phi-exception-applied", file=self.file, path=where, reason=entry.reason))
                self.out.exceptions.append({"file": self.file, "attribute": where, "reason": entry.reason})
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
        if entry.action.startswith("U") and self.policy.allow_uids:
            return
        if entry.options & self.policy.retain:
            return
        if self.allowed(entry.keyword, entry.tag):
            return
        if code == "phi-attribute":
            self.out.issues.append(issue(code, file=self.file, path=path, action=entry.action))
        else:
            self.out.issues.append(issue(code, file=self.file, path=path))


_DICOM_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError, IndexError, AttributeError, struct.error)
_PIXEL_TAGS = {0x7FE00008, 0x7FE00009, 0x7FE00010}
_DEFERRED = "<deferred>"


def _walk(ds: Any, trail: str = "") -> Iterator[tuple[str, int, str, str | None]]:
    """``(trail, tag, VR, value as text or None)`` for every element, nested items included.

    Elements larger than the read's ``defer_size`` are never loaded: pixel data is skipped and
    any other large value is reported as present (``_DEFERRED``) without reading it.
    """
    from pydicom.dataelem import RawDataElement

    for tag in list(ds.keys()):
        tag = int(tag)
        if tag in _PIXEL_TAGS:
            continue
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
            yield trail, tag, raw.VR or "UN", _DEFERRED
            continue
        elem = ds[tag]
        yield trail, tag, elem.VR, _value(elem)
        if elem.VR == "SQ" and _lookup(tag) is None and not (tag >> 16) & 1:
            for item in elem.value or ():
                yield from _walk(item, f"{trail}{tag_text(tag)} {elem.keyword} > ")


def _value(elem: Any) -> str | None:
    if elem.VR == "SQ":
        return "sequence" if elem.value else None
    value = elem.value
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _check_dicom(path: Path, chk: _Checker) -> None:
    import pydicom
    from pydicom.datadict import keyword_for_tag
    from pydicom.errors import InvalidDicomError

    try:
        # every element is parsed (also those after the pixel data, such as digital signatures);
        # values above 4 KiB stay on disk, so memory does not grow with the pixel data
        ds = pydicom.dcmread(path, defer_size=4096)
        elements = list(_walk(ds.file_meta)) if getattr(ds, "file_meta", None) else []
        elements += list(_walk(ds))
    except (InvalidDicomError, *_DICOM_ERRORS) as exc:  # a file the gate cannot read cannot be packaged
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    for trail, tag, _vr, value in elements:
        private = bool((tag >> 16) & 1)
        entry = None if private else _lookup(tag)
        keyword = (entry.keyword if entry else "") or ("" if private else keyword_for_tag(tag))
        where = f"{trail}{tag_text(tag)} {keyword}".strip()
        if private:
            if (tag & 0xFFFF) < 0x0100 or value in (None, ""):
                continue  # private creator, or empty
            if not chk.allowed("", tag_text(tag)):
                chk.out.issues.append(issue("phi-private-tag", file=chk.file, path=where))
            continue
        if entry is not None:
            chk.annex_value(entry, value, "phi-attribute", where)
    removed = str(ds.get("PatientIdentityRemoved", "") or "").strip().upper()
    if removed != "YES" and not chk.allowed("PatientIdentityRemoved", "(0012,0062)"):
        state = "missing" if "PatientIdentityRemoved" not in ds else "not YES"
        chk.out.issues.append(issue("phi-identity-not-removed", file=chk.file, state=state))
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned == "YES" and not chk.allowed("BurnedInAnnotation", "(0028,0301)"):
        chk.out.issues.append(issue("phi-burned-in", file=chk.file))


def _check_nifti(path: Path, chk: _Checker) -> None:
    import nibabel

    try:
        header = nibabel.load(path).header
    except (OSError, ValueError, EOFError, nibabel.filebasedimages.ImageFileError) as exc:
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    keys = set(header.keys())
    for name in NIFTI_FIELDS:
        if name not in keys:
            continue
        raw = header[name]
        data = raw.item() if hasattr(raw, "item") else raw
        text = data.strip(b"\0 \t\r\n") if isinstance(data, bytes) else str(data).strip()
        if text and not chk.allowed(name, name):
            chk.out.issues.append(issue("phi-nifti-text", file=chk.file, path=name))
    for i, ext in enumerate(getattr(header, "extensions", ()) or ()):
        content = ext.get_content()
        if not isinstance(content, bytes | bytearray):
            content = str(content).encode("utf-8", "replace")
        label = f"extension[{i}] (code {ext.get_code()})"
        if _TEXT_RUN.search(bytes(content)) and not chk.allowed("extension", label):
            chk.out.issues.append(issue("phi-nifti-text", file=chk.file, path=label))


def _check_sidecar(path: Path, chk: _Checker) -> None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        chk.out.issues.append(issue("phi-unreadable", file=chk.file, reason=type(exc).__name__))
        return
    table = annex_e()

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{trail}.{key}"
                if key in table and not isinstance(value, dict | list):
                    text = "" if value is None else str(value)
                    chk.annex_value(table[key], text, "phi-sidecar-key", where)
                elif key in table and value:
                    chk.annex_value(table[key], "structured value", "phi-sidecar-key", where)
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{trail}[{i}]")

    walk(data, "$")


def _kind(rel: str, path: Path) -> str:
    low = rel.lower()
    if low.endswith((".nii", ".nii.gz")):
        return "nifti"
    if low.endswith(".json"):
        return "sidecar"
    if low.endswith((".dcm", ".dicom", ".ima")):
        return "dicom"
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return "other"
    return "dicom" if head[128:132] == b"DICM" else "other"


def check_file(rel: str, path: str | os.PathLike[str], policy: PhiPolicy) -> _FileResult:
    """Check one file's headers (not its name); identifying tokens are kept in memory only."""
    out = _FileResult()
    chk = _Checker(policy, rel, out)
    kind = _kind(rel, Path(path))
    if kind == "dicom":
        _check_dicom(Path(path), chk)
    elif kind == "nifti":
        _check_nifti(Path(path), chk)
    elif kind == "sidecar":
        _check_sidecar(Path(path), chk)
    return out


def _check_batch(batch: list[tuple[str, str]], policy: PhiPolicy) -> list[_FileResult]:
    return [check_file(rel, path, policy) for rel, path in batch]


def _name_tokens(tokens: Iterable[tuple[str, str]], pseudonyms: frozenset[str]) -> dict[str, str]:
    """Lower-cased identifying strings to look for in names -> the attribute they came from."""
    found: dict[str, str] = {}
    for keyword, value in tokens:
        parts = [value] + (re.split(r"[\^=\\ ,]+", value) if "Name" in keyword else [])
        for part in parts:
            part = part.strip()
            if len(part) >= 3 and part not in pseudonyms:
                found.setdefault(part.lower(), keyword)
    return found


def _redact(text: str, tokens: Mapping[str, str]) -> str:
    for token in sorted(tokens, key=len, reverse=True):
        text = re.sub(re.escape(token), REDACTED, text, flags=re.IGNORECASE)
    return text


def check_phi(
    files: Mapping[str, str | os.PathLike[str]],
    policy: PhiPolicy | None = None,
    *,
    workers: int | None = None,
) -> PhiResult:
    """Run the PHI gate over ``files`` (package path -> source). Never raises for bad files."""
    policy = policy or PhiPolicy()
    items = sorted((rel, str(path)) for rel, path in files.items())
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1 or len(items) < _PARALLEL_MIN_FILES:
        results = _check_batch(items, policy)
    else:
        size = max(1, len(items) // (n * 4))
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        with ProcessPoolExecutor(max_workers=n) as pool:
            results = [r for chunk in pool.map(_check_batch, batches, [policy] * len(batches)) for r in chunk]
    tokens = _name_tokens((t for r in results for t in r.tokens), policy.pseudonyms)
    result = PhiResult()
    for res in results:
        result.report.extend(res.issues)
        result.exceptions.extend(res.exceptions)
    for rel, _ in items:
        parts = rel.split("/")
        for depth, part in enumerate(parts):
            low = part.lower()
            hit = next((kw for tok, kw in tokens.items() if tok in low), None)
            if hit is None:
                continue
            kind = "file" if depth == len(parts) - 1 else "folder"
            prefix = "/".join(parts[: depth + 1])
            if kind == "folder" and any(i.path == prefix for i in result.report.issues if i.code == "phi-file-name"):
                continue
            result.report.add(issue("phi-file-name", file=rel, path=prefix, part=kind, attribute=hit))
    result.report.issues = [_scrub(i, tokens) for i in result.report.issues]
    result.exceptions = [{k: _redact(v, tokens) for k, v in e.items()} for e in result.exceptions]
    result.report.stats.update(phi_files_checked=len(items))
    return result


def _scrub(item: Issue, tokens: Mapping[str, str]) -> Issue:
    if not tokens:
        return item
    return dataclasses.replace(
        item,
        file=_redact(item.file, tokens) if item.file else item.file,
        path=_redact(item.path, tokens) if item.path else item.path,
        message=_redact(item.message, tokens),
    )


def exceptions_json(result: PhiResult) -> bytes:
    """The applied allow-list exceptions as sorted JSON, to record inside the package."""
    rows = sorted(result.exceptions, key=lambda e: (e["file"], e["attribute"]))
    return (json.dumps({"phi_exceptions": rows}, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
