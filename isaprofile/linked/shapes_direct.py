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
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, NamedTuple

from isaprofile._shared import ByIdentity
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


def _layout_ok(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` has the top level :func:`~isaprofile.linked.jsonld.build_ro_crate` writes."""
    return (
        set(doc) == {"@context", "@graph"}
        and doc["@context"] == [RO_CRATE_CONTEXT, dict(ISA_TERMS)]
        and isinstance(doc["@graph"], list)
    )


def _pids(ent: Any) -> frozenset[str] | None:
    """The propertyID strings of one entity, or None when the entity is outside the generated layout."""
    if not isinstance(ent, dict):
        return None
    ident = ent.get("@id")
    if not isinstance(ident, str) or (ident[:1] != "#" and (ident.startswith(_BASE) or _compact(ident))):
        return None  # (an id of "#..." is neither in the base nor a compact IRI)
    if not _plain_keys(tuple(ent)):
        return None  # compact IRIs or keywords could name the same properties another way
    pid = ent.get("propertyID")
    if pid is None:
        return _NO_PIDS
    if type(pid) is str:
        return frozenset((pid,))
    terms = _terms(pid)
    return None if terms is None else frozenset(_strings(terms))


@lru_cache(maxsize=4096)
def _plain_keys(keys: tuple[str, ...]) -> bool:
    """Whether an entity's keys are plain terms: no compact IRI, no keyword but ``@id`` and ``@type`` (the
    entities of a crate have a few dozen key lists between them, so each list is looked at once)."""
    return not any(":" in key or (key[:1] == "@" and key != "@id" and key != "@type") for key in keys)


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
    if not _layout_ok(doc):
        return None
    checker = DirectChecker(profile)
    if not all(checker.feed(ent) for ent in doc["@graph"]):
        return None
    return checker.finish()


_UNKNOWN = object()
_NO_PIDS: frozenset[str] = frozenset()
_MEMO_MAX = 1 << 16  # distinct record shapes remembered by a DirectChecker


class DirectChecker:
    """The shapes' results over a graph given one entity at a time (:meth:`feed`, then :meth:`finish`).

    Only what later entities need is kept: the propertyIDs of value nodes, the hash of every ``@id`` (an
    ``@id`` given twice is outside the layout; two that merely share a hash are taken for that too, which
    only sends the graph to pyshacl: about one run in 10^9 at 240,000 entities) and the graph position
    of each node with a result (:attr:`where`). The ``@id`` strings themselves are not kept: on the ENHANCE
    crate they were 20 MiB. A record is checked as soon as every value node it refers to has been fed (in
    the order :func:`~isaprofile.linked.jsonld.crate_entities` makes, at once), else at :meth:`finish`, so
    the results are those of the whole graph whatever the order.
    """

    def __init__(self, profile: Profile, *, shared_links: bool = False) -> None:
        """``shared_links``: the records' lists of links are shared objects that nothing changes while they are
        fed (:func:`~isaprofile.linked.jsonld.crate_entities` with ``shapes_only``), so a record's results are
        remembered by its list; on a graph of fresh lists remembering them would only cost time."""
        self.plan = _plan(profile)
        self.iri_of = {id(f): c.field_iri(profile, f) for fields in self.plan.records.values() for f in fields}
        self.record_types = {_ATYPES[e]: e for e in self.plan.records}
        self.known = frozenset(self.plan.by_iri)
        self.assays = set(profile.assays)
        self.fed = 0  # entities fed so far
        # hash(@id) of each, told apart once all are fed (finish): as a set, ENHANCE's 233,531 were 16 MiB
        self._hashes = array("q")
        self.where: dict[str, int] = {}  # the graph position of every focus node of a result
        self.pids_of: dict[str, frozenset[str]] = {}  # value nodes only
        self.results: list[Result] = []
        self.waiting: list[tuple[str, int, dict[str, Any], list[str], set[str]]] = []
        self._seen: dict[tuple[Any, ...], list[Result]] = {}  # equal records / values share their results
        self._typing: dict[tuple[Any, ...], Any] = {}
        self._linked: dict[tuple[Any, ...], Any] = {}
        # (shared_links) a record's results by its list of links itself: the same list, the same values fed
        self._by_list: ByIdentity[list[Result]] | None = ByIdentity(_MEMO_MAX) if shared_links else None
        self.ok = True

    def feed(self, ent: Any) -> bool:
        """Check one entity of the graph; False (and so for good) when it is outside the generated layout."""
        pids = _pids(ent) if self.ok else None
        if pids is None:
            self.ok = False
            return False
        ident = ent["@id"]
        self._hashes.append(hash(ident))
        self.fed += 1
        if pids:
            self.pids_of[ident] = pids
        if "additionalType" in ent and not self._record(ident, ent):
            self.ok = False
            return False
        if pids and not pids.isdisjoint(self.known) and not self._value(ident, ent, pids):
            self.ok = False
        return self.ok

    def finish(self) -> list[Result] | None:
        """All results (records still waiting are checked now), or None when the graph was outside the layout:
        an @id fed twice among them (or two that share a hash), which RDF would merge into one node."""
        import numpy

        hashes = numpy.frombuffer(self._hashes, dtype=numpy.int64).copy()
        hashes.sort()  # in place, 8 bytes a hash: a repeated one sits beside its twin
        if self.ok and bool((hashes[1:] == hashes[:-1]).any()):
            self.ok = False
        if not self.ok:
            return None
        for ident, position, ent, entities, mods in self.waiting:
            found = _record_results(ident, ent, entities, mods, self.pids_of, self.plan, self.iri_of, self._seen)
            if found is None:
                return None
            self._add(ident, position, found)
        self.waiting = []
        return self.results if self.ok else None

    def _record(self, ident: str, ent: dict[str, Any]) -> bool:
        # records are many and alike (200,000 segmentations of a few hundred kinds): what a record's types
        # and links give is worked out once per distinct JSON value and reused
        kind, technique = ent["additionalType"], ent.get("measurementTechnique", _UNKNOWN)
        if type(kind) is str and (technique is _UNKNOWN or type(technique) is str):
            type_key: tuple[Any, ...] = (kind, technique)  # the usual record: plain strings (no _key tuples)
        else:
            type_key = (_key(ent, "additionalType"), _key(ent, "measurementTechnique"))
        typing = self._typing.get(type_key, _UNKNOWN)
        if typing is _UNKNOWN:
            typing = self._typing[type_key] = self._types(ent)
        if typing is None:
            return False
        entities, mods = typing
        if not entities:
            return True
        shared, links = self._by_list, None
        # only a segmentation's list is shared (one per label's dict of values): another record's is its own, and
        # remembering it would hold every subject's and scan's references (ENHANCE: 88,000 dicts, 8 MiB) to the end
        if shared is not None and entities == ["segmentation"] and type(ent.get(_LINKS[entities[0]])) is list:
            links = ent[_LINKS[entities[0]]]
            known = shared.get(links, type_key)
            if known is not None:
                if known:
                    self._add(ident, self.fed - 1, [r._replace(focus=ident) for r in known])
                return True
        link_keys = [_key(ent, _LINKS[e]) for e in entities]
        values = self.pids_of  # a link to anything but a value node fed so far waits (the same results, later)
        for e, k in zip(entities, link_keys, strict=True):
            if k == ():
                continue  # no link
            if k[0] is dict:
                fed = k[1] in values
            elif k[0] is list and type(k[1]) is tuple:  # a list of references: their ids
                fed = all(map(values.__contains__, k[1]))
            else:  # anything else, as it is written (null links nothing)
                v = ent[_LINKS[e]]
                refs = [] if v is None else v if isinstance(v, list) else [v]
                fed = all(isinstance(r, dict) and r.get("@id") in values for r in refs)
            if not fed:
                self.waiting.append((ident, self.fed - 1, ent, entities, mods))
                return True
        # every value it links to has been fed, so the results depend on these JSON values alone
        link_key = (type_key, *link_keys)
        found = self._linked.get(link_key, _UNKNOWN)
        if found is _UNKNOWN:
            if len(self._linked) >= _MEMO_MAX:  # records whose values differ (per-subject ages) do not repeat
                self._linked.clear()
            found = self._linked[link_key] = _record_results(
                "", ent, entities, mods, self.pids_of, self.plan, self.iri_of, self._seen
            )
        if found is None:
            return False
        if shared is not None and links is not None:
            shared.put(links, found, type_key)
        if found:
            self._add(ident, self.fed - 1, [r._replace(focus=ident) for r in found])
        return True

    def _add(self, ident: str, position: int, found: list[Result]) -> None:
        if found:
            self.results.extend(found)
            self.where[ident] = position

    def _types(self, ent: dict[str, Any]) -> tuple[list[str], set[str]] | None:
        """The profile entities a record is (by ``additionalType``) and its modalities, or None when unreadable."""
        typed = _props(ent, ("additionalType", "measurementTechnique"))
        if typed is None:
            return None
        atypes = set(_strings(typed.get("additionalType", [])))
        entities = [self.record_types[a] for a in atypes if a in self.record_types]
        return entities, set(_strings(typed.get("measurementTechnique", []))) & self.assays

    def _value(self, ident: str, ent: dict[str, Any], pids: frozenset[str]) -> bool:
        # the results of a value node depend only on its propertyID, value and unitCode: many nodes
        # share them (a segmentation group, a method), so each combination is checked once
        key = (pids, _key(ent, "value"), _key(ent, "unitCode"))
        if key not in self._seen:
            props = _props(ent, ("value", "unitCode"))
            if props is None:
                return False
            self._seen[key] = [r for f in (f for pid in pids for f in self.plan.by_iri.get(pid, ()))
                               for r in _value_results("", props, f)]  # fmt: skip
        self._add(ident, self.fed - 1, [r._replace(focus=ident) for r in self._seen[key]])
        return True


def _key(ent: dict[str, Any], prop: str) -> Any:
    """A hashable key of one property's JSON value (types kept apart: ``1``, ``1.0`` and ``true`` differ)."""
    v = ent.get(prop, _UNKNOWN)
    if v is _UNKNOWN:
        return ()
    kind = type(v)
    if kind is str or kind is int or kind is float or kind is bool:
        return (kind, v)
    if kind is dict and len(v) == 1 and type(v.get("@id")) is str:
        return (dict, v["@id"])  # a reference, the usual link
    if kind is list:
        ids = [r.get("@id") if type(r) is dict and len(r) == 1 and type(r.get("@id")) is str else None for r in v]
        if None not in ids:
            return (list, tuple(ids))  # a list of references (a tuple, never a JSON text below)
    return (list, json.dumps(v, sort_keys=True, default=repr))


def _record_results(
    ident: str,
    ent: dict[str, Any],
    entities: list[str],
    mods: set[str],
    pids_of: Mapping[str, frozenset[str]],
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
            if isinstance(ref, Ref):
                for pid in pids_of.get(ref.id, ()):
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
