"""Turn a raw cell (from a sheet, a header, a table) into a typed :class:`Value` for a profile field.

Problems are returned as (code, params) pairs so the caller can attach the location it knows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from isaprofile.model import Provenance, Term, Value
from isaprofile.profile.model import Field
from isaprofile.units import Unit, convert, find_unit

Problem = tuple[str, dict[str, Any]]
_TRUE = {"true", "yes", "y", "1", "t", "x"}
_FALSE = {"false", "no", "n", "0", "f"}
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


def split_header(header: str) -> tuple[str, str | None]:
    """``"Weight [kg]"`` → ``("Weight", "kg")``; a header without brackets has no unit."""
    m = _HEADER_UNIT.match(header.strip())
    return (m.group("name").strip(), m.group("unit").strip()) if m else (header.strip(), None)


def unit_term(unit: Unit) -> Term:
    return Term(unit.label, "UO" if unit.accession else None, unit.accession)


def is_missing(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return isinstance(raw, str) and not raw.strip()


def coerce(
    field: Field, raw: Any, *, unit: str | Unit | None = None, provenance: Provenance | None = None
) -> tuple[Value | None, list[Problem]]:
    """The value of ``field`` for the raw input ``raw`` given in ``unit`` (default: the field's unit).

    Returns ``(None, [])`` for a missing value. Numbers are converted to the field's unit; terms are
    matched by label, accession or synonym; an open term field keeps an unlisted value as a free term.
    """
    if is_missing(raw):
        return None, []
    problems: list[Problem] = []
    name = field.label
    if isinstance(raw, str):
        raw = raw.strip()
    kind = field.type
    value: Any
    if kind == "string":
        value = _text(raw)
    elif kind in ("integer", "number"):
        num = _number(raw)
        if num is None:
            return None, [
                (
                    "value-type",
                    {"field": name, "expected": f"a{'n integer' if kind == 'integer' else ' number'}"},
                )
            ]
        src_unit = find_unit(unit) if isinstance(unit, str) else unit
        if isinstance(unit, str) and src_unit is None:
            return None, [("unit-unknown", {"field": name, "unit": unit})]
        if field.unit and src_unit and src_unit != field.unit:
            try:
                num = convert(num, src_unit, field.unit)
            except ValueError:
                return None, [("unit-mismatch", {"field": name, "expected": field.unit.label, "unit": src_unit.label})]
        if kind == "integer":
            if not float(num).is_integer():
                return None, [("value-type", {"field": name, "expected": "an integer"})]
            num = int(num)
        if field.minimum is not None and num < field.minimum:
            problems.append(("value-out-of-range", {"field": name, "bound": f">= {field.minimum:g}"}))
        if field.maximum is not None and num > field.maximum:
            problems.append(("value-out-of-range", {"field": name, "bound": f"<= {field.maximum:g}"}))
        value = num
    elif kind == "boolean":
        if isinstance(raw, bool):
            value = raw
        else:
            low = _text(raw).lower()
            if low not in _TRUE | _FALSE:
                return None, [("value-type", {"field": name, "expected": "true or false (yes/no)"})]
            value = low in _TRUE
    elif kind == "date":
        d = _date(raw)
        if d is None:
            return None, [("value-type", {"field": name, "expected": "an ISO 8601 date (YYYY-MM-DD)"})]
        value = d
    else:  # term
        if isinstance(raw, Term):
            raw_text, accession = raw.label, raw.accession
        else:
            raw_text, accession = _text(raw), None
        term = field.find_term(raw_text)
        if term is None and accession:  # a label we do not list, with an accession we do: trust the accession
            term = field.find_term(accession)
            if term is not None:
                params = {"field": name, "label": raw_text, "found": accession, "expected": term.label}
                problems.append(("term-label-mismatch", params))
        if term is None:
            if not field.open:
                return None, [("value-not-allowed", {"field": name})]
            if field.terms:
                problems.append(("value-not-listed", {"field": name}))
            term = raw if isinstance(raw, Term) else Term(raw_text)
        elif accession and term.accession and not same_accession(accession, term.accession):
            params = {"field": name, "label": term.label, "found": accession, "expected": term.accession}
            problems.append(("term-accession-mismatch", params))
        value = term
    return Value(value, unit_term(field.unit) if field.unit and kind in ("integer", "number") else None,
                 provenance), problems  # fmt: skip


def same_accession(a: str, b: str) -> bool:
    """Whether two accessions name one term: equal, or the IRI and the CURIE of it
    (``http://purl.obolibrary.org/obo/NCBITaxon_10090`` is ``NCBITaxon:10090``; http and https alike)."""
    if a.strip() == b.strip():
        return True
    iri_a, iri_b = Term("x", None, a.strip()).iri, Term("x", None, b.strip()).iri
    if iri_a is None or iri_b is None:
        return False
    return iri_a.replace("https://", "http://", 1) == iri_b.replace("https://", "http://", 1)


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return str(raw).strip()


def _number(raw: Any) -> float | int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else None
    try:
        num = float(str(raw).strip().replace(",", ".") if str(raw).count(",") == 1 and "." not in str(raw)
                    else str(raw).strip())  # fmt: skip
    except ValueError:
        return None
    if not math.isfinite(num):
        return None
    return int(num) if num.is_integer() and re.fullmatch(r"[+-]?\d+", str(raw).strip()) else num


def _date(raw: Any) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip()[:10])
    except ValueError:
        return None
