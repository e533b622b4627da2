"""A Frictionless ``datapackage.json`` describing the tabular files of a package.

ISA tables repeat headers (``Unit``, ``Term Source REF``); each field gets a distinct name made from the
header and the column it qualifies, and the real header row is declared through ``dialect.header`` so
frictionless reads the files as they are.
"""

from __future__ import annotations

import csv
import io
import json


def _fields(header: list[str]) -> list[dict[str, str]]:
    out, seen, last = [], set(), ""
    for i, h in enumerate(header, 1):
        name = h
        if h in ("Unit", "Term Source REF", "Term Accession Number", "Protocol REF"):
            name = f"{h} ({last})" if last else h
        else:
            last = h
        if name in seen:
            name = f"{name} #{i}"
        seen.add(name)
        out.append({"name": name, "type": "string", "title": h})
    return out


def datapackage(name: str, tables: dict[str, bytes], title: str = "", licences: list[str] | None = None) -> bytes:
    """The descriptor for ``tables`` (relative path inside the package → tab-separated file bytes)."""
    resources = []
    for path, data in sorted(tables.items()):
        header = next(csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t"))
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        resources.append({
            "name": "".join(c if c.isalnum() or c in "-_." else "-" for c in stem),
            "path": path, "profile": "tabular-data-resource", "format": "tsv", "mediatype": "text/tab-separated-values",
            "encoding": "utf-8", "dialect": {"delimiter": "\t", "header": False},
            "schema": {"fields": _fields(header)},
        })  # fmt: skip
    pkg = {"profile": "tabular-data-package", "name": name.lower().replace(" ", "-"), "title": title,
           "resources": resources}  # fmt: skip
    if licences:
        pkg["licenses"] = [{"name": lic, "path": f"https://spdx.org/licenses/{lic}.html"} for lic in licences]
    return (json.dumps(pkg, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
