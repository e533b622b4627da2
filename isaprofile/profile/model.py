"""The profile model and the loading of built-in and user profiles.

A profile is a YAML file (see ``docs/profiles.md``). Built-in profiles live in
``isaprofile/profiles/<name>/<version>/profile.yaml``; a user profile may ``extends:`` one of them
and add, change or remove fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from isaprofile.errors import IsaprofileError
from isaprofile.findings.codes import SAFE_LOADER
from isaprofile.model import Term
from isaprofile.units import Unit, find_unit

ENTITIES = ("investigation", "study", "subject", "sample", "scan", "segmentation")
TYPES = ("string", "integer", "number", "boolean", "date", "term")
LEVELS = ("required", "recommended", "optional")
# Where a field sits in ISA. The structural placements name ISA's own attributes.
PLACEMENTS = (
    "characteristic", "factor", "parameter", "comment",
    "investigation", "study",  # a fixed row of the investigation file (e.g. Study Identifier)
    "source-name", "subject-study", "sample-name", "sample-subject", "assay-name", "scan-sample", "modality",
    "image-file", "segmentation-file", "segmentation-scan",
)  # fmt: skip
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class ProfileError(IsaprofileError, ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a profile: where it sits in ISA, its type, unit, allowed terms and level."""

    key: str
    label: str
    entity: str
    isa: str
    name: str  # the ISA name: Characteristics[<name>], Parameter Value[<name>], Comment[<name>]
    type: str = "string"
    level: str = "optional"
    unit: Unit | None = None
    terms: tuple[Term, ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()  # (synonym lower-case, term label)
    open: bool = False  # term fields: other (free-text) values are allowed, with a warning
    modalities: tuple[str, ...] = ()  # scan fields: the assays they belong to (empty: all)
    group: str = "General metadata"
    description: str = ""
    aliases: tuple[str, ...] = ()  # other headers users write for this field
    harvest: tuple[tuple[str, str], ...] = ()  # (source kind, key): ("dicom", "SliceThickness")
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    term: Term | None = None  # the ontology term for the field itself (propertyID)
    # label / accession / synonym (lower-case) -> term, built on first use (find_term runs once per value read)
    _term_index: dict[str, Term] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def required(self) -> bool:
        return self.level == "required"

    @property
    def header(self) -> str:
        """The ISA-Tab column header for table placements."""
        kind = {"characteristic": "Characteristics", "factor": "Factor Value",
                "parameter": "Parameter Value", "comment": "Comment"}.get(self.isa)  # fmt: skip
        return f"{kind}[{self.name}]" if kind else self.name

    @property
    def template_header(self) -> str:
        """The header of the field in the data-entry template: label, and unit symbol in brackets."""
        return f"{self.label} [{self.unit.symbol}]" if self.unit else self.label

    def applies_to(self, modality: str) -> bool:
        return not self.modalities or modality in self.modalities

    def find_term(self, text: str) -> Term | None:
        """The allowed term whose label, accession or synonym is ``text`` (case-insensitive)."""
        index = self._term_index
        if not index and self.terms:
            for t in self.terms:  # the first term that matches wins, as a scan in order would find it
                index.setdefault(t.label.lower(), t)
                if t.accession:
                    index.setdefault(t.accession.lower(), t)
            labels = {t.label: t for t in reversed(self.terms)}
            for syn, label in self.synonyms:
                if label in labels:
                    index.setdefault(syn, labels[label])
        return index.get(text.strip().lower())


@dataclass(frozen=True, slots=True)
class Assay:
    """An assay type of the profile (one ISA assay file per modality)."""

    key: str  # "MRI"
    measurement: Term
    technology: Term
    protocol: str  # name of the acquisition protocol
    protocol_type: Term
    platform: str = ""


@dataclass(frozen=True)
class Profile:
    """A named, versioned profile: its ontologies, assays and fields."""

    name: str
    version: str
    title: str
    description: str
    ontologies: dict[str, dict[str, str]]
    assays: dict[str, Assay]
    fields: tuple[Field, ...]
    protocols: dict[str, Term] = field(default_factory=dict)  # other protocols: name -> type
    source: str = ""  # where it was loaded from
    files: tuple[Path, ...] = ()  # the user's YAML files it was loaded from (the file itself first)
    # fields_for()'s answers, made on first use (the fields never change): it ran over every field for each
    # value placed (ENHANCE: each of 14,377 scans' defaults, each sheet row)
    _for: dict[tuple[str, str | None], tuple[Field, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def field(self, key: str) -> Field:
        found = self._key_index.get(key)
        if found is None:
            raise KeyError(f"profile {self.id} has no field {key!r}")
        return found

    def fields_for(self, entity: str, modality: str | None = None) -> list[Field]:
        """The fields of ``entity`` (for a scan of ``modality``, those that apply to it), in profile order."""
        found = self._for.get((entity, modality))
        if found is None:
            found = self._for[(entity, modality)] = tuple(
                f for f in self.fields if f.entity == entity and (modality is None or f.applies_to(modality))
            )
        return list(found)

    def by_header(self, entity: str, header: str) -> Field | None:
        """The field of ``entity`` whose ISA header, label, template header or alias is ``header``."""
        low = _norm(header)
        for f in self.fields:
            if f.entity != entity:
                continue
            if low in (_norm(f.header), _norm(f.label), _norm(f.template_header), _norm(f.key)):
                return f
            if any(low == _norm(a) for a in f.aliases):
                return f
        return None

    def by_isa(self, entity: str, isa: str, name: str) -> Field | None:
        """The field of ``entity`` written as ``isa`` placement with ISA name ``name``."""
        return self._isa_index.get((entity, isa, name.strip().lower()))

    @cached_property
    def _key_index(self) -> dict[str, Field]:
        index: dict[str, Field] = {}
        for f in self.fields:  # the first field wins, as a search would find
            index.setdefault(f.key, f)
        return index

    @cached_property
    def _isa_index(self) -> dict[tuple[str, str, str], Field]:
        index: dict[tuple[str, str, str], Field] = {}
        for f in self.fields:  # the first field wins
            index.setdefault((f.entity, f.isa, f.name.lower()), f)
        return index

    def placement(self, entity: str, isa: str) -> Field | None:
        """The (first) field of ``entity`` with the structural placement ``isa``."""
        return next((f for f in self.fields if f.entity == entity and f.isa == isa), None)

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(f.group for f in self.fields))


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


# ---------------------------------------------------------------- loading


def _term(spec: Any, where: str) -> Term:
    if isinstance(spec, str):
        return Term(spec)
    if not isinstance(spec, dict) or "label" not in spec:
        raise ProfileError(f"{where}: a term needs a label (got {spec!r})")
    return Term(str(spec["label"]), spec.get("source"), spec.get("accession"))


def _field(spec: dict[str, Any], where: str) -> Field:
    if not isinstance(spec, dict):
        raise ProfileError(f"{where}: a field must be a mapping")
    key = spec.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ProfileError(f"{where}: field key {key!r} must be lower_snake_case")
    where = f"{where} field {key!r}"
    for attr, allowed in (("entity", ENTITIES), ("isa", PLACEMENTS), ("type", TYPES), ("level", LEVELS)):
        val = spec.get(attr, {"type": "string", "level": "optional"}.get(attr))
        if val not in allowed:
            raise ProfileError(f"{where}: {attr} must be one of {', '.join(allowed)}, not {val!r}")
    unit = None
    if spec.get("unit"):
        unit = find_unit(str(spec["unit"]))
        if unit is None:
            raise ProfileError(f"{where}: unknown unit {spec['unit']!r}")
    terms, synonyms = [], []
    for i, t in enumerate(spec.get("terms") or []):
        term = _term(t, f"{where} terms[{i}]")
        terms.append(term)
        for syn in (t.get("synonyms") or []) if isinstance(t, dict) else []:
            synonyms.append((str(syn).strip().lower(), term.label))
    if spec.get("type") == "term" and not terms and not spec.get("open"):
        raise ProfileError(f"{where}: a closed term field needs a list of terms")
    harvest = []
    for kind, keys in (spec.get("harvest") or {}).items():
        for k in [keys] if isinstance(keys, str) else keys:
            harvest.append((str(kind), str(k)))
    return Field(
        key=key,
        label=str(spec.get("label", key.replace("_", " ").capitalize())),
        entity=spec["entity"],
        isa=spec["isa"],
        name=str(spec.get("name", spec.get("label", key)).lower() if "name" not in spec else spec["name"]),
        type=spec.get("type", "string"),
        level=spec.get("level", "optional"),
        unit=unit,
        terms=tuple(terms),
        synonyms=tuple(synonyms),
        open=bool(spec.get("open", False)),
        modalities=tuple(spec.get("modalities") or ()),
        group=str(spec.get("group", "General metadata")),
        description=str(spec.get("description", "")),
        aliases=tuple(str(a) for a in spec.get("aliases") or ()),
        harvest=tuple(harvest),
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        default=spec.get("default"),
        term=_term(spec["term"], f"{where} term") if spec.get("term") else None,
    )


def _assay(key: str, spec: dict[str, Any], where: str) -> Assay:
    try:
        return Assay(
            key=key,
            measurement=_term(spec["measurement"], f"{where} assay {key}"),
            technology=_term(spec["technology"], f"{where} assay {key}"),
            protocol=str(spec["protocol"]),
            protocol_type=_term(spec.get("protocol_type", {"label": "data acquisition"}), where),
            platform=str(spec.get("platform", "")),
        )
    except KeyError as exc:
        raise ProfileError(f"{where}: assay {key!r} needs {exc}") from None


def _read_yaml(path: Path | resources.abc.Traversable, where: str) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{where}: cannot read profile: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: a profile file must be a YAML mapping")
    return data


def _builtin_root() -> resources.abc.Traversable:
    return resources.files("isaprofile") / "profiles"


def list_profiles() -> list[tuple[str, str]]:
    """The built-in profiles as (name, version) pairs, sorted."""
    out = []
    for folder in _builtin_root().iterdir():
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            for ver in folder.iterdir():
                if (ver / "profile.yaml").is_file():
                    out.append((folder.name, ver.name))
    return sorted(out, key=lambda nv: (nv[0], [int(p) if p.isdigit() else p for p in nv[1].split(".")]))


@cache
def _load_builtin(name: str, version: str | None) -> Profile:
    versions = [v for n, v in list_profiles() if n == name]
    if not versions:
        known = ", ".join(sorted({n for n, _ in list_profiles()}))
        raise ProfileError(f"no built-in profile {name!r} (built-in: {known})")
    version = version or versions[-1]
    if version not in versions:
        raise ProfileError(f"profile {name!r} has no version {version!r} (versions: {', '.join(versions)})")
    path = _builtin_root() / name / version / "profile.yaml"
    return _from_data(_read_yaml(path, f"{name}@{version}"), f"{name}@{version}")


def load_profile(ref: str | Path | Profile) -> Profile:
    """A profile by built-in name (``preclinical-imaging``, ``preclinical-imaging@1.0``) or YAML path."""
    if isinstance(ref, Profile):
        return ref
    text = str(ref)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ProfileError(f"{text}: profile file not found")
        return _from_data(_read_yaml(path, text), text, path)
    name, _, version = text.partition("@")
    return _load_builtin(name, version or None)


def _from_data(data: dict[str, Any], where: str, path: Path | None = None) -> Profile:
    base: Profile | None = None
    if data.get("extends"):
        ref = str(data["extends"])
        if path is not None and ref.endswith((".yaml", ".yml")) and not Path(ref).is_absolute():
            ref = str(path.parent / ref)  # a base file is named relative to the profile that extends it
        base = load_profile(ref)
    for key in ("name", "version"):
        if not data.get(key):
            raise ProfileError(f"{where}: a profile needs a {key}")
    fields: dict[str, Field] = {f.key: f for f in base.fields} if base else {}
    for key in data.get("remove") or []:
        if key not in fields:
            raise ProfileError(f"{where}: cannot remove field {key!r}: the base profile has no such field")
        del fields[key]
    for i, spec in enumerate(data.get("fields") or []):
        if isinstance(spec, dict) and spec.get("key") in fields:
            # an extending profile changes a base field: merge its attributes over the base's
            old = fields[spec["key"]]
            merged = {**_field_to_spec(old), **spec}
            fields[old.key] = _field(merged, f"{where} fields[{i}]")
        else:
            f = _field(spec, f"{where} fields[{i}]")
            fields[f.key] = f
    ontologies = {**(base.ontologies if base else {}), **(data.get("ontologies") or {})}
    assays = dict(base.assays) if base else {}
    for key, spec in (data.get("assays") or {}).items():
        assays[str(key)] = _assay(str(key), spec, where)
    protocols = dict(base.protocols) if base else {}
    for pname, ptype in (data.get("protocols") or {}).items():
        protocols[str(pname)] = _term(ptype, f"{where} protocol {pname}")
    prof = Profile(
        name=str(data["name"]),
        version=str(data["version"]),
        title=str(data.get("title", base.title if base else data["name"])),
        description=str(data.get("description", base.description if base else "")),
        ontologies=ontologies,
        assays=assays,
        fields=tuple(fields.values()),
        protocols=protocols,
        source=where,
        files=((path,) if path is not None else ()) + (base.files if base else ()),
    )
    _check(prof, where)
    return prof


def _field_to_spec(f: Field) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "key": f.key, "label": f.label, "entity": f.entity, "isa": f.isa, "name": f.name, "type": f.type,
        "level": f.level, "open": f.open, "modalities": list(f.modalities), "group": f.group,
        "description": f.description, "aliases": list(f.aliases), "minimum": f.minimum, "maximum": f.maximum,
        "default": f.default,
    }  # fmt: skip
    if f.unit:
        spec["unit"] = f.unit.symbol
    if f.terms:
        spec["terms"] = [
            {"label": t.label, "source": t.source, "accession": t.accession,
             "synonyms": [s for s, lab in f.synonyms if lab == t.label]}
            for t in f.terms
        ]  # fmt: skip
    if f.harvest:
        h: dict[str, list[str]] = {}
        for kind, k in f.harvest:
            h.setdefault(kind, []).append(k)
        spec["harvest"] = h
    if f.term:
        spec["term"] = {"label": f.term.label, "source": f.term.source, "accession": f.term.accession}
    return spec


def _check(prof: Profile, where: str) -> None:
    seen: set[tuple[str, str]] = set()
    for f in prof.fields:
        if f.isa in ("characteristic", "factor", "parameter", "comment"):
            slot = (f.entity, f.header)
            if slot in seen and f.entity != "scan":
                raise ProfileError(f"{where}: two {f.entity} fields share the column {f.header}")
            seen.add(slot)
        for m in f.modalities:
            if m not in prof.assays:
                raise ProfileError(f"{where}: field {f.key!r} names unknown assay {m!r}")
        for t in (*f.terms, *([f.term] if f.term else [])):
            if t.source and t.source not in prof.ontologies:
                raise ProfileError(f"{where}: field {f.key!r} uses ontology {t.source!r}, not declared")


def with_fields(profile: Profile, fields: Iterable[Field]) -> Profile:
    """A copy of ``profile`` with ``fields`` instead of its own (for tests and tools)."""
    return replace(profile, fields=tuple(fields))
