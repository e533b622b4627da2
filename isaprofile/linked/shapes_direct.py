"""The profile's SHACL shapes compiled to direct checks over the crate JSON (same findings, no RDF graph).

:mod:`isaprofile.linked.shacl` generates the shapes from the profile and validates them with pyshacl. On a
crate in the layout :func:`isaprofile.linked.jsonld.build_ro_crate` writes — the RO-Crate 1.2 context plus
the ISA terms, a flat ``@graph`` of entities with unique ``@id`` and values that are literals, ``{"@id"}``
references or ``{"@value", "@type": "xsd:…"}`` objects — the RDF graph is a plain reading of the JSON, so
the same constraints can be evaluated on the dictionaries directly:

* records are typed by ``additionalType`` (and scans by ``measurementTechnique``), values by
  ``propertyID`` — the SHACL-AF rules of the shapes;
* per field: qualified min/max counts on the record's ``additionalProperty`` / ``parameterValue``,
  ``sh:maxCount 1``, ``sh:datatype`` (``sh:or`` for numbers), ``sh:pattern`` for dates, ``sh:in`` for
  closed term lists and booleans, ``sh:minInclusive`` / ``sh:maxInclusive``, and ``sh:in`` over the unit
  code — one result per failing value node, as SHACL reports them.

Each result carries the same shape IRI (so the same code, severity, field and entity), the same focus node
and result path as pyshacl's. :func:`direct_results` returns ``None`` for a document outside that layout,
and the caller falls back to pyshacl; the tests run both on the examples and on broken variants and assert
the same findings.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from isaprofile.linked import _common as c
from isaprofile.linked.context import ISA_TERMS, RO_CRATE_CONTEXT, load_context
from isaprofile.profile.model import Field, Profile

XSD = "http://www.w3.org/2001/XMLSchema#"
STRING, INTEGER, FLOAT, DOUBLE, BOOLEAN = (XSD + t for t in ("string", "integer", "float", "double", "boolean"))
_NUMERIC = {INTEGER, FLOAT, DOUBLE, XSD + "decimal"}
_BASE = "http://crate.invalid/"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LINKS = {"subject": "additionalProperty", "sample": "additionalProperty", "scan": "parameterValue",
          "segmentation": "parameterValue"}  # fmt: skip
_ATYPES = {"subject": "Source", "sample": "Sample", "scan": "Scan", "segmentation": "Segmentation"}
_PLACED = ("characteristic", "factor", "parameter")


class Lit(NamedTuple):
    """An RDF literal as JSON-LD 1.1 ``toRdf`` makes it from a JSON value (lexical form, datatype IRI)."""

    lexical: str
    datatype: str
    number: float | None = None  # the numeric value of a well-formed numeric literal
    ok: bool = True  # well-formed for its datatype


class Ref(NamedTuple):
    """A node reference (``{"@id": …}``), by its ``@id`` as written."""

    id: str


Term = Lit | Ref


class Result(NamedTuple):
    """One validation result: focus node ``@id``, result path (short name), severity, shape kind, field."""

    focus: str
    path: str
    severity: str  # Violation, Warning, Info
    entity: str
    key: str
    kind: str


@dataclass
class _Plan:
    by_iri: dict[str, list[Field]] = field(default_factory=dict)
    records: dict[str, list[Field]] = field(default_factory=dict)  # entity -> fields placed on its records


def _canonical_double(v: float) -> str:
    """The canonical xsd:double lexical form JSON-LD writes for a native number (``1.5E0``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "INF" if v > 0 else "-INF"
    mant, exp = f"{v:.15E}".split("E")
    mant = mant.rstrip("0")
    if mant.endswith("."):
        mant += "0"
    return f"{mant}E{int(exp)}"


def _number(text: str, datatype: str) -> float | None:
    try:
        if datatype == INTEGER:
            if not re.fullmatch(r"[+-]?\d+", text.strip()):
                return None
            return float(int(text))
        return float(text)
    except ValueError:
        return None


def _term(v: Any) -> Term | None:
    """The RDF term of one JSON value, or None when it is outside the layout the checks read."""
    if type(v) is str:
        return Lit(v, STRING)
    if isinstance(v, bool):
        return Lit("true" if v else "false", BOOLEAN)
    if isinstance(v, int):
        return Lit(str(v), INTEGER, float(v))
    if isinstance(v, float):
        return Lit(_canonical_double(v), DOUBLE, v)
    if isinstance(v, str):
        return Lit(v, STRING)
    if isinstance(v, dict):
        if set(v) == {"@id"} and isinstance(v["@id"], str):
            return Ref(v["@id"])
        if set(v) == {"@value", "@type"} and isinstance(v["@type"], str) and v["@type"].startswith("xsd:"):
            dt = XSD + v["@type"][4:]
            raw = v["@value"]
            if isinstance(raw, bool):
                return None
            if isinstance(raw, int | float):
                num = float(raw)
                lexical = str(raw) if isinstance(raw, int) and dt not in (DOUBLE, FLOAT) else _canonical_double(num)
                return Lit(lexical, dt, num if dt in _NUMERIC else None)
            if isinstance(raw, str):
                if dt in _NUMERIC:
                    num2 = _number(raw, dt)
                    return Lit(raw, dt, num2, num2 is not None)
                if dt == BOOLEAN:
                    return Lit(raw, dt, None, raw in ("true", "false", "1", "0"))
                return Lit(raw, dt)
        if set(v) == {"@value"} and isinstance(v["@value"], str):
            return Lit(v["@value"], STRING)
    return None


def _terms(v: Any) -> list[Term] | None:
    """The set of RDF terms of a property value (a JSON array is a set: duplicates collapse)."""
    items = v if isinstance(v, list) else [v]
    out: list[Term] = []
    for item in items:
        t = _term(item)
        if t is None:
            return None
        if t not in out:
            out.append(t)
    return out


_Node = tuple[dict[str, Any], frozenset[str]]  # an entity and the strings of its propertyID


def _graph(doc: dict[str, Any]) -> dict[str, _Node] | None:
    """``@id`` → (entity, propertyID strings), or None when ``doc`` is not in the generated layout."""
    if set(doc) != {"@context", "@graph"} or doc["@context"] != [RO_CRATE_CONTEXT, dict(ISA_TERMS)]:
        return None
    raw = doc["@graph"]
    if not isinstance(raw, list):
        return None
    nodes: dict[str, _Node] = {}
    for ent in raw:
        if not isinstance(ent, dict):
            return None
        ident = ent.get("@id")
        if not isinstance(ident, str) or ident in nodes or ident.startswith(_BASE) or _compact(ident):
            return None
        for key in ent:
            if ":" in key or (key[:1] == "@" and key != "@id" and key != "@type"):
                return None  # compact IRIs or keywords could name the same properties another way
        pid = ent.get("propertyID")
        if pid is None:
            pids: frozenset[str] = frozenset()
        elif type(pid) is str:
            pids = frozenset((pid,))
        else:
            terms = _terms(pid)
            if terms is None:
                return None
            pids = frozenset(_strings(terms))
        nodes[ident] = (ent, pids)
    return nodes


def _props(ent: dict[str, Any], keys: tuple[str, ...]) -> dict[str, list[Term]] | None:
    """The term sets of ``keys`` on ``ent`` (absent keys left out), or None when one is unreadable."""
    out: dict[str, list[Term]] = {}
    for key in keys:
        if key in ent:
            terms = _terms(ent[key])
            if terms is None:
                return None
            out[key] = terms
    return out


@cache
def _prefixes() -> frozenset[str]:
    """The terms of the crate's contexts: ``term:suffix`` would be a compact IRI, another spelling of a node."""
    return frozenset([*(load_context(RO_CRATE_CONTEXT) or {}), *ISA_TERMS])


def _compact(ident: str) -> bool:
    head, sep, rest = ident.partition(":")
    return bool(sep) and not rest.startswith("//") and head in _prefixes()


def _plan(profile: Profile) -> _Plan:
    plan = _Plan()
    for f in profile.fields:
        if f.entity in _LINKS and f.isa in _PLACED:
            plan.by_iri.setdefault(c.field_iri(profile, f), []).append(f)
            plan.records.setdefault(f.entity, []).append(f)
    return plan


def _strings(terms: list[Term]) -> list[str]:
    return [t.lexical for t in terms if isinstance(t, Lit) and t.datatype == STRING]


def direct_results(doc: dict[str, Any], profile: Profile) -> list[Result] | None:
    """The results the profile's shapes give on ``doc``; None when ``doc`` is outside the generated layout."""
    nodes = _graph(doc)
    if nodes is None:
        return None
    plan = _plan(profile)
    out: list[Result] = []
    iri_of = {id(f): c.field_iri(profile, f) for fields in plan.records.values() for f in fields}
    record_types = {_ATYPES[e]: e for e in plan.records}
    known = frozenset(plan.by_iri)
    seen: dict[tuple[Any, ...], list[Result]] = {}
    assays = set(profile.assays)
    for ident, (ent, pids) in nodes.items():
        if "additionalType" in ent:
            typed = _props(ent, ("additionalType", "measurementTechnique"))
            if typed is None:
                return None
            atypes = set(_strings(typed.get("additionalType", [])))
            entities = [record_types[a] for a in atypes if a in record_types]
            if entities:
                mods = set(_strings(typed.get("measurementTechnique", []))) & assays
                found = _record_results(ident, ent, entities, mods, nodes, plan, iri_of, seen)
                if found is None:
                    return None
                out.extend(found)
        if pids & known:
            # the results of a value node depend only on its propertyID, value and unitCode: many nodes
            # share them (a segmentation group, a method), so each combination is checked once
            key = (pids, _key(ent, "value"), _key(ent, "unitCode"))
            if key not in seen:
                props = _props(ent, ("value", "unitCode"))
                if props is None:
                    return None
                seen[key] = [r for f in (f for pid in pids for f in plan.by_iri.get(pid, ()))
                             for r in _value_results("", props, f)]  # fmt: skip
            out.extend(r._replace(focus=ident) for r in seen[key])
    return out


def _key(ent: dict[str, Any], prop: str) -> Any:
    """A hashable key of one property's JSON value (types kept apart: ``1``, ``1.0`` and ``true`` differ)."""
    if prop not in ent:
        return ()
    v = ent[prop]
    if type(v) in (str, int, float, bool):
        return (type(v), v)
    return (list, json.dumps(v, sort_keys=True, default=repr))


def _record_results(
    ident: str,
    ent: dict[str, Any],
    entities: list[str],
    mods: set[str],
    nodes: dict[str, _Node],
    plan: _Plan,
    iri_of: dict[int, str],
    seen: dict[tuple[Any, ...], list[Result]],
) -> list[Result] | None:
    out: list[Result] = []
    for entity in sorted(entities):
        link = _LINKS[entity]
        linked = _props(ent, (link,))
        if linked is None:
            return None
        counts: dict[str, int] = {}
        for ref in linked.get(link, []):
            if isinstance(ref, Ref) and ref.id in nodes:
                for pid in nodes[ref.id][1]:
                    counts[pid] = counts.get(pid, 0) + 1
        key = (entity, frozenset(mods) if entity == "scan" else None, frozenset(counts.items()))
        if key not in seen:  # records with the same fields given as often share their results
            found = []
            for f in plan.records[entity]:
                if entity == "scan" and f.modalities and not (set(f.modalities) & mods):
                    continue
                n = counts.get(iri_of[id(f)], 0)
                sev = {"required": "Violation", "recommended": "Info"}.get(f.level)
                if sev and n < 1:
                    found.append(Result("", link, sev, f.entity, f.key, "min"))
                if n > 1:
                    found.append(Result("", link, "Violation", f.entity, f.key, "max"))
            seen[key] = found
        out.extend(r._replace(focus=ident) for r in seen[key])
    return out


def _value_results(ident: str, props: dict[str, list[Term]], f: Field) -> list[Result]:
    out: list[Result] = []

    def fail(kind: str, sev: str = "Violation", path: str = "value") -> None:
        out.append(Result(ident, path, sev, f.entity, f.key, kind))

    values = props.get("value", [])
    if len(values) > 1:
        fail("single")
    for v in values:
        lit = v if isinstance(v, Lit) else None
        if f.type == "integer" and not (lit and lit.datatype == INTEGER and lit.ok):
            fail("datatype")
        elif f.type == "number" and not (lit and lit.datatype in (FLOAT, INTEGER, DOUBLE) and lit.ok):
            fail("datatype")
        elif f.type == "boolean" and not (lit and lit.datatype == STRING and lit.lexical in ("true", "false")):
            fail("datatype")
        elif f.type == "date":
            if not (lit and lit.datatype == STRING):
                fail("datatype")
            if not (lit and _DATE.search(lit.lexical)):
                fail("datatype")
        elif f.type == "string" and not (lit and lit.datatype == STRING):
            fail("datatype")
        if f.type == "term" and f.terms and not f.open:
            labels = {t.label for t in f.terms}
            if not (lit and lit.datatype == STRING and lit.lexical in labels):
                fail("in")
        if f.type in ("integer", "number"):
            if lit and not lit.ok:
                # an ill-formed numeric literal: the datatype finding says it. pyshacl (through rdflib's ordering)
                # ranks it above the bounds, so a maximum fails and a minimum passes; the same results here
                if f.maximum is not None:
                    fail("range")
                continue
            num = lit.number if lit and lit.datatype in _NUMERIC else None
            if f.minimum is not None and not (num is not None and num >= float(f.minimum)):
                fail("range")
            if f.maximum is not None and not (num is not None and num <= float(f.maximum)):
                fail("range")
    if f.unit is not None:
        code = f.unit.iri or f"UCUM:{f.unit.symbol}"
        for u in props.get("unitCode", []):
            if not (isinstance(u, Lit) and u.datatype == STRING and u.lexical == code):
                fail("unit", "Warning", "unitCode")
    return out
