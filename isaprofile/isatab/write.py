"""Write a dataset as ISA-Tab 1.0: ``i_investigation.txt``, one ``s_`` file per study, one ``a_`` per modality.

Tables are streamed row by row through :mod:`csv` (tab-delimited, LF, UTF-8 without BOM). Cells that
hold tabs, newlines or double quotes are quoted with doubled inner quotes, which ISA-Tab readers
(ours, isatools/pandas) read back exactly. The output folder is written to a temporary sibling and
renamed into place, so an interrupted run leaves the previous ISA-Tab or none.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, cast

from isaprofile._shared import ByIdentity, FirstSeen
from isaprofile.isatab.parse import neutralise_cell
from isaprofile.model import DataFile, Investigation, Person, Sample, Scan, Study, Subject, Term, Value, Values
from isaprofile.profile.model import Profile

SAMPLE_PROTOCOL = "sample collection"  # used when the profile names no sample collection protocol
SEGMENTATION_PROTOCOL = "image segmentation"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

RowSink = Callable[[list[str]], None]
#: ``observe(file name, header)`` is told of each table as it is written and gives back what takes its rows
#: (each as the file holds it, before quoting: :func:`~isaprofile.isatab.parse.generated_rows` reads the same
#: cells back), or None; so a reader of the tables (the data package) needs no second read of them
Observer = Callable[[str, list[str]], RowSink | None]


class IsaTabWriteError(ValueError):
    """A value cannot be written as ISA-Tab; says which cell and why."""


@dataclass(frozen=True)
class Column:
    """One attribute column group: ``header`` plus its Unit or Term Source REF/Accession qualifiers."""

    kind: str  # characteristic | factor | parameter | comment
    name: str
    unit: bool = False
    term: bool = False

    @property
    def header(self) -> str:
        return {"characteristic": "Characteristics", "factor": "Factor Value", "parameter": "Parameter Value",
                "comment": "Comment"}[self.kind] + f"[{self.name}]"  # fmt: skip

    def headers(self) -> list[str]:
        if self.kind == "comment":
            return [self.header]
        if self.unit:
            return [self.header, "Unit", "Term Source REF", "Term Accession Number"]
        if self.term:
            return [self.header, "Term Source REF", "Term Accession Number"]
        return [self.header]

    def cells(self, value: Value | None) -> list[str]:
        if value is None:
            return [""] * len(self.headers())
        if self.kind == "comment":
            return [value.text()]
        if self.unit:
            u = value.unit
            return [value.text(), u.label if u else "", (u.source or "") if u else "", (u.accession or "") if u else ""]
        if self.term:
            t = value.term
            return [value.text(), (t.source or "") if t else "", (t.accession or "") if t else ""]
        return [value.text()]


def _columns(kind: str, dicts: Iterable[Values], order: Sequence[str] = (), profile_fields=None) -> list[Column]:
    """The columns for the values in ``dicts``: profile order first, then first appearance."""
    names: dict[str, list[bool]] = {n: [False, False] for n in order}
    first = FirstSeen()  # a dict shared by many records (a label's values) is looked at once
    for values in filter(first, dicts):
        for name, v in values.items():
            flags = names.setdefault(name, [False, False])
            flags[0] |= v.unit is not None
            flags[1] |= v.term is not None
    if profile_fields:
        for f in profile_fields:
            if f.name in names:
                names[f.name][0] |= f.unit is not None and f.type in ("integer", "number")
                names[f.name][1] |= f.type == "term"
    return [Column(kind, n, unit, term and not unit) for n, (unit, term) in names.items()]


def _order(profile: Profile | None, entity: str, isa: str, modality: str | None = None) -> list:
    if profile is None:
        return []
    return [f for f in profile.fields_for(entity, modality) if f.isa == isa]


_NEEDS_QUOTES = re.compile(r'[\t\n\r"]')
_CELLS_MAX = 4096  # segmentations' dicts of values whose cells an assay table remembers


class _Writer:
    """Tab-separated rows; a cell with a tab, CR, LF or double quote is quoted with doubled quotes.

    (The csv module does not quote a lone CR when the line terminator is LF, which would split a row.)
    Each distinct cell is checked and written once: an assay's rows repeat their scan's cells on every
    segmentation row (ENHANCE: 8 million cells, a few thousand distinct). ``sink``, when set, is given each
    row's cells as written (neutralised, not quoted).
    """

    _MEMO_MAX = 1 << 16

    def __init__(self, fh: TextIO) -> None:
        self._write = fh.write
        self._text: dict[str, str] = {}
        self._neutralised: dict[str, str] = {}  # the cells the memo holds that neutralise_cell changed
        self.sink: RowSink | None = None

    def writerow(self, cells: list[str], where: str) -> None:
        """Write one row; ``where`` names it in the error for a cell that cannot be UTF-8."""
        text = self._text
        out = list(map(text.get, cells))  # the usual row: every cell seen before, looked up at C speed
        if None in out:
            if len(text) + out.count(None) > self._MEMO_MAX:  # emptied before the row: its cells all stay known
                text.clear()
                self._neutralised.clear()
                out = [None] * len(cells)
            for i, t in enumerate(out):
                if t is None:
                    c = cells[i]
                    out[i] = text[c] = self._cell(c, where)
        self._write("\t".join(cast(list[str], out)) + "\n")  # every None filled above
        if self.sink is not None:
            changed = self._neutralised
            self.sink([changed.get(c, c) for c in cells] if changed else cells)

    def _cell(self, cell: str, where: str) -> str:
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            raise IsaTabWriteError(f"{where}: a value contains an unpaired surrogate and cannot be UTF-8") from None
        safe = neutralise_cell(cell)  # no formula reaches a spreadsheet (parse.restore_cell)
        if safe is not cell:
            self._neutralised[cell] = safe
        return '"' + safe.replace('"', '""') + '"' if _NEEDS_QUOTES.search(safe) else safe


def _writer(fh: TextIO) -> _Writer:
    return _Writer(fh)


def sample_protocol(profile: Profile | None) -> tuple[str, Term]:
    """The protocol between subjects and samples: the profile's "sample collection" protocol
    (``animal at time point``, ``patient at examination`` …), else a generic one."""
    for name, ptype in profile.protocols.items() if profile else ():
        if ptype.label == "sample collection":
            return name, ptype
    return SAMPLE_PROTOCOL, Term("sample collection")


def file_stem(text: str) -> str:
    """A file-name-safe form of an identifier (``Study 1/A`` → ``Study_1_A``)."""
    return _SAFE.sub("_", text).strip("_") or "study"


# ----------------------------------------------------------------------------- tables


def study_layout(study: Study, profile: Profile | None) -> tuple[list[Column], list[Column], list[Column], list[Column],
                                                                   list[Column]]:  # fmt: skip
    subj_c = _columns("characteristic", (s.characteristics for s in study.subjects),
                      [f.name for f in _order(profile, "subject", "characteristic")],
                      _order(profile, "subject", "characteristic"))  # fmt: skip
    subj_m = _columns("comment", (s.comments for s in study.subjects), [])
    smp_c = _columns("characteristic", (s.characteristics for s in study.samples), [],
                     _order(profile, "sample", "characteristic"))  # fmt: skip
    smp_f = _columns("factor", (s.factors for s in study.samples), [], _order(profile, "sample", "factor"))
    smp_m = _columns("comment", (s.comments for s in study.samples), [])
    # keep only columns that some item fills; profile-ordered names without values are dropped
    used = lambda cols, dicts: [c for c in cols if any(c.name in d for d in dicts)]  # noqa: E731
    return (used(subj_c, [s.characteristics for s in study.subjects]), subj_m, smp_c, smp_f, smp_m)


def write_study_table(path: Path, study: Study, profile: Profile | None, observe: Observer | None = None) -> int:
    """Write ``s_`` for ``study``; returns the number of rows. Subjects without samples get a row too."""
    subj_c, subj_m, smp_c, smp_f, smp_m = study_layout(study, profile)
    header = ["Source Name"] + _flat(subj_c + subj_m) + ["Protocol REF", "Sample Name"] + _flat(smp_c + smp_f + smp_m)
    subjects = {s.id: s for s in study.subjects}
    protocol = sample_protocol(profile)[0]
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = _writer(fh)
        w.writerow(header, path.name)
        w.sink = observe(path.name, header) if observe else None
        sampled: set[str] = set()
        for sample in study.samples:
            subj = subjects.get(sample.subject) or Subject(id=sample.subject)
            sampled.add(subj.id)
            cells = _subject_cells(subj, subj_c, subj_m) + [protocol, sample.id]
            w.writerow(cells + _sample_cells(sample, smp_c, smp_f, smp_m), f"{path.name} sample {sample.id}")
            rows += 1
        for subj in study.subjects:
            if subj.id not in sampled:
                blanks = [""] * (2 + len(_flat(smp_c + smp_f + smp_m)))
                w.writerow(_subject_cells(subj, subj_c, subj_m) + blanks, f"{path.name} subject {subj.id}")
                rows += 1
    return rows


def _flat(cols: list[Column]) -> list[str]:
    return [h for c in cols for h in c.headers()]


def _subject_cells(subj: Subject, chars: list[Column], comments: list[Column]) -> list[str]:
    out = [subj.id]
    for c in chars:
        out += c.cells(subj.characteristics.get(c.name))
    for c in comments:
        out += c.cells(subj.comments.get(c.name))
    return out


def _sample_cells(sample: Sample, chars: list[Column], factors: list[Column], comments: list[Column]) -> list[str]:
    out: list[str] = []
    for c in chars:
        out += c.cells(sample.characteristics.get(c.name))
    for c in factors:
        out += c.cells(sample.factors.get(c.name))
    for c in comments:
        out += c.cells(sample.comments.get(c.name))
    return out


@dataclass(frozen=True)
class AssayLayout:
    protocol: str
    params: list[Column]
    comments: list[Column]
    file_comments: list[Column]
    seg_params: list[Column]
    segmentation: bool

    def header(self) -> list[str]:
        h = ["Sample Name", "Protocol REF"] + _flat(self.params) + ["Assay Name"] + _flat(self.comments)
        h += ["Raw Data File"] + _flat(self.file_comments)
        if self.segmentation:
            h += ["Protocol REF"] + _flat(self.seg_params) + ["Derived Data File"]
        return h


def assay_layout(scans: Iterable[Scan], modality: str, profile: Profile | None) -> AssayLayout:
    """The columns needed for ``scans`` (one pass over them)."""
    scans = list(scans) if not isinstance(scans, Sequence) else scans
    params = _columns("parameter", (s.parameters for s in scans), [], _order(profile, "scan", "parameter", modality))
    comments = _columns("comment", (s.comments for s in scans))
    fcomments = _columns("comment", (f.comments for s in scans for f in s.files))
    segs = [g for s in scans for g in s.segmentations]
    seg_params = _columns("parameter", (g.values for g in segs), [], _order(profile, "segmentation", "parameter"))
    protocol = (
        profile.assays[modality].protocol if profile and modality in profile.assays else f"{modality} acquisition"
    )
    return AssayLayout(protocol, params, comments, fcomments, seg_params, bool(segs))


def _segment_cells(values: Values, layout: AssayLayout, made: ByIdentity[list[str]]) -> list[str]:
    """The cells of a segmentation's values, made once per dict (a label's dict is every subject's)."""
    cells = made.get(values)
    if cells is None:
        cells = made.put(values, [cell for c in layout.seg_params for cell in c.cells(values.get(c.name))])
    return cells


def assay_rows(scans: Iterable[Scan], layout: AssayLayout) -> Iterator[list[str]]:
    """The rows of an assay table: one per (image, segmentation) pair of each scan, images first."""
    made: ByIdentity[list[str]] = ByIdentity(_CELLS_MAX)
    for scan in scans:
        head = [scan.sample, layout.protocol]
        for c in layout.params:
            head += c.cells(scan.parameters.get(c.name))
        head.append(scan.id)
        for c in layout.comments:
            head += c.cells(scan.comments.get(c.name))
        images: list[DataFile | None] = list(scan.files) or [None]
        pairs: list[tuple] = [(images[0], g) for g in scan.segmentations] or [(images[0], None)]
        pairs += [(img, None) for img in images[1:]]
        for img, seg in pairs:
            row = head + [img.path if img else ""]
            for c in layout.file_comments:
                row += c.cells(img.comments.get(c.name) if img else None)
            if layout.segmentation:
                if seg is None:
                    # the protocol is named on every row: isatools' loader cannot resolve an empty Protocol REF
                    # followed by Parameter Value columns; with no values and no file the row states no output
                    row += [SEGMENTATION_PROTOCOL] + [""] * len(_flat(layout.seg_params)) + [""]
                else:
                    row.append(SEGMENTATION_PROTOCOL)
                    row += _segment_cells(seg.values, layout, made)
                    row.append(seg.path or "")
            yield row


def write_assay_table(path: Path, scans: Iterable[Scan], layout: AssayLayout, observe: Observer | None = None) -> int:
    """Stream ``scans`` into the assay file ``path``; returns the number of rows."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = _writer(fh)
        header = layout.header()
        w.writerow(header, path.name)
        w.sink = observe(path.name, header) if observe else None
        for row in assay_rows(scans, layout):
            w.writerow(row, f"{path.name} row {n + 2}")
            n += 1
    return n


# ----------------------------------------------------------------------------- investigation file


def assay_file_name(study: Study, modality: str) -> str:
    return f"a_{file_stem(study.identifier)}_{file_stem(modality)}.txt"


def study_file_name(study: Study) -> str:
    return f"s_{file_stem(study.identifier)}.txt"


def _person_rows(prefix: str, people: list[Person]) -> list[list[str]]:
    p = people
    return [
        [f"{prefix} Person Last Name"] + [x.last_name for x in p],
        [f"{prefix} Person First Name"] + [x.first_name for x in p],
        [f"{prefix} Person Mid Initials"] + ["" for _ in p],
        [f"{prefix} Person Email"] + [x.email for x in p],
        [f"{prefix} Person Phone"] + ["" for _ in p],
        [f"{prefix} Person Fax"] + ["" for _ in p],
        [f"{prefix} Person Address"] + ["" for _ in p],
        [f"{prefix} Person Affiliation"] + [x.affiliation for x in p],
        [f"{prefix} Person Roles"] + [";".join(x.roles) for x in p],
        [f"{prefix} Person Roles Term Accession Number"] + ["" for _ in p],
        [f"{prefix} Person Roles Term Source REF"] + ["" for _ in p],
        [f"Comment[{prefix} Person ORCID]"] + [x.orcid for x in p],
    ]


def _term_sources(inv: Investigation, profile: Profile | None) -> dict[str, dict[str, str]]:
    used: set[str] = set()

    def visit(values: Values) -> None:
        for v in values.values():
            for t in (v.term, v.unit):
                if t is not None and t.source:
                    used.add(t.source)

    for st in inv.studies:
        for t in st.design_types:
            if t.source:
                used.add(t.source)
        for s in st.subjects:
            visit(s.characteristics)
        for sa in st.samples:
            visit(sa.characteristics)
            visit(sa.factors)
        for sc in st.scans:
            visit(sc.parameters)
            for g in sc.segmentations:
                visit(g.values)
        if profile:
            for m in st.modalities:
                if m in profile.assays:
                    a = profile.assays[m]
                    used.update(t.source for t in (a.measurement, a.technology) if t.source)
    known = dict(profile.ontologies) if profile else {}
    known.setdefault("UO", {"file": "http://purl.obolibrary.org/obo/uo.owl", "description": "Units of measurement"})
    known.setdefault("OBI", {"file": "http://purl.obolibrary.org/obo/obi.owl",
                             "description": "Ontology for Biomedical Investigations"})  # fmt: skip
    return {s: known.get(s, {}) for s in sorted(used)}


def write_investigation(path: Path, inv: Investigation, profile: Profile | None) -> None:
    sources = _term_sources(inv, profile)
    rows: list[list[str]] = [
        ["ONTOLOGY SOURCE REFERENCE"],
        ["Term Source Name"] + list(sources),
        ["Term Source File"] + [s.get("file", "") for s in sources.values()],
        ["Term Source Version"] + [str(s.get("version", "")) for s in sources.values()],
        ["Term Source Description"] + [s.get("description", "") for s in sources.values()],
        ["INVESTIGATION"],
        ["Investigation Identifier", inv.identifier],
        ["Investigation Title", inv.title],
        ["Investigation Description", inv.description],
        ["Investigation Submission Date", inv.submission_date],
        ["Investigation Public Release Date", inv.public_release_date],
        ["Comment[isaprofile profile]", inv.profile or ""],
        ["Comment[License]", ";".join(inv.licences)],
        ["Comment[Keywords]", ";".join(inv.keywords)],
        ["Comment[Funder]", ";".join(f.get("funder", "") for f in inv.funding)],
        ["Comment[Award]", ";".join(f.get("award", "") for f in inv.funding)],
    ]
    rows += [[f"Comment[{k}]", v] for k, v in sorted(inv.comments.items())]
    pubs = inv.publications
    rows += [
        ["INVESTIGATION PUBLICATIONS"],
        ["Investigation PubMed ID"] + [p.get("pubmed", "") for p in pubs],
        ["Investigation Publication DOI"] + [p.get("doi", "") for p in pubs],
        ["Investigation Publication Author List"] + [p.get("authors", "") for p in pubs],
        ["Investigation Publication Title"] + [p.get("title", "") for p in pubs],
        ["Investigation Publication Status"] + [p.get("status", "") for p in pubs],
        ["Investigation Publication Status Term Accession Number"] + ["" for _ in pubs],
        ["Investigation Publication Status Term Source REF"] + ["" for _ in pubs],
        ["INVESTIGATION CONTACTS"],
    ]
    rows += _person_rows("Investigation", inv.contacts)
    for st in inv.studies:
        rows += _study_rows(st, profile)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = _writer(fh)
        for row in rows:
            w.writerow(row, path.name)


def _study_rows(st: Study, profile: Profile | None) -> list[list[str]]:
    rows = [
        ["STUDY"],
        ["Study Identifier", st.identifier],
        ["Study Title", st.title],
        ["Study Description", st.description],
        ["Study Submission Date", ""],
        ["Study Public Release Date", ""],
        ["Study File Name", study_file_name(st)],
    ]
    rows += [[f"Comment[{k}]", v.text()] for k, v in st.comments.items()]
    d = st.design_types
    rows += [
        ["STUDY DESIGN DESCRIPTORS"],
        ["Study Design Type"] + [t.label for t in d],
        ["Study Design Type Term Accession Number"] + [t.accession or "" for t in d],
        ["Study Design Type Term Source REF"] + [t.source or "" for t in d],
        ["STUDY PUBLICATIONS"],
        ["Study PubMed ID"], ["Study Publication DOI"], ["Study Publication Author List"],
        ["Study Publication Title"], ["Study Publication Status"],
        ["Study Publication Status Term Accession Number"], ["Study Publication Status Term Source REF"],
    ]  # fmt: skip
    factor_terms = {f.name: f.term for f in profile.fields_for("sample") if f.isa == "factor"} if profile else {}
    fs = st.factors
    rows += [
        ["STUDY FACTORS"],
        ["Study Factor Name"] + fs,
        ["Study Factor Type"] + [t.label if (t := factor_terms.get(f)) else f for f in fs],
        ["Study Factor Type Term Accession Number"]
        + [(t.accession or "") if (t := factor_terms.get(f)) else "" for f in fs],  # fmt: skip
        ["Study Factor Type Term Source REF"]
        + [(t.source or "") if (t := factor_terms.get(f)) else "" for f in fs],  # fmt: skip
    ]
    mods = st.modalities
    assays = [profile.assays.get(m) if profile else None for m in mods]
    rows += [
        ["STUDY ASSAYS"],
        ["Study Assay File Name"] + [assay_file_name(st, m) for m in mods],
        ["Study Assay Measurement Type"] + [a.measurement.label if a else m for a, m in zip(assays, mods, strict=True)],
        ["Study Assay Measurement Type Term Accession Number"]
        + [(a.measurement.accession or "") if a else "" for a in assays],  # fmt: skip
        ["Study Assay Measurement Type Term Source REF"] + [(a.measurement.source or "") if a else "" for a in assays],
        ["Study Assay Technology Type"] + [a.technology.label if a else m for a, m in zip(assays, mods, strict=True)],
        ["Study Assay Technology Type Term Accession Number"]
        + [(a.technology.accession or "") if a else "" for a in assays],  # fmt: skip
        ["Study Assay Technology Type Term Source REF"] + [(a.technology.source or "") if a else "" for a in assays],
        ["Study Assay Technology Platform"] + [a.platform if a else "" for a in assays],
        ["Comment[Assay Modality]"] + list(mods),
    ]
    protocols = _protocols(st, profile)
    rows += [
        ["STUDY PROTOCOLS"],
        ["Study Protocol Name"] + [p[0] for p in protocols],
        ["Study Protocol Type"] + [p[1].label for p in protocols],
        ["Study Protocol Type Term Accession Number"] + [p[1].accession or "" for p in protocols],
        ["Study Protocol Type Term Source REF"] + [p[1].source or "" for p in protocols],
        ["Study Protocol Description"] + ["" for _ in protocols],
        ["Study Protocol URI"] + ["" for _ in protocols],
        ["Study Protocol Version"] + ["" for _ in protocols],
        ["Study Protocol Parameters Name"] + [";".join(p[2]) for p in protocols],
        ["Study Protocol Parameters Name Term Accession Number"] + [";".join("" for _ in p[2]) for p in protocols],
        ["Study Protocol Parameters Name Term Source REF"] + [";".join("" for _ in p[2]) for p in protocols],
        ["Study Protocol Components Name"] + ["" for _ in protocols],
        ["Study Protocol Components Type"] + ["" for _ in protocols],
        ["Study Protocol Components Type Term Accession Number"] + ["" for _ in protocols],
        ["Study Protocol Components Type Term Source REF"] + ["" for _ in protocols],
        ["STUDY CONTACTS"],
    ]
    rows += _person_rows("Study", [])
    return rows


def _protocols(st: Study, profile: Profile | None) -> list[tuple[str, Term, list[str]]]:
    ptypes = profile.protocols if profile else {}
    out: list[tuple[str, Term, list[str]]] = [(*sample_protocol(profile), [])]
    for m in st.modalities:
        scans = [s for s in st.scans if s.modality == m]
        layout = assay_layout(scans, m, profile)
        ptype = profile.assays[m].protocol_type if profile and m in profile.assays else Term("data acquisition")
        out.append((layout.protocol, ptype, [c.name for c in layout.params]))
    segs = [g for s in st.scans for g in s.segmentations]
    if segs:
        names = [c.name for c in _columns("parameter", (g.values for g in segs), [],
                                          _order(profile, "segmentation", "parameter"))]  # fmt: skip
        out.append((SEGMENTATION_PROTOCOL, ptypes.get(SEGMENTATION_PROTOCOL, Term("image segmentation")), names))
    return out


# ----------------------------------------------------------------------------- whole folder


def write_isatab(
    inv: Investigation, out: str | Path, profile: Profile | None = None, *, observe: Observer | None = None
) -> list[Path]:
    """Write ``inv`` as ISA-Tab into the folder ``out`` (replaced atomically); returns the files written.
    ``observe`` is told of each study and assay table and its rows as they are written (:data:`Observer`).

    Raises :class:`IsaTabWriteError` for a value that cannot be written; ``out`` is then untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_investigation(tmp / "i_investigation.txt", inv, profile)
        for st in inv.studies:
            write_study_table(tmp / study_file_name(st), st, profile, observe)
            for m in st.modalities:
                scans = [s for s in st.scans if s.modality == m]
                write_assay_table(tmp / assay_file_name(st, m), scans, assay_layout(scans, m, profile), observe)
        names = sorted(p.name for p in tmp.iterdir())
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]


def _replace_dir(tmp: Path, out: Path) -> None:
    for p in tmp.iterdir():
        with p.open("rb") as fh:
            os.fsync(fh.fileno())
    os.chmod(tmp, 0o755)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
