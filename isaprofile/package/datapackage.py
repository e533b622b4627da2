"""A Frictionless ``datapackage.json`` describing the tabular files of a package.

ISA tables repeat headers (``Unit``, ``Term Source REF``); each field gets a distinct name made from the
header and the column it qualifies, and the real header row is declared through ``dialect.header`` so
frictionless reads the files as they are.

Licences: the package lists every licence of the dataset (``licenses``); each resource lists the
licences of the rows it holds (a table with rows of CC BY and CC BY-NC subjects names both; see
:func:`isaprofile.licences.table_licences`). Licence objects follow the Data Package spec: ``name``
(the SPDX id), ``path`` (its SPDX page) and ``title``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from isaprofile.linked._common import spdx_id, spdx_licences


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


def _licences(ids: Sequence[str]) -> list[dict[str, str]]:
    names = spdx_licences()
    out = []
    for lic in dict.fromkeys(spdx_id(x) for x in ids):
        out.append({"name": lic, "path": f"https://spdx.org/licenses/{lic}.html", "title": names.get(lic, lic)})
    return out


def datapackage(
    name: str,
    tables: dict[str, bytes],
    title: str = "",
    licences: list[str] | None = None,
    resource_licences: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """The descriptor for ``tables`` (relative path inside the package → tab-separated file bytes).

    ``licences`` are the package's licences; ``resource_licences`` maps a table's path to the licences of
    its rows (a resource not in it carries no ``licenses`` of its own and so inherits the package's).
    """
    resources: list[dict[str, Any]] = []
    for path, data in sorted(tables.items()):
        header = next(csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t"))
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        resources.append({
            "name": "".join(c if c.isalnum() or c in "-_." else "-" for c in stem),
            "path": path, "profile": "tabular-data-resource", "format": "tsv", "mediatype": "text/tab-separated-values",
            "encoding": "utf-8", "dialect": {"delimiter": "\t", "header": False},
            "schema": {"fields": _fields(header)},
        })  # fmt: skip
        if resource_licences and resource_licences.get(path):
            resources[-1]["licenses"] = _licences(resource_licences[path])
    pkg: dict[str, Any] = {"profile": "tabular-data-package", "name": name.lower().replace(" ", "-"), "title": title,
           "resources": resources}  # fmt: skip
    every = [*(licences or []), *(lic for lics in (resource_licences or {}).values() for lic in lics)]
    if every:
        pkg["licenses"] = _licences(every)
    return (json.dumps(pkg, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
