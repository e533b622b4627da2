"""Helpers every linked-data writer shares: stable identifiers, IRIs, licences, ORCIDs, dates, values.

Identifiers are derived only from the dataset's own identifiers (never from counters or the clock),
so the same investigation always gives the same ``@id`` values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from isaprofile.model import Investigation, Person, Term, Value
from isaprofile.profile.model import Field, Profile

SPDX_BASE = "https://spdx.org/licenses/"
ORCID_BASE = "https://orcid.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
# IRIs of profile fields that have no ontology term of their own (see docs of propertyID).
FIELD_URN = "urn:isaprofile:{name}:{version}:{key}"
# Media types and format IRIs of the image formats (EDAM has NIfTI-1 as format_3549).
FORMATS: dict[str, tuple[str, str | None]] = {
    "dicom": ("application/dicom", "http://edamontology.org/format_3548"),
    "nifti": ("application/x-nifti", "http://edamontology.org/format_3549"),
    "nifti-gz": ("application/x-nifti", "http://edamontology.org/format_3549"),
    "nrrd": ("application/octet-stream", None),
    "json": ("application/json", None),
    "other": ("application/octet-stream", None),
}
FORMAT_NAMES = {
    "http://edamontology.org/format_3548": "DICOM format",
    "http://edamontology.org/format_3549": "NIfTI-1 format",
}
_ISO_DATE = re.compile(
    r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?"
    r"(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$"
)
_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(..., safe="") leaves as it is


@lru_cache(maxsize=8192)
def encoded(part: str) -> str:
    """``quote(part, safe="")``, without its cost for the usual part that has nothing to encode; the recent
    parts are remembered (a scan's id, its label map's path and the protocol's name are parts of the ids of
    each of its 130 segmentations)."""
    return part if _UNRESERVED.fullmatch(part) else quote(part, safe="")


def local_id(kind: str, *parts: str) -> str:
    """A stable local ``@id`` such as ``#sample-M1%2Fw0``: the kind and the percent-encoded parts."""
    return "#" + "-".join([kind, *map(encoded, parts)])


def file_id(path: str) -> str:
    """The ``@id`` of a data file: its POSIX path relative to the crate root, percent-encoded."""
    return quote(path.replace("\\", "/").strip("/"), safe="/")


def field_iri(profile: Profile, f: Field) -> str:
    """The IRI that names a profile field: its ontology term's IRI, else a stable isaprofile URN."""
    if f.term is not None and f.term.iri:
        return f.term.iri
    return FIELD_URN.format(name=profile.name, version=profile.version, key=f.key)


def field_for(profile: Profile, entity: str, name: str) -> Field | None:
    """The profile field of ``entity`` whose ISA name is ``name`` (the key model values are stored under)."""
    return next((f for f in profile.fields if f.entity == entity and f.name == name), None)


def term_id(term: Term) -> str:
    """The ``@id`` of a term's ``DefinedTerm``: its IRI, else a local id from its label."""
    return term.iri or local_id("term", term.source or "", term.label)


def defined_term(term: Term, profile: Profile | None = None) -> dict[str, Any]:
    """A ``DefinedTerm`` entity with ``termCode`` (the CURIE) and ``inDefinedTermSet`` (the ontology)."""
    ent: dict[str, Any] = {"@id": term_id(term), "@type": "DefinedTerm", "name": term.label}
    if term.accession:
        ent["termCode"] = term.accession
    if term.iri:
        ent["url"] = term.iri
    if term.source:
        ent["inDefinedTermSet"] = {"@id": term_set_id(term.source, profile)}
    return ent


def term_set_id(source: str, profile: Profile | None) -> str:
    """The ``@id`` of an ontology: the file IRI the profile declares for it, else a local id."""
    decl = (profile.ontologies.get(source) if profile else None) or {}
    return str(decl.get("file") or local_id("ontology", source))


def term_set(source: str, profile: Profile | None) -> dict[str, Any]:
    """A ``DefinedTermSet`` entity for an ontology the profile declares."""
    decl = (profile.ontologies.get(source) if profile else None) or {}
    ent: dict[str, Any] = {"@id": term_set_id(source, profile), "@type": "DefinedTermSet", "name": source}
    if decl.get("description"):
        ent["description"] = str(decl["description"])
    return ent


def unit_entry(unit: Term | None) -> dict[str, str]:
    """``unitCode`` (the UO IRI; else ``UCUM:<code>``, schema.org's prefixed-code form) and ``unitText`` (the label)."""
    if unit is None:
        return {}
    from isaprofile.units import find_unit

    known = find_unit(unit.accession or "") or find_unit(unit.label)
    out = {"unitText": unit.label}
    if unit.iri:
        out["unitCode"] = unit.iri
    elif known is not None:
        out["unitCode"] = known.iri or f"UCUM:{known.symbol}"
    return out


def json_value(value: Value) -> Any:
    """The JSON-LD ``value`` of a :class:`Value`.

    Integers stay JSON integers (``xsd:integer``); other numbers are typed ``xsd:float`` value
    objects (the ISA RO-Crate profile allows string, float and integer); booleans, dates and terms
    are written as text (terms also get a ``valueReference``).
    """
    v = value.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return {"@value": v, "@type": "xsd:float"}
    return value.text()


@cache
def spdx_licences() -> dict[str, str]:
    """The shipped SPDX licence list: identifier → full name."""
    path = resources.files("isaprofile.linked") / "data" / "spdx-licenses.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {d["id"]: d["name"] for d in data["licenses"]}


def spdx_iri(licence: str) -> str:
    """The SPDX IRI of a licence identifier (``CC-BY-4.0`` → ``https://spdx.org/licenses/CC-BY-4.0``)."""
    if licence.startswith(("http://", "https://")):
        return licence
    return SPDX_BASE + licence


def spdx_id(licence: str) -> str:
    """The SPDX identifier of an SPDX IRI or identifier."""
    for base in (SPDX_BASE, "http://spdx.org/licenses/"):
        if licence.startswith(base):
            return licence[len(base) :].removesuffix(".html")
    return licence


def orcid_ok(orcid: str) -> bool:
    """True when ``orcid`` (bare or as https IRI) has the right shape and ISO 7064 MOD 11-2 check digit."""
    m = _ORCID.match(orcid.strip())
    if not m:
        return False
    digits = m.group(1).replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def orcid_iri(orcid: str) -> str:
    """The ``https://orcid.org/…`` IRI of a bare or full ORCID."""
    m = _ORCID.match(orcid.strip())
    return ORCID_BASE + (m.group(1) if m else orcid.strip())


def iso_date_ok(text: str) -> bool:
    """True for an ISO 8601 calendar date or date-time (``2024``, ``2024-05``, ``2024-05-01T10:00Z``)."""
    if not _ISO_DATE.match(text):
        return False
    try:
        if len(text) >= 10:
            dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def person_id(p: Person) -> str:
    """A person's ``@id``: the ORCID IRI when there is a valid ORCID, else a local id from the name."""
    if p.orcid and orcid_ok(p.orcid):
        return orcid_iri(p.orcid)
    return local_id("person", p.name)


def publisher_name(inv: Investigation, publisher: str | None = None) -> str | None:
    """The publisher: the argument, else ``Comment[publisher]`` of the investigation."""
    return publisher or inv.comments.get("publisher") or None


def release_date(inv: Investigation) -> str:
    """The publication date: public release date, else submission date, else empty."""
    return inv.public_release_date or inv.submission_date or ""


def jpath(*parts: str | int) -> str:
    """A JSONPath such as ``$['@graph'][3].license`` from keys and indices."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += f".{p}"
        else:
            out += "['" + p.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out
