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
:class:`isaprofile.licences.RowLicences` in the same pass over the rows as the field types: the pass the
ISA-Tab writer makes as it writes them (:class:`WrittenTables`), or a read of the files. Licence objects
follow the Data Package spec: ``name`` (the SPDX id), ``path`` (its SPDX page) and ``title``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from isaprofile.isatab.parse import generated_rows
from isaprofile.licences import RowLicences, TableLicences
from isaprofile.linked._common import spdx_id, spdx_licences

_QUALIFIERS = ("Unit", "Term Source REF", "Term Accession Number", "Protocol REF")
_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_NUM = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$")


_CODED = ["Term Source REF", "Term Accession Number"]  # the qualifiers after a coded column
_KINDS = ("integer", "number", "boolean", "date")  # the types a text column can have, narrowest first
_CHUNK = 8192  # rows transposed at a time (TableDescription)
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


class TableDescription:
    """The schema fields of an ISA table (and the licences of its rows), made from its rows as they go past, a
    chunk at a time: fed by the ISA-Tab writer as it writes the table (:class:`WrittenTables`), or by a read
    of the file. A 200,000-row assay table is never held."""

    def __init__(self, header: list[str], licences: TableLicences | None = None) -> None:
        n = len(header)
        self.header = header
        self._cols = [_Column() for _ in header]
        self._coded = [i for i in range(n) if header[i] not in _QUALIFIERS and header[i + 1 : i + 3] == _CODED]
        self._valued = [i for i in range(n) if header[i] not in _QUALIFIERS and header[i + 1 : i + 2] == ["Unit"]]
        self._licences = licences
        self._chunk: list[list[str]] = []

    def add(self, row: list[str]) -> None:
        """Take one row (a short one is padded with empty cells, a long one cut to the header)."""
        chunk = self._chunk
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        n, cols = len(self.header), self._cols
        chunk = [r if len(r) == n else (r + [""] * n)[:n] for r in self._chunk]
        self._chunk = []
        if not chunk:
            return
        columns = list(zip(*chunk, strict=True))  # the columns' distinct values are then taken at C speed
        for col, cells in zip(cols, columns, strict=True):
            col.add(cells)
        for i in self._coded:  # label, source, accession: the first accession (or source) of each label
            codes = cols[i].codes
            for label, source, acc in dict.fromkeys(zip(columns[i], columns[i + 1], columns[i + 2], strict=True)):
                if label and label not in codes:
                    codes[label] = acc or source
        for i in self._valued:
            cols[i].units.update(columns[i + 1])
        if self._licences is not None:
            self._licences.add(columns)

    def licences(self) -> list[str] | None:
        """The licences of the rows taken (None when no :class:`~isaprofile.licences.TableLicences` was given)."""
        self._flush()
        return self._licences.licences() if self._licences is not None else None

    def fields(self) -> list[dict[str, Any]]:
        """The table's schema fields, from the rows taken so far."""
        self._flush()
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        last = ""
        for i, h in enumerate(self.header):
            name = h
            if h in _QUALIFIERS:
                name = f"{h} ({last})" if last else h
            else:
                last = h
            if name in seen:
                name = f"{name} #{i + 1}"
            seen.add(name)
            col = self._cols[i]
            field: dict[str, Any] = {"name": name, "type": col.type(), "title": h}
            if i in self._coded:
                if col.codes and field["type"] == "string":
                    field["constraints"] = {"enum": sorted(col.codes)}
                    field["description"] = "Coded: " + "; ".join(
                        f"{k} = {v}" if v else k for k, v in sorted(col.codes.items())
                    )
            elif i in self._valued:
                units = sorted(u for u in col.units if u)
                if units:
                    field["description"] = "Unit: " + ", ".join(units)
            out.append(field)
        return out

    @classmethod
    def read(cls, data: bytes | Path, licences: RowLicences | None = None) -> TableDescription:
        """The description of a table file this library wrote (as bytes or a path), read once."""
        rows = generated_rows(data, share=_SHARED_CELLS)
        header = next(rows, [])
        described = cls(header, licences.table(header) if licences is not None else None)
        for row in rows:
            described.add(row)
        return described


class WrittenTables:
    """The :data:`~isaprofile.isatab.write.Observer` to give :func:`~isaprofile.isatab.write.write_isatab`:
    each study and assay table is described as it is written (:attr:`tables`, keyed by ``prefix`` + its
    file name), so the data package needs no read of the tables."""

    def __init__(self, prefix: str = "", licences: RowLicences | None = None) -> None:
        self.prefix, self._licences = prefix, licences
        self.tables: dict[str, TableDescription] = {}

    def __call__(self, name: str, header: list[str]) -> Callable[[list[str]], None]:
        described = TableDescription(header, self._licences.table(header) if self._licences is not None else None)
        self.tables[self.prefix + name] = described
        return described.add


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
    tables: Mapping[str, bytes | Path | TableDescription],
    title: str = "",
    licences: list[str] | None = None,
    resource_licences: RowLicences | None = None,
    extra_resources: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The descriptor for ``tables`` (relative path inside the package → the tab-separated file, as bytes or
    a path, each read once; or its :class:`TableDescription`, made as it was written).

    ``licences`` are the package's licences; ``resource_licences`` finds the licences of each table's rows in
    the same read (without it, a resource carries no ``licenses`` of its own and so inherits the package's;
    a description carries its own).
    ``extra_resources`` are added as they are (e.g. :func:`sheet_resource` for the user's sheets).
    """
    resources: list[dict[str, Any]] = []
    every = list(licences or [])
    for path, table in sorted(tables.items()):
        described = table if isinstance(table, TableDescription) else TableDescription.read(table, resource_licences)
        resources.append({
            "name": _resource_name(path),
            "path": path, "profile": "tabular-data-resource", "format": "tsv", "mediatype": "text/tab-separated-values",
            "encoding": "utf-8", "dialect": {"delimiter": "\t", "header": False, "commentRows": [1]},
            "schema": {"fields": described.fields()},
        })  # fmt: skip
        lics = described.licences()
        if lics:
            resources[-1]["licenses"] = _licences(lics)
            every += lics
    pkg: dict[str, Any] = {"profile": "tabular-data-package", "name": name.lower().replace(" ", "-"), "title": title,
           "resources": resources}  # fmt: skip
    resources.extend(dict(r) for r in extra_resources)
    every += [x["name"] for r in extra_resources for x in r.get("licenses", [])]
    if every:
        pkg["licenses"] = _licences(every)
    return (json.dumps(pkg, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
