"""Read the ``sheets:`` of a dataset config: each row's link (subject, sample, file) and its mapped values.

Headers map to profile fields by the config's ``columns:`` (renames), else by the profile's labels and
aliases (``Weight [kg]`` finds the field labelled Weight and the unit kg). Value maps replace coded values
(``{1: male, 2: female}``), sentinels (``-999``) mean no value. Values stay raw here (typed later by the
profile rules) but keep their unit and their provenance: file, sheet, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isaprofile.findings.issues import Report, issue
from isaprofile.harvest.config import SheetSpec, cell_text
from isaprofile.harvest.sheets import SheetError, Table, read_table
from isaprofile.model import Provenance, Term, Value
from isaprofile.profile.coerce import is_missing, split_header
from isaprofile.profile.model import Field, Profile

STRUCTURAL = ("source-name", "subject-study", "sample-name", "sample-subject", "assay-name", "scan-sample",
              "image-file", "segmentation-scan", "segmentation-file")  # fmt: skip
ENTITY_ORDER = {"subject": ("subject", "sample", "scan"), "sample": ("sample", "subject", "scan"),
                "scan": ("scan", "sample", "subject")}  # fmt: skip


@dataclass
class SheetRow:
    """One data row: what it links to and its values keyed by profile field key."""

    spec: SheetSpec
    provenance: Provenance
    subject: str | None = None
    sample: str | None = None
    file: str | None = None
    values: dict[str, Value] = field(default_factory=dict)
    extra: dict[str, Value] = field(default_factory=dict)  # unknown columns, kept as comments

    def for_entity(self, profile: Profile, entity: str) -> dict[str, Value]:
        """The row's values of the fields of ``entity`` (field key → value)."""
        return {k: v for k, v in self.values.items() if profile.field(k).entity == entity}


def _loc(table: Table, line: int, column: int) -> dict[str, Any]:
    p = table.provenance(line, column)
    return {"file": p.file, "line": p.line, "column": p.column, "path": p.path}


def _columns(table: Table, spec: SheetSpec, profile: Profile, report: Report) -> dict[int, list[Field]]:
    """Column number → the fields it fills (empty list: ignored or a link column)."""
    known = set(table.headers)
    for kind, headers in (("columns", spec.columns), ("units", spec.units),
                          ("link", {v: v for k, v in spec.link.items() if k != "id_format"})):  # fmt: skip
        for header in headers:
            if header not in known:
                report.add(issue("sheet-column-missing", header=header, file=spec.file, line=spec.header_row,
                                 path=f"{spec.where}['{kind}']['{header}']"))  # fmt: skip
    links = {v for k, v in spec.link.items() if k != "id_format"}
    out: dict[int, list[Field]] = {}
    for col, header in enumerate(table.headers, 1):
        if not header or header in spec.ignore:
            continue
        if header in spec.columns:
            fields = []
            for key in spec.columns[header]:
                try:
                    fields.append(profile.field(key))
                except KeyError:
                    report.add(issue("config-invalid", file="isaprofile.yaml", path=f"{spec.where}['columns']"
                                     f"['{header}']", reason=f"profile {profile.id} has no field {key!r}"))  # fmt: skip
            out[col] = fields
            continue
        name, _unit = split_header(header)
        found = next((f for e in ENTITY_ORDER[spec.entity] for f in (profile.by_header(e, name) or
                      profile.by_header(e, header),) if f is not None), None)  # fmt: skip
        if found is not None:
            out[col] = [found]
        elif header in links:
            out[col] = []
        else:
            report.add(issue("unknown-column", header=header, profile=profile.id, **_loc(table, table.header_line,
                                                                                             col)))  # fmt: skip
    return out


def _ident(raw: Any, fmt: str | None) -> str | None:
    if is_missing(raw):
        return None
    if fmt and isinstance(raw, int | float) and not isinstance(raw, bool) and float(raw).is_integer():
        return fmt.format(int(raw))
    if fmt and isinstance(raw, str) and raw.strip().isdigit():
        return fmt.format(int(raw.strip()))
    return cell_text(raw)


def _scalar(raw: Any) -> str | int | float | bool:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool | int | float):
        return raw
    return cell_text(raw.isoformat() if hasattr(raw, "isoformat") else raw)


def read_sheet_rows(root: Path, spec: SheetSpec, profile: Profile, report: Report) -> list[SheetRow]:
    """The rows of one ``sheets:`` entry; unreadable sheets and bad cells are findings in ``report``."""
    try:
        table = read_table(root / spec.file, spec.sheet, display=spec.file, header_row=spec.header_row)
    except SheetError as exc:
        report.add(issue(exc.code, file=spec.file, reason=exc.reason, sheet=spec.sheet or ""))
        return []
    columns = _columns(table, spec, profile, report)
    link_cols = {kind: table.headers.index(h) + 1 for kind, h in spec.link.items()
                 if kind != "id_format" and h in table.headers}  # fmt: skip
    fmt = spec.link.get("id_format")
    rows: list[SheetRow] = []
    try:
        for line, cells in table.rows():
            rows.append(_row(table, spec, line, cells, columns, link_cols, fmt, report))
    except SheetError as exc:
        report.add(issue(exc.code, file=spec.file, reason=exc.reason, sheet=spec.sheet or ""))
    report.extend(table.findings)
    return rows


def _row(table: Table, spec: SheetSpec, line: int, cells: list[Any], columns: dict[int, list[Field]],
         link_cols: dict[str, int], fmt: str | None, report: Report) -> SheetRow:  # fmt: skip
    def cell(col: int) -> Any:
        return cells[col - 1] if col - 1 < len(cells) else None

    row = SheetRow(spec, Provenance(spec.file, line, None, f"sheet '{table.sheet}'" if table.sheet else None))
    for kind, col in link_cols.items():
        setattr(row, kind, _ident(cell(col), fmt if kind != "file" else None))
    if "subject" in link_cols and row.subject is None:
        report.add(issue("required-missing", field=spec.link["subject"], **_loc(table, line, link_cols["subject"])))
    for col, header in enumerate(table.headers, 1):
        raw = cell(col)
        if is_missing(raw) or cell_text(raw) in spec.missing:
            continue
        fields = columns.get(col)
        prov = table.provenance(line, col)
        if fields is None:
            if header and header not in spec.ignore:
                row.extra[split_header(header)[0]] = Value(_scalar(raw), None, prov)
            continue
        unit = split_header(header)[1] or spec.units.get(header)
        for fld in fields:
            if fld.isa in STRUCTURAL:
                continue
            value: Any = raw
            mapping = spec.values.get(fld.key)
            if mapping is not None:
                text = cell_text(raw)
                if text not in mapping:
                    report.add(issue("value-unmapped", field=fld.label, value=text,
                                     allowed=", ".join(sorted(mapping)), **_loc(table, line, col)))  # fmt: skip
                    continue
                value = mapping[text]
            row.values[fld.key] = Value(_scalar(value), Term(unit) if unit else None, prov)
    return row
