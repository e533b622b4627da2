"""Read any ISA-Tab 1.0 folder into the dataset model, keeping where every value was.

Structural problems (encoding, sections, headers, ragged rows, undeclared term sources, protocols and
factors, missing files, inconsistent repeated nodes) are findings; with a profile, the profile rules
then run over the values, and every finding points at the file, line and column of the cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isaprofile.findings.issues import Report, issue
from isaprofile.isatab.parse import Cell, InvestigationDoc, Section, TableDoc, open_table, parse_investigation
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
from isaprofile.profile.model import Profile, ProfileError, load_profile

PROFILE_COMMENT = "Comment[isaprofile profile]"


class _Ctx:
    def __init__(self, report: Report, inv_file: str, profile: Profile | None = None) -> None:
        self.report = report
        self.inv_file = inv_file
        self.sources_used: dict[str, tuple[str, Cell]] = {}
        self.table: TableDoc | None = None
        # the scan whose rows are being read, and the keys of its segmentations (see _assay_row)
        self.segmentation_keys: tuple[Scan, set[tuple[str | None, frozenset[tuple[str, Value]]]]] | None = None
        # attribute names as the profile spells them, found case-insensitively: a third-party
        # ``Characteristics[Organism]`` is the profile's ``organism``
        self.names: dict[tuple[str, str], str] = {}
        for f in profile.fields if profile is not None else ():
            if f.isa in _ATTRIBUTES and f.name:
                self.names.setdefault((f.isa, f.name.strip().lower()), f.name)


# Longest file name component / path the common file systems accept (bytes, UTF-8): ext4, APFS, NTFS
# take 255 per component; Linux PATH_MAX is 4096. A longer data-file cell cannot name a file.
NAME_MAX, PATH_MAX = 255, 4096


def name_too_long(name: str) -> bool:
    """Whether ``name`` (a relative path) cannot name a file on common file systems."""
    raw = name.encode("utf-8", "surrogatepass")
    return len(raw) > PATH_MAX or any(len(part) > NAME_MAX for part in raw.replace(b"\\", b"/").split(b"/"))


_ATTRIBUTES = ("characteristic", "factor", "parameter", "comment")


def _plan(table: TableDoc) -> list[tuple]:
    """The table's columns grouped once: ``(None, i)`` for a node, protocol or file column, and
    ``(kind, i, name, unit, tsr, tan)`` for an attribute with the indices of its qualifier columns."""
    kinds, i = table.kinds, 0
    out: list[tuple] = []
    while i < len(kinds):
        kind, name = kinds[i]
        if kind in ("node", "file", "protocol"):
            out.append((None, i))
            i += 1
        elif kind in _ATTRIBUTES:
            j, unit, tsr, tan = i + 1, None, None, None
            if j < len(kinds) and kinds[j][0] == "unit":
                unit, j = j, j + 1
            if j < len(kinds) and kinds[j][0] == "tsr":
                tsr, j = j, j + 1
                if j < len(kinds) and kinds[j][0] == "tan":
                    tan, j = j, j + 1
            out.append((kind, i, name or "", unit, tsr, tan))
            i = j
        else:
            i += 1
    return out


class _Node:
    """Attributes collected for one node of one row."""

    def __init__(self) -> None:
        self.values: dict[str, Values] = {"characteristic": {}, "factor": {}, "parameter": {}, "comment": {}}


Segment = tuple[str, str, int, _Node]  # (header, name, column, attributes) of one node/protocol/file column


def _pieces(plan: list[tuple]) -> list[tuple[int, int | None, list[tuple]]]:
    """The plan cut before each node, protocol or file column: (first column, end column, steps). Steps
    before the first node (attributes of nothing) form a piece of their own."""
    starts = [i for i, step in enumerate(plan) if step[0] is None]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for n, a in enumerate(starts):
        b = starts[n + 1] if n + 1 < len(starts) else len(plan)
        steps = plan[a:b]
        end = plan[b][1] if b < len(plan) else None  # None: to the end of the row
        out.append((steps[0][1], end, steps))
    return [p for p in out if p[2]]


def _walk(
    cells: list[str],
    line: int,
    table: TableDoc,
    pieces: list[tuple[int, int | None, list[tuple]]],
    ctx: _Ctx,
    last: list[tuple[list[str], list[Segment]] | None],
) -> list[Segment]:
    """Split a row into (header, name, column, attributes) segments, one per node/protocol/file column.

    While a row's cells are those of the previous row (an assay's acquisition repeated on each of its 130
    segmentation rows), its segments are that row's again: the same Values, of the same sample and scan,
    which the merge keeps once (as it would keep the first of equal ones)."""
    headers, display = table.headers, table.display
    out: list[Segment] = []
    same = True  # every cell so far is the previous row's
    for k, (start, end, steps) in enumerate(pieces):
        cut = cells[start:end]
        held = last[k]
        same = same and held is not None and held[0] == cut
        if same and held is not None:
            out.extend(held[1])
            continue
        mine: list[Segment] = []
        for step in steps:
            kind, i = step[0], step[1]
            if kind is None:
                seg = (headers[i], cells[i], i + 1, _Node())
                out.append(seg)
                mine.append(seg)
                continue
            _kind, _i, name, ui, ti, ai = step
            tsr = cells[ti] if ti is not None else ""
            if tsr:
                ctx.sources_used.setdefault(tsr, (display, Cell(tsr, line, ti + 1)))
            text = cells[i]
            if not text or not out:
                continue
            tan = cells[ai] if ai is not None else ""
            prov = Provenance(display, line, i + 1, headers[i])
            if ui is not None:
                unit_label = cells[ui]
                val = Value(text, Term(unit_label, tsr or None, tan or None) if unit_label else None, prov)
            elif tsr or tan:
                val = Value(Term(text, tsr or None, tan or None), None, prov)
            else:
                val = Value(text, None, prov)
            out[-1][3].values[kind][ctx.names.get((kind, name.strip().lower()), name)] = val
        last[k] = (cut, mine)
    return out


def _merge(target: Values, new: Values, what: str, ident: str, first_line: int, ctx: _Ctx) -> None:
    for k, v in new.items():
        old = target.get(k)
        if old is None:
            target[k] = v
        elif old is not v and old != v:
            where = (
                v.provenance.location()
                if v.provenance is not None
                else Location(file=None, line=None, column=None, path=None)
            )
            ctx.report.add(issue("isatab-inconsistent-node", header=what, name=ident, first_line=first_line, **where))


def _require(table: TableDoc, headers: tuple[str, ...], ctx: _Ctx) -> bool:
    """Whether the table has each of ``headers``; a finding for each it lacks."""
    missing = [h for h in headers if h not in table.headers]
    for h in missing:
        ctx.report.add(issue("isatab-missing-column", header=h, file=table.display, line=1))
    return not missing


def _each_row(table: TableDoc, required: tuple[str, ...], ctx: _Ctx, handle) -> set[str]:
    """Walk every row of ``table`` into node segments and pass them to ``handle(segs, line)``.

    Returns the protocols the table names. A row whose names the model refuses is a finding.
    """
    protocols: set[str] = set()
    if not _require(table, required, ctx):
        return protocols
    pieces = _pieces(_plan(table))
    last: list[tuple[list[str], list[Segment]] | None] = [None] * len(pieces)
    for line, cells in table.rows(ctx.report):
        try:  # the model refuses names and values with control characters
            segs = _walk(cells, line, table, pieces, ctx, last)
            protocols.update(n for h, n, _c, _a in segs if h == "Protocol REF" and n)
            handle(segs, line)
        except ValueError as exc:
            ctx.report.add(issue("isatab-bad-name", reason=str(exc), file=table.display, line=line))
    return protocols


def _read_study_table(table: TableDoc, study: Study, ctx: _Ctx) -> set[str]:
    subjects: dict[str, tuple[Subject, int]] = {}
    samples: dict[str, tuple[Sample, int]] = {}
    return _each_row(
        table,
        ("Source Name", "Sample Name"),
        ctx,
        lambda segs, line: _study_row(segs, line, table, study, ctx, subjects, samples),
    )


def _study_row(
    segs: list,
    line: int,
    table: TableDoc,
    study: Study,
    ctx: _Ctx,
    subjects: dict[str, tuple[Subject, int]],
    samples: dict[str, tuple[Sample, int]],
) -> None:
    source = next(((n, c, a) for h, n, c, a in segs if h == "Source Name"), None)
    sample = next(((n, c, a) for h, n, c, a in segs if h == "Sample Name"), None)
    for h, n, c, a in segs:
        if h in ("Source Name", "Sample Name") and not n and any(any(d.values()) for d in a.values.values()):
            ctx.report.add(issue("isatab-empty-name", header=h, file=table.display, line=line, column=c, path=h))
    if source and source[0]:
        name, col, attrs = source
        if name not in subjects:
            subj = Subject(
                id=name,
                characteristics=attrs.values["characteristic"],
                provenance=Provenance(table.display, line, col, "Source Name"),
                comments=attrs.values["comment"],
            )
            subjects[name] = (subj, line)
            study.subjects.append(subj)
        else:
            subj, first = subjects[name]
            _merge(subj.characteristics, attrs.values["characteristic"], "Source Name", name, first, ctx)
            _merge(subj.comments, attrs.values["comment"], "Source Name", name, first, ctx)
    if sample and sample[0]:
        name, col, attrs = sample
        subj_name = source[0] if source and source[0] else ""
        if not subj_name:
            return
        if name not in samples:
            smp = Sample(
                id=name,
                subject=subj_name,
                factors=attrs.values["factor"],
                characteristics=attrs.values["characteristic"],
                provenance=Provenance(table.display, line, col, "Sample Name"),
                comments=attrs.values["comment"],
            )
            samples[name] = (smp, line)
            study.samples.append(smp)
        else:
            smp, first = samples[name]
            for kind, target in (
                ("factor", smp.factors),
                ("characteristic", smp.characteristics),
                ("comment", smp.comments),
            ):
                _merge(target, attrs.values[kind], "Sample Name", name, first, ctx)


def _read_assay_table(table: TableDoc, study: Study, modality: str, ctx: _Ctx) -> set[str]:
    scans: dict[str, tuple[Scan, int]] = {}
    return _each_row(
        table, ("Sample Name",), ctx, lambda segs, line: _assay_row(segs, line, table, study, modality, ctx, scans)
    )


def _assay_row(
    segs: list, line: int, table: TableDoc, study: Study, modality: str, ctx: _Ctx, scans: dict[str, tuple[Scan, int]]
) -> None:
    sample = next(((n, c) for h, n, c, _a in segs if h == "Sample Name"), None)
    if sample is None or not sample[0]:
        if sample is not None and any(n for _h, n, _c, _a in segs):
            ctx.report.add(
                issue(
                    "isatab-empty-name",
                    header="Sample Name",
                    file=table.display,
                    line=line,
                    column=sample[1],
                    path="Sample Name",
                )
            )
        return
    # the acquisition: the first protocol, its assay node and the first data file after it
    params: Values = {}
    comments: Values = {}
    scan_id = None
    scan_col = 1
    image: DataFile | None = None
    derived: list[Segmentation] = []
    stage = "acquisition"
    pending: Values = {}
    for h, n, c, a in segs[1:]:
        if h == "Protocol REF":
            if image is not None or scan_id is not None:
                stage = "derived"
            if stage == "acquisition":
                params.update(a.values["parameter"])
            else:
                pending = dict(a.values["parameter"])
        elif h in ("Raw Data File", "Image File", "Derived Data File") or h.endswith("File"):
            if n and name_too_long(n):
                ctx.report.add(
                    issue(
                        "isatab-file-name-too-long",
                        header=h,
                        length=len(n),
                        file=table.display,
                        line=line,
                        column=c,
                        path=h,
                    )
                )
                n = ""
            if stage == "acquisition" and image is None and h != "Derived Data File":
                if n:
                    image = DataFile(
                        path=n, comments=a.values["comment"], provenance=Provenance(table.display, line, c, h)
                    )
            elif n or pending:
                derived.append(
                    Segmentation(values=pending, path=n or None, provenance=Provenance(table.display, line, c, h))
                )
                pending = {}
        else:  # a node: Assay Name, Scan Name …
            if scan_id is None and n:
                scan_id, scan_col = n, c
                comments.update(a.values["comment"])
                params.update(a.values["parameter"])
    if pending:
        derived.append(
            Segmentation(values=pending, path=None, provenance=Provenance(table.display, line, 1, "Protocol REF"))
        )
    if scan_id is None:
        scan_id = image.path if image else f"{sample[0]}@{table.display}:{line}"
    if scan_id not in scans:
        scan = Scan(
            id=scan_id,
            sample=sample[0],
            modality=modality,
            parameters=params,
            comments=comments,
            files=[image] if image else [],
            segmentations=derived,
            provenance=Provenance(table.display, line, scan_col, "Assay Name"),
        )
        scans[scan_id] = (scan, line)
        study.scans.append(scan)
    else:
        scan, first = scans[scan_id]
        _merge(scan.parameters, params, "Assay Name", scan_id, first, ctx)
        _merge(scan.comments, comments, "Assay Name", scan_id, first, ctx)
        if image and all(f.path != image.path for f in scan.files):
            scan.files.append(image)
        # a segmentation given again (same mask, same values) is one; a set of keys, not a scan of the list:
        # a label map of 130 labels is 130 rows of one scan
        if ctx.segmentation_keys is None or ctx.segmentation_keys[0] is not scan:  # the rows of a scan follow
            ctx.segmentation_keys = (scan, {_seg_key(g) for g in scan.segmentations})  # each other: one set
        known = ctx.segmentation_keys[1]
        for g in derived:
            key = _seg_key(g)
            if key not in known:
                known.add(key)
                scan.segmentations.append(g)


def _seg_key(g: Segmentation) -> tuple[str | None, frozenset[tuple[str, Value]]]:
    """What makes two segmentations equal (their mask and values, not where they were read)."""
    return g.path, frozenset(g.values.items())


def _cells(section: Section | None, label: str) -> list[Cell]:
    return section.values(label) if section else []


def _people(section: Section | None, prefix: str) -> list[Person]:
    last = _cells(section, f"{prefix} Person Last Name")
    get = lambda lab, i: c[i].value if i < len(c := _cells(section, f"{prefix} Person {lab}")) else ""  # noqa: E731
    orcid = _cells(section, f"Comment[{prefix} Person ORCID]")
    out = []
    for i, cell in enumerate(last):
        if cell.value:
            roles = tuple(r for r in get("Roles", i).split(";") if r)
            out.append(
                Person(
                    last_name=cell.value,
                    first_name=get("First Name", i),
                    email=get("Email", i),
                    affiliation=get("Affiliation", i),
                    orcid=orcid[i].value if i < len(orcid) else "",
                    roles=roles,
                )
            )
    return out


def _split(text: str) -> list[str]:
    return [t for t in text.split(";") if t]


def _modality(assays: Section, i: int, profile: Profile | None) -> str:
    mod = _cells(assays, "Comment[Assay Modality]")
    if i < len(mod) and mod[i].value:
        return mod[i].value
    tech = _cells(assays, "Study Assay Technology Type")
    label = tech[i].value if i < len(tech) else ""
    if profile:
        for key, a in profile.assays.items():
            if label and label.lower() in (a.technology.label.lower(), key.lower()):
                return key
    meas = _cells(assays, "Study Assay Measurement Type")
    return label or (meas[i].value if i < len(meas) else "") or f"assay {i + 1}"


@dataclass(frozen=True, kw_only=True)
class IsaTabRead:
    """What the reader found: the investigation (values as read), the profile it resolved, the findings."""

    investigation: Investigation
    profile: Profile | None
    report: Report


def read_isatab(folder: str | Path, profile: str | Profile | None = "auto") -> IsaTabRead:
    """Read the ISA-Tab in ``folder``: syntax and structure findings only, no profile rules.

    ``profile`` ("auto": the one the investigation file names; ``None``: none) only tells which assay
    a technology type stands for; :func:`isaprofile.check` applies its rules. Never raises for bad
    input: an unreadable folder gives an empty investigation and findings.
    """
    folder = Path(folder)
    report = Report()
    inv_files = sorted(folder.glob("i_*.txt"))
    if not inv_files:
        report.add(issue("isatab-no-investigation", file=str(folder)))
        return IsaTabRead(investigation=Investigation(identifier="unreadable"), profile=None, report=report)
    if len(inv_files) > 1:
        report.add(issue("isatab-several-investigations", file=str(folder), names=", ".join(p.name for p in inv_files)))
    ipath = inv_files[0]
    doc = parse_investigation(ipath, ipath.name, report)
    prof = _resolve_profile(profile, doc, report)
    ctx = _Ctx(report, ipath.name, prof)
    inv = _investigation(doc)
    inv.profile = prof.id if prof else inv.profile
    named: set[str] = {ipath.name}
    for block in doc.studies:
        st_sec = block.get("STUDY")
        ident = st_sec.first("Study Identifier") if st_sec else ""
        study = Study(
            identifier=ident or f"study-{len(inv.studies) + 1}",
            title=st_sec.first("Study Title") if st_sec else "",
            description=st_sec.first("Study Description") if st_sec else "",
            provenance=Provenance(ipath.name, st_sec.line if st_sec else None, None, "STUDY"),
        )
        if st_sec:
            for label, cells in st_sec.rows.items():
                if label.startswith("Comment[") and cells and cells[0].value:
                    study.comments[label[8:-1]] = Value(
                        cells[0].value, None, Provenance(ipath.name, cells[0].line, 2, label)
                    )
        design = block.get("STUDY DESIGN DESCRIPTORS")
        types, tans, tsrs = (
            _cells(design, f"Study Design Type{s}") for s in ("", " Term Accession Number", " Term Source REF")
        )
        study.design_types = [
            Term(
                c.value,
                tsrs[i].value if i < len(tsrs) and tsrs[i].value else None,
                tans[i].value if i < len(tans) and tans[i].value else None,
            )
            for i, c in enumerate(types)
            if c.value
        ]
        for c in tsrs:
            if c.value:
                ctx.sources_used.setdefault(c.value, (ipath.name, c))
        factors = [c.value for c in _cells(block.get("STUDY FACTORS"), "Study Factor Name") if c.value]
        study.factors = factors
        declared_protocols = {c.value for c in _cells(block.get("STUDY PROTOCOLS"), "Study Protocol Name")}
        used_protocols: dict[str, tuple[str, int]] = {}
        fname = st_sec.first("Study File Name") if st_sec else ""
        if fname and st_sec is not None:
            named.add(fname)
            table = _open(folder, fname, "study", st_sec, "Study File Name", ctx)
            if table:
                for p in _read_study_table(table, study, ctx):
                    used_protocols.setdefault(p, (table.display, 0))
                _check_factors(table, factors, ctx)
        assays = block.get("STUDY ASSAYS")
        for i, cell in enumerate(_cells(assays, "Study Assay File Name")):
            if not cell.value or assays is None:  # no cells without an assays section
                continue
            named.add(cell.value)
            table = _open(folder, cell.value, "assay", assays, "Study Assay File Name", ctx, index=i)
            if table:
                for p in _read_assay_table(table, study, _modality(assays, i, prof), ctx):
                    used_protocols.setdefault(p, (table.display, 0))
        for p, (file, _l) in sorted(used_protocols.items()):
            if p not in declared_protocols:
                report.add(issue("isatab-protocol-undeclared", protocol=p, file=file, path="Protocol REF"))
        inv.studies.append(study)
    declared = {c.value for c in _cells(doc.top.get("ONTOLOGY SOURCE REFERENCE"), "Term Source Name")}
    for src, (file, cell) in sorted(ctx.sources_used.items()):
        if src not in declared:
            report.add(
                issue("isatab-term-source-undeclared", source=src, file=file, line=cell.line, column=cell.column)
            )
    for table_path in sorted(folder.glob("[sa]_*.txt")):
        if table_path.name not in named:
            report.add(issue("isatab-file-unreferenced", name=table_path.name, file=table_path.name))
    return IsaTabRead(investigation=inv, profile=prof, report=report)


def _check_factors(table: TableDoc, factors: list[str], ctx: _Ctx) -> None:
    for col, ((kind, name), header) in enumerate(zip(table.kinds, table.headers, strict=True), 1):
        if kind == "factor" and name not in factors:
            ctx.report.add(
                issue("isatab-factor-undeclared", factor=name, file=table.display, line=1, column=col, path=header)
            )


def _open(
    folder: Path, name: str, kind: str, section: Section, label: str, ctx: _Ctx, index: int = 0
) -> TableDoc | None:
    cells = section.values(label)
    cell = cells[index] if index < len(cells) else None
    path = folder / name
    if name_too_long(name):
        ctx.report.add(
            issue(
                "isatab-file-name-too-long",
                header=label,
                length=len(name),
                file=ctx.inv_file,
                line=cell.line if cell else None,
                column=cell.column if cell else None,
                path=label,
            )
        )
        return None
    if not path.is_file():
        ctx.report.add(
            issue(
                "isatab-file-missing",
                kind=kind,
                name=name,
                file=ctx.inv_file,
                path=label,
                line=cell.line if cell else None,
                column=cell.column if cell else None,
            )
        )
        return None
    table = open_table(path, name, ctx.report)
    if table is None:
        return None
    return table


def _resolve_profile(profile: str | Profile | None, doc: InvestigationDoc, report: Report) -> Profile | None:
    if profile is None or profile == "none":
        return None
    if isinstance(profile, Profile):
        return profile
    name = profile
    if profile == "auto":
        sec = doc.top.get("INVESTIGATION")
        name = sec.first(PROFILE_COMMENT) if sec else ""
        if not name:
            return None
    try:
        return load_profile(name)
    except ProfileError as exc:
        report.add(issue("profile-unknown", name=name, reason=str(exc), file=doc.file))
        return None


def _investigation(doc: InvestigationDoc) -> Investigation:
    sec = doc.top.get("INVESTIGATION")
    first = sec.first if sec else (lambda _label: "")
    pubs_sec = doc.top.get("INVESTIGATION PUBLICATIONS")
    pubs = []
    n_pubs = max(
        len(_cells(pubs_sec, "Investigation Publication DOI")), len(_cells(pubs_sec, "Investigation Publication Title"))
    )
    for i in range(n_pubs):
        get = lambda lab: x[i].value if i < len(x := _cells(pubs_sec, f"Investigation {lab}")) else ""  # noqa: E731, B023
        pub = {
            "pubmed": get("PubMed ID"),
            "doi": get("Publication DOI"),
            "authors": get("Publication Author List"),
            "title": get("Publication Title"),
            "status": get("Publication Status"),
        }
        if any(pub.values()):
            pubs.append({k: v for k, v in pub.items() if v})
    funders, awards = _split(first("Comment[Funder]")), _split(first("Comment[Award]"))
    funding = [
        {k: v for k, v in (("funder", f), ("award", awards[i] if i < len(awards) else "")) if v}
        for i, f in enumerate(funders)
    ]
    skip = {PROFILE_COMMENT, "Comment[License]", "Comment[Keywords]", "Comment[Funder]", "Comment[Award]"}
    comments = {
        k[8:-1]: v[0].value
        for k, v in (sec.rows.items() if sec else [])
        if k.startswith("Comment[") and k not in skip and v and v[0].value
    }
    return Investigation(
        identifier=first("Investigation Identifier") or "investigation",
        title=first("Investigation Title"),
        description=first("Investigation Description"),
        submission_date=first("Investigation Submission Date"),
        public_release_date=first("Investigation Public Release Date"),
        contacts=_people(doc.top.get("INVESTIGATION CONTACTS"), "Investigation"),
        licences=_split(first("Comment[License]")),
        keywords=_split(first("Comment[Keywords]")),
        publications=pubs,
        funding=funding,
        profile=first(PROFILE_COMMENT) or None,
        comments=comments,
    )
