"""Build a dataset (:class:`~isaprofile.model.Investigation`) from the profile's template sheets.

The workbook has one sheet per entity (see :data:`ENTITY_SHEETS`); headers are the profile's labels,
optionally with a unit in brackets (``Body weight [kg]``). Values are placed by the profile (which
column is a characteristic, a factor, a parameter …) and kept raw here; :func:`apply_profile` types
them. Everything that does not fit becomes a located finding, and the rest of the sheet is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from isaprofile.findings.issues import Report, issue
from isaprofile.harvest.sheets import SheetError, Table, read_table, sheet_names
from isaprofile.model import (
    DataFile,
    Investigation,
    Location,
    Person,
    Provenance,
    Sample,
    Scan,
    Segmentation,
    Study,
    Subject,
    Term,
    Value,
    Values,
)
from isaprofile.profile.coerce import _text, is_missing, split_header
from isaprofile.profile.model import Field, Profile

ENTITY_SHEETS = {
    "investigation": "Investigation",
    "study": "Studies",
    "subject": "Subjects",
    "sample": "Samples",
    "scan": "Scans",
    "segmentation": "Segmentations",
}
STUDY_EXTRA = {
    "title": "title",
    "study title": "title",
    "description": "description",
    "study description": "description",
}
TIME_SERIES = Term("time series design", "OBI", "OBI:0500020")


class _Row:
    """One data row: field key → (raw value, header unit, provenance); unknown columns as comments."""

    def __init__(self, prov: Provenance) -> None:
        self.cells: dict[str, tuple[Any, str | None, Provenance]] = {}
        self.extra: dict[str, tuple[Any, Provenance]] = {}
        self.prov = prov

    def get(self, key: str) -> Any:
        cell = self.cells.get(key)
        return None if cell is None or is_missing(cell[0]) else cell[0]

    def text(self, key: str) -> str | None:
        raw = self.get(key)
        return None if raw is None else _text(raw)


def _rows(table: Table, entity: str, profile: Profile, report: Report) -> list[_Row]:
    columns: dict[int, tuple[Field | None, str | None, str]] = {}
    seen: set[str] = set()
    for col, header in enumerate(table.headers, 1):
        if not header:
            continue
        name, unit = split_header(header)
        field = profile.by_header(entity, name) or profile.by_header(entity, header)
        if field is None and not (entity == "study" and name.lower() in STUDY_EXTRA):
            report.add(
                issue("unknown-column", header=header, profile=profile.id, **_cell(table, table.header_line, col))
            )
        if field is not None:
            seen.add(field.key)
        columns[col] = (field, unit, name)
    for field in profile.fields_for(entity):
        if field.level == "required" and field.key not in seen and field.isa not in ("subject-study",):
            report.add(
                issue(
                    "required-column-missing",
                    field=field.label,
                    file=table.file,
                    line=table.header_line,
                    path=_where(table),
                )
            )
    out = []
    for line, cells in table.rows():
        row = _Row(Provenance(table.file, line, None, _where(table)))
        for col, (field, unit, name) in columns.items():
            raw = cells[col - 1] if col - 1 < len(cells) else None
            prov = table.provenance(line, col)
            if field is not None:
                row.cells[field.key] = (raw, unit, prov)
            elif not is_missing(raw):
                row.extra[name] = (raw, prov)
        out.append(row)
    report.extend(table.findings)
    return out


def _where(table: Table) -> str:
    return f"sheet '{table.sheet}'" if table.sheet else ""


def _cell(table: Table, line: int, col: int) -> Location:
    return table.provenance(line, col).location()


def _values(row: _Row, profile: Profile, entity: str, placements: tuple[str, ...]) -> Values:
    out: Values = {}
    for key, (raw, unit, prov) in row.cells.items():
        field = profile.field(key)
        if field.isa not in placements or is_missing(raw):
            continue
        out[field.name] = _raw_value(raw, unit, prov)
    if "comment" in placements:
        for name, (raw, prov) in row.extra.items():
            out.setdefault(name, _raw_value(raw, None, prov))
    return out


def _raw_value(raw: Any, unit: str | None, prov: Provenance) -> Value:
    if not isinstance(raw, str | int | float | bool):
        raw = _text(raw)
    elif isinstance(raw, str):
        raw = raw.strip()
    return Value(raw, Term(unit) if unit else None, prov)


def _ident(row: _Row, key: str, report: Report, profile: Profile) -> str | None:
    text = row.text(key)
    if text is None:
        field = profile.field(key)
        prov = row.cells[key][2] if key in row.cells else row.prov
        report.add(issue("required-missing", field=field.label, **prov.location()))
    return text


def _key(profile: Profile, entity: str, isa: str) -> str | None:
    field = profile.placement(entity, isa)
    return field.key if field else None


def investigation_from_tables(
    profile: Profile, tables: dict[str, Table], meta: dict[str, Any], *, config_file: str = "isaprofile.yaml"
) -> tuple[Investigation, Report]:
    """Place the rows of the entity ``tables`` into an Investigation (values still raw)."""
    report = Report()
    inv = _investigation(meta, profile, config_file, report)
    rows = {entity: _rows(t, entity, profile, report) for entity, t in tables.items()}
    studies: dict[str, Study] = {}
    study_titles = meta.get("studies") or {}
    sid_key = _key(profile, "study", "study")
    for row in rows.get("study", []):
        sid = _ident(row, sid_key, report, profile) if sid_key else None
        if sid is None:
            continue
        extra = {STUDY_EXTRA[k.lower()]: _text(v) for k, (v, _p) in row.extra.items() if k.lower() in STUDY_EXTRA}
        for k in list(row.extra):
            if k.lower() in STUDY_EXTRA:
                del row.extra[k]
        info = study_titles.get(sid, {})
        studies[sid] = Study(
            identifier=sid,
            title=extra.get("title", info.get("title", "")),
            description=extra.get("description", info.get("description", "")),
            comments=_values(row, profile, "study", ("comment",)),
            provenance=row.prov,
        )
    if not studies:
        studies[inv.identifier] = Study(identifier=inv.identifier, title=inv.title, description=inv.description)
    default = next(iter(studies.values()))
    subject_study: dict[str, Study] = {}
    sk, ssk = _key(profile, "subject", "source-name"), _key(profile, "subject", "subject-study")
    for row in rows.get("subject", []):
        sid = _ident(row, sk, report, profile) if sk else None
        if sid is None:
            continue
        st_name = row.text(ssk) if ssk else None
        study = studies.get(st_name, default) if st_name else default
        if ssk and st_name and st_name not in studies:
            prov = row.cells[ssk][2]
            report.add(issue("subject-study-unknown", target=st_name, **prov.location()))
        subject = Subject(
            id=sid,
            characteristics=_values(row, profile, "subject", ("characteristic",)),
            provenance=row.prov,
            comments=_values(row, profile, "subject", ("comment",)),
        )
        study.subjects.append(subject)
        subject_study.setdefault(sid, study)
    sample_study: dict[str, Study] = {}
    nk, nsk = _key(profile, "sample", "sample-name"), _key(profile, "sample", "sample-subject")
    for row in rows.get("sample", []):
        name = _ident(row, nk, report, profile) if nk else None
        subj = _ident(row, nsk, report, profile) if nsk else None
        if name is None or subj is None:
            continue
        study = subject_study.get(subj, default)
        values = {p: _values(row, profile, "sample", (p,)) for p in ("factor", "characteristic", "comment")}
        study.samples.append(
            Sample(
                id=name,
                subject=subj,
                factors=values["factor"],
                characteristics=values["characteristic"],
                provenance=row.prov,
                comments=values["comment"],
            )
        )
        sample_study.setdefault(name, study)
    scans: dict[str, Scan] = {}
    ak, ask_ = _key(profile, "scan", "assay-name"), _key(profile, "scan", "scan-sample")
    mk, fk = _key(profile, "scan", "modality"), _key(profile, "scan", "image-file")
    for row in rows.get("scan", []):
        sid = _ident(row, ak, report, profile) if ak else None
        sample = _ident(row, ask_, report, profile) if ask_ else None
        modality = _ident(row, mk, report, profile) if mk else None
        if sid is None or sample is None or modality is None or mk is None:
            continue
        term = profile.field(mk).find_term(modality)
        files = []
        path = row.text(fk) if fk else None
        if fk and path:
            files.append(DataFile(path=path.replace("\\", "/"), provenance=row.cells[fk][2]))
        scan = Scan(
            id=sid,
            sample=sample,
            modality=term.label if term else modality,
            parameters=_values(row, profile, "scan", ("parameter",)),
            comments=_values(row, profile, "scan", ("comment",)),
            files=files,
            provenance=row.prov,
        )
        sample_study.get(sample, default).scans.append(scan)
        scans.setdefault(sid, scan)
    gk, mfk = _key(profile, "segmentation", "segmentation-scan"), _key(profile, "segmentation", "segmentation-file")
    for row in rows.get("segmentation", []):
        scan_id = _ident(row, gk, report, profile) if gk else None
        if gk is None or scan_id is None:
            continue
        path = row.text(mfk) if mfk else None
        seg = Segmentation(
            values=_values(row, profile, "segmentation", ("parameter",)),
            path=path.replace("\\", "/") if path else None,
            provenance=row.prov,
        )
        if scan_id not in scans:
            prov = row.cells[gk][2]
            report.add(issue("segmentation-scan-unknown", target=scan_id, **prov.location()))
            continue
        scans[scan_id].segmentations.append(seg)
    inv.studies = list(studies.values())
    for study in inv.studies:
        _design(study, profile)
    return inv, report


def _design(study: Study, profile: Profile) -> None:
    """Study factors are the sample factors in use; longitudinal studies get the time series design."""
    names: dict[str, None] = {}
    for sample in study.samples:
        names.update(dict.fromkeys(sample.factors))
    study.factors = list(names)
    lf = next((f for f in profile.fields_for("study") if f.key == "longitudinal"), None)
    flag = study.comments.get(lf.name) if lf else None
    if (
        flag is not None
        and _text(flag.value).lower() in ("true", "yes", "1", "y")
        and TIME_SERIES not in study.design_types
    ):
        study.design_types.append(TIME_SERIES)


def _investigation(meta: dict[str, Any], profile: Profile, config_file: str, report: Report) -> Investigation:
    people = []
    for i, c in enumerate(meta.get("creators") or []):
        try:
            people.append(
                Person(
                    last_name=str(c.get("last_name", "")),
                    first_name=str(c.get("first_name", "")),
                    email=str(c.get("email", "")),
                    affiliation=str(c.get("affiliation", "")),
                    orcid=str(c.get("orcid", "")),
                    roles=tuple(str(r) for r in c.get("roles") or ()),
                )
            )
        except ValueError as exc:
            report.add(
                issue("config-invalid", file=config_file, path=f"$['investigation']['creators'][{i}]", reason=str(exc))
            )
    creator = profile.placement("investigation", "investigation")
    if creator is not None and creator.level == "required" and not people:
        report.add(
            issue("required-missing", field=creator.label, file=config_file, path="$['investigation']['creators']")
        )
    return Investigation(
        identifier=str(meta.get("identifier") or "investigation"),
        title=str(meta.get("title", "")),
        description=str(meta.get("description", "")),
        submission_date=str(meta.get("submission_date", "")),
        public_release_date=str(meta.get("public_release_date", "")),
        contacts=people,
        licences=[str(x) for x in meta.get("licences") or []],
        keywords=[str(x) for x in meta.get("keywords") or []],
        publications=[{k: str(v) for k, v in p.items()} for p in meta.get("publications") or []],
        funding=[{k: str(v) for k, v in p.items()} for p in meta.get("funding") or []],
        profile=profile.id,
        comments={k: str(v) for k, v in (meta.get("comments") or {}).items()}
        | ({"publisher": str(meta["publisher"])} if meta.get("publisher") else {}),
    )


def read_template(path: Path, profile: Profile, *, display: str | None = None) -> tuple[dict[str, Table], Report]:
    """The entity sheets of a filled template workbook (sheets missing from it are findings)."""
    report = Report()
    display = display or path.name
    try:
        names = sheet_names(path)
    except SheetError as exc:
        report.add(issue(exc.code, file=exc.file if exc.file != str(path) else display, reason=exc.reason))
        return {}, report
    tables: dict[str, Table] = {}
    for entity, sheet in ENTITY_SHEETS.items():
        if entity == "investigation":
            continue  # investigation metadata lives in isaprofile.yaml
        if sheet not in names:
            if entity in ("subject", "sample", "scan"):
                report.add(issue("sheet-missing", file=display, sheet=sheet))
            continue
        try:
            tables[entity] = read_table(path, sheet, display=display)
        except SheetError as exc:
            report.add(issue(exc.code, file=display, reason=exc.reason, sheet=sheet))
    return tables, report
