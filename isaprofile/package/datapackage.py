"""A Frictionless ``datapackage.json`` describing the tabular files of a package.

ISA tables repeat headers (``Unit``, ``Term Source REF``); each field gets a distinct name made from the
header and the column it qualifies, and the header row is skipped through ``dialect`` (``header: false``,
``commentRows: [1]``) so frictionless reads the files as they are. Field types come from the values:
a column whose cells are all integers is ``integer``, all numbers ``number``, ``true``/``false``
``boolean``, ISO dates ``date``; identifiers with leading zeros (``0001``) stay strings. A coded column (one
followed by ``Term Source REF`` and ``Term Accession Number``) lists its labels as ``constraints.enum`` and
documents each label's accession in ``description``; a value column followed by ``Unit`` names its unit.
The user's own sheets (xlsx) are described by :func:`sheet_resource`, their codes taken from the config's
value maps (:func:`sheet_codes`).

Licences: the package lists every licence of the dataset (``licenses``); each resource lists the
licences of the rows it holds (a table with rows of CC BY and CC BY-NC subjects names both), found by
:class:`isaprofile.licences.RowLicences` in the same read of the rows as the field types. Licence objects
follow the Data Package spec: ``name`` (the SPDX id), ``path`` (its SPDX page) and ``title``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from isaprofile.isatab.parse import generated_rows
from isaprofile.licences import RowLicences
from isaprofile.linked._common import spdx_id, spdx_licences

_QUALIFIERS = ("Unit", "Term Source REF", "Term Accession Number", "Protocol REF")
_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_NUM = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$")


_CODED = ["Term Source REF", "Term Accession Number"]  # the qualifiers after a coded column
_KINDS = ("integer", "number", "boolean", "date")  # the types a text column can have, narrowest first
_CHUNK = 8192  # rows transposed at a time: the columns' distinct values are taken at C speed
_SHARED_CELLS = 1 << 16  # distinct cells a table read shares (repeated cells hash once; memory bounded)


def _fits(kind: str, v: str) -> bool:
    if kind == "integer":
        return bool(_INT.match(v))
    if kind == "number":
        return bool(_NUM.match(v)) and math.isfinite(float(v))
    if kind == "boolean":
        return v in ("true", "false")
    return len(v) == 10 and _iso_date(v)


def _iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


class _Column:
    """What a text column's cells say about it, gathered a chunk of rows at a time: the types every
    non-empty cell fits, the first accession of each label (a coded column) and the units (a value column)."""

    __slots__ = ("kinds", "filled", "codes", "units")

    def __init__(self) -> None:
        self.kinds = list(_KINDS)
        self.filled = False
        self.codes: dict[str, str] = {}
        self.units: set[str] = set()

    def add(self, cells: tuple[str, ...]) -> None:
        if not self.kinds and self.filled:
            return  # a text column: nothing more to learn from its cells
        distinct = set(cells)
        distinct.discard("")
        if distinct:
            self.filled = True
            self.kinds = [k for k in self.kinds if all(_fits(k, v) for v in distinct)]

    def type(self) -> str:
        return self.kinds[0] if self.filled and self.kinds else "string"


def _fields(header: list[str], rows: Iterable[list[str]] = ()) -> list[dict[str, Any]]:
    """The schema fields of an ISA table, its rows streamed (a 200,000-row assay table is never held)."""
    n = len(header)
    cols = [_Column() for _ in header]
    coded = [i for i in range(n) if header[i] not in _QUALIFIERS and header[i + 1 : i + 3] == _CODED]
    valued = [i for i in range(n) if header[i] not in _QUALIFIERS and header[i + 1 : i + 2] == ["Unit"]]
    rows = iter(rows)
    while chunk := [r if len(r) == n else (r + [""] * n)[:n] for r in islice(rows, _CHUNK)]:
        columns = list(zip(*chunk, strict=True))
        for col, cells in zip(cols, columns, strict=True):
            col.add(cells)
        for i in coded:  # label, source, accession: the first accession (or source) of each label
            codes = cols[i].codes
            for label, source, acc in dict.fromkeys(zip(columns[i], columns[i + 1], columns[i + 2], strict=True)):
                if label and label not in codes:
                    codes[label] = acc or source
        for i in valued:
            cols[i].units.update(columns[i + 1])
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    last = ""
    for i, h in enumerate(header):
        name = h
        if h in _QUALIFIERS:
            name = f"{h} ({last})" if last else h
        else:
            last = h
        if name in seen:
            name = f"{name} #{i + 1}"
        seen.add(name)
        col = cols[i]
        field: dict[str, Any] = {"name": name, "type": col.type(), "title": h}
        if i in coded:
            if col.codes and field["type"] == "string":
                field["constraints"] = {"enum": sorted(col.codes)}
                field["description"] = "Coded: " + "; ".join(
                    f"{k} = {v}" if v else k for k, v in sorted(col.codes.items())
                )
        elif i in valued:
            units = sorted(u for u in col.units if u)
            if units:
                field["description"] = "Unit: " + ", ".join(units)
        out.append(field)
    return out


def sheet_codes(spec: Any) -> dict[str, dict[str, str]]:
    """Header → {code in the sheet: its meaning}, from a config sheet's ``values:`` maps (a
    :class:`~isaprofile.harvest.config.SheetSpec`): ``Sex: {M: male, F: female}``."""
    out: dict[str, dict[str, str]] = {}
    for header, keys in spec.columns.items():
        for key in keys:
            for code, meaning in (spec.values.get(key) or {}).items():
                out.setdefault(header, {})[str(code)] = str(meaning)
    return out


def _cell_type(values: list[Any]) -> str:
    vals = [v for v in values if v is not None and v != ""]
    kinds = {type(v) for v in vals}
    if not vals:
        return "any"
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "integer"
    if kinds <= {int, float}:
        return "number"
    if kinds == {dt.datetime}:
        return "datetime"
    if kinds == {dt.date}:
        return "date"
    if kinds == {str}:
        return "string"
    return "any"


def sheet_resource(
    path: str,
    data: bytes,
    *,
    sheet: str | None = None,
    header_row: int = 1,
    codes: Mapping[str, Mapping[str, str]] | None = None,
    licences: Sequence[str] = (),
) -> dict[str, Any]:
    """A tabular data resource for one worksheet of a user's xlsx file (``path`` inside the package).

    Field types come from the cells as Excel stores them (a number typed as text stays a string);
    ``codes`` (header → code → meaning, :func:`sheet_codes`) document coded columns.
    """
    from isaprofile.harvest.sheets import xlsx_sheet

    title, rows = xlsx_sheet(data, sheet, path)
    header = [
        str(h).strip() if h is not None else "" for h in (rows[header_row - 1] if len(rows) >= header_row else [])
    ]
    body = rows[header_row:]
    fields: list[dict[str, Any]] = []
    for i, h in enumerate(header):
        field: dict[str, Any] = {"name": h or f"field{i + 1}", "type": _cell_type([r[i] if i < len(r) else None
                                                                                    for r in body])}  # fmt: skip
        mapping = (codes or {}).get(h)
        if mapping:
            field["description"] = "Coded: " + "; ".join(f"{k} = {v}" for k, v in mapping.items())
        fields.append(field)
    res: dict[str, Any] = {
        "name": _resource_name(path),
        "path": path,
        "profile": "tabular-data-resource",
        "format": "xlsx",
        "mediatype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "dialect": {"excel": {"sheet": title}, **({"headerRows": [header_row]} if header_row != 1 else {})},
        "schema": {"fields": fields},
    }
    if licences:
        res["licenses"] = _licences(licences)
    return res


def _resource_name(path: str) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)


def _licences(ids: Sequence[str]) -> list[dict[str, str]]:
    names = spdx_licences()
    out = []
    for lic in dict.fromkeys(spdx_id(x) for x in ids):
        out.append({"name": lic, "path": f"https://spdx.org/licenses/{lic}.html", "title": names.get(lic, lic)})
    return out


def datapackage(
    name: str,
    tables: Mapping[str, bytes | Path],
    title: str = "",
    licences: list[str] | None = None,
    resource_licences: RowLicences | None = None,
    extra_resources: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The descriptor for ``tables`` (relative path inside the package → the tab-separated file, as bytes or
    a path), each read once.

    ``licences`` are the package's licences; ``resource_licences`` finds the licences of each table's rows in
    the same read (without it, a resource carries no ``licenses`` of its own and so inherits the package's).
    ``extra_resources`` are added as they are (e.g. :func:`sheet_resource` for the user's sheets).
    """
    watcher = resource_licences
    resources: list[dict[str, Any]] = []
    for path, data in sorted(tables.items()):
        rows: Iterable[list[str]] = generated_rows(data, share=_SHARED_CELLS)
        header = next(iter(rows), [])
        if watcher is not None:
            rows = watcher.watch(path, header, rows)
        resources.append({
            "name": _resource_name(path),
            "path": path, "profile": "tabular-data-resource", "format": "tsv", "mediatype": "text/tab-separated-values",
            "encoding": "utf-8", "dialect": {"delimiter": "\t", "header": False, "commentRows": [1]},
            "schema": {"fields": _fields(header, rows)},
        })  # fmt: skip
        lics = watcher.found.get(path) if watcher is not None else None
        if lics:
            resources[-1]["licenses"] = _licences(lics)
    pkg: dict[str, Any] = {"profile": "tabular-data-package", "name": name.lower().replace(" ", "-"), "title": title,
           "resources": resources}  # fmt: skip
    resources.extend(dict(r) for r in extra_resources)
    per_table = watcher.found if watcher is not None else {}
    every = [*(licences or []), *(lic for lics in per_table.values() for lic in lics)]
    every += [x["name"] for r in extra_resources for x in r.get("licenses", [])]
    if every:
        pkg["licenses"] = _licences(every)
    return (json.dumps(pkg, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
