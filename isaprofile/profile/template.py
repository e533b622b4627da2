"""The xlsx data-entry template of a profile: one sheet per entity, drop-down lists for term fields.

Headers are the field labels with the unit in brackets (``Body weight [g]``); required headers are
bold. A hidden ``Lists`` sheet holds the allowed terms that the drop-downs point at, and a ``Fields``
sheet explains every field. The same function fills the template with records, which is how the
bundled examples are made.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from isaprofile._atomic import atomic_path
from isaprofile.build import ENTITY_SHEETS
from isaprofile.profile.model import Field, Profile

_STRUCTURAL_FIRST = ("source-name", "sample-name", "assay-name", "segmentation-scan", "study")


def template_fields(profile: Profile, entity: str) -> list[Field]:
    """The fields of ``entity`` in template column order: identifiers and links first."""
    fields = profile.fields_for(entity)
    return sorted(fields, key=lambda f: (f.isa not in _STRUCTURAL_FIRST, f.isa not in (
        "subject-study", "sample-subject", "scan-sample", "modality"), fields.index(f)))  # fmt: skip


def write_template(
    profile: Profile,
    path: str | Path,
    records: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    stamp: dt.datetime | None = None,
) -> Path:
    """Write the template of ``profile`` to ``path`` (atomically), filled with ``records`` if given.

    ``records`` maps an entity (``subject``, ``sample``, ``scan``, ``segmentation``, ``study``) to rows
    keyed by field key. ``stamp`` (default: ``SOURCE_DATE_EPOCH`` when set, else now) is the workbook's
    created/modified time and the time of every zip member, so the same inputs give the same bytes.
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    wb.remove(wb.worksheets[0])  # a new workbook starts with one empty sheet
    lists = None
    list_col = 0
    for entity, sheet in ENTITY_SHEETS.items():
        fields = template_fields(profile, entity)
        if entity == "investigation" or not fields:
            continue
        ws = wb.create_sheet(sheet)
        for col, f in enumerate(fields, 1):
            cell = ws.cell(row=1, column=col, value=f.template_header)
            if f.required:
                cell.font = Font(bold=True)
            note = f.description or f.label
            cell.comment = Comment(f"{note}\n({f.level}; {f.type})", "isaprofile")
            ws.column_dimensions[get_column_letter(col)].width = max(12, len(f.template_header) + 2)
            if f.terms:
                if lists is None:
                    lists = wb.create_sheet("Lists")
                    lists.sheet_state = "hidden"
                list_col += 1
                letter = get_column_letter(list_col)
                lists.cell(row=1, column=list_col, value=f.key)
                for r, t in enumerate(f.terms, 2):
                    lists.cell(row=r, column=list_col, value=t.label)
                dv = DataValidation(type="list", formula1=f"=Lists!${letter}$2:${letter}${len(f.terms) + 1}",
                                    allow_blank=True, showErrorMessage=not f.open)  # fmt: skip
                dv.error = f"{f.label}: choose one of the listed terms"
                ws.add_data_validation(dv)
                dv.add(f"{get_column_letter(col)}2:{get_column_letter(col)}5000")
        ws.freeze_panes = "A2"
        for r, rec in enumerate((records or {}).get(entity, ()), 2):
            for col, f in enumerate(fields, 1):
                if rec.get(f.key) is not None:
                    ws.cell(row=r, column=col, value=rec[f.key])
    info = wb.create_sheet("Fields")
    info.append(["Sheet", "Header", "Key", "Level", "Type", "Unit", "Allowed values", "ISA", "Description"])
    for entity, sheet in ENTITY_SHEETS.items():
        for f in template_fields(profile, entity):
            info.append([sheet, f.template_header, f.key, f.level, f.type, f.unit.label if f.unit else "",
                         "; ".join(t.label for t in f.terms), f.header, f.description])  # fmt: skip
    info["A1"].font = Font(bold=True)
    if lists is not None:  # entity sheets first, then the hidden lists, then the field guide
        wb.move_sheet(lists, offset=len(wb.sheetnames) - 2 - wb.sheetnames.index("Lists"))
    if stamp is None and os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = dt.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), dt.UTC).replace(tzinfo=None)
    path = Path(path)
    with atomic_path(path) as tmp:
        if stamp is None:
            wb.save(tmp)
        else:
            wb.properties.created = wb.properties.modified = stamp
            buffer = io.BytesIO()
            wb.save(buffer)
            tmp.write_bytes(fixed_zip_times(buffer.getvalue(), stamp))
    return path


def fixed_zip_times(data: bytes, stamp: dt.datetime) -> bytes:
    """A saved workbook's zip with ``stamp`` on every member and as its modified time (openpyxl writes the
    clock), so the same content gives the same bytes; used by the example generators too."""
    out = io.BytesIO()
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + when, body)
            dst.writestr(fixed, body)
    return out.getvalue()
