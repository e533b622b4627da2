"""Cross-checks: where a sheet states what an image header states too, the two must agree.

Both values are typed for the profile field first (numbers converted to the field's unit, terms matched
by label or synonym), then compared: numbers within a relative tolerance, terms by label, text
case-insensitively. A disagreement is a ``value-conflict`` finding located at the sheet cell, whose
message shows both values and both sources. Identifying fields are compared too, but their values are
never printed (the message says "one value" / "another"): the ISA identifiers (the subject ID), fields
harvested from a DICOM PS3.15 Table E.1-1 attribute (StudyDate, PatientAge, InstitutionName ...), and
fields titled like a direct identifier (see :func:`isaprofile.package.phi.identifying_column`).
"""

from __future__ import annotations

import math

from isaprofile.findings.issues import Issue, issue
from isaprofile.model import Term, Value
from isaprofile.profile.coerce import coerce
from isaprofile.profile.model import Field

REL_TOL = 1e-3
ABS_TOL = 1e-6
IDENTIFIERS = ("source-name", "sample-name", "assay-name")


def _typed(field: Field, value: Value) -> Value | None:
    unit = value.unit.label if value.unit is not None else None
    typed, problems = coerce(field, value.value, unit=unit, provenance=value.provenance)
    return None if problems and typed is None else typed


def _same(a: Value, b: Value) -> bool:
    x, y = a.value, b.value
    if isinstance(x, bool) or isinstance(y, bool):
        return x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return math.isclose(float(x), float(y), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(x, Term) and isinstance(y, Term):
        return x.label.lower() == y.label.lower()
    return a.text().strip().lower() == b.text().strip().lower()


def identifying(field: Field) -> bool:
    """True when the field's values may identify a person, so findings must not print them."""
    from isaprofile.package.phi import annex_e, identifying_column

    if field.isa in IDENTIFIERS:
        return True
    table = annex_e()
    if any(key in table for _kind, key in field.harvest):
        return True
    return any(identifying_column(name) for name in (field.label, field.name, field.header, *field.aliases) if name)


def _shown(field: Field, value: Value) -> str:
    unit = f" {field.unit.symbol}" if field.unit and isinstance(value.value, int | float) else ""
    return f"{value.text()}{unit}"


def conflict(field: Field, sheet: Value, header: Value) -> Issue | None:
    """A ``value-conflict`` finding when ``sheet`` and ``header`` disagree for ``field``, else None.

    Values that cannot be typed for the field are not compared (the profile rules report them).
    """
    if field.isa in IDENTIFIERS:
        a, b = sheet, header
    else:
        a, b = _typed(field, sheet), _typed(field, header)  # type: ignore[assignment]
        if a is None or b is None:
            return None
    if _same(a, b):
        return None
    first, second = _shown(field, a), _shown(field, b)
    if identifying(field):
        first, second = ("one identifier", "another") if field.isa in IDENTIFIERS else ("one value", "another")
    sp, hp = sheet.provenance, header.provenance
    return issue(
        "value-conflict",
        field=field.label,
        first=first,
        first_source=str(sp) if sp else "the sheet",
        second=second,
        second_source=str(hp) if hp else "the header",
        file=sp.file if sp else None,
        line=sp.line if sp else None,
        column=sp.column if sp else None,
        path=sp.path if sp else None,
    )
