"""Assemble a dataset folder into the Investigation: sheets + harvested image headers → subjects, samples, scans.

The config's ``files:`` entries find the images (one scan per DICOM series / NIfTI file) and the
segmentations (DICOM SEG segments, or the labels of NIfTI label maps) and link each to its subject and
sample through named groups of a path pattern (or the DICOM PatientID). Scan parameters come from the
headers through the profile's ``harvest:`` keys, converted to the profile's unit; the ``sheets:`` add
subject characteristics and fill what the headers do not state. Where both state a value they are
cross-checked (:mod:`isaprofile.harvest.crosscheck`). Every value keeps its provenance.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isaprofile._shared import ByIdentity
from isaprofile.findings.issues import Report, issue
from isaprofile.harvest.config import DatasetConfig, FileSpec
from isaprofile.harvest.crosscheck import conflict
from isaprofile.harvest.images import ResultWrapper, harvest_files
from isaprofile.harvest.mapping import MODALITY_KEYS, to_profile_values
from isaprofile.harvest.nifti import Inspect
from isaprofile.harvest.sheetmap import SheetRow, read_sheet_rows
from isaprofile.harvest.sidecar import JsonLimitError, load_json_bounded
from isaprofile.harvest.tcia import check_tcia
from isaprofile.harvest.types import HarvestedImage, Segment
from isaprofile.model import DataFile, Provenance, Sample, Scan, Segmentation, Study, Subject, Value
from isaprofile.profile.model import Field, Profile

PARALLEL_MIN_FILES = 256
Inspector = Callable[[frozenset[str]], Inspect]  # the subject IDs known before reading -> per-header hook

_TRAILING_NUMBER = re.compile(r"[\s_-]*\d+$")


@dataclass
class _State:
    """What is assembled so far, with the indexes that link files and rows to it."""

    profile: Profile
    report: Report
    subjects: dict[str, Subject] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)
    scans: dict[str, Scan] = field(default_factory=dict)
    by_uid: dict[str, Scan] = field(default_factory=dict)
    by_sample: dict[tuple[str, str], Scan] = field(default_factory=dict)  # (sample, modality)
    by_path: dict[str, Scan] = field(default_factory=dict)
    seg_paths: set[str] = field(default_factory=set)  # folders and files of segmentations
    headers: dict[str, dict[str, Value]] = field(default_factory=dict)  # scan id -> header values by field key
    listed: set[str] | None = None  # subjects the subject sheets list (None: no subject sheet)
    # (file spec, label group) -> its labels' shared values (_label_values)
    label_values: dict[tuple[int, str | None], list[tuple[Provenance, dict[str, Value]]]] = field(default_factory=dict)
    # a file spec's fixed values, by their text, and a label's values merged with them: one dict for every
    # subject's map of the same group and label (ENHANCE: 130 instead of 207,610; nothing changes them in place)
    fixed_values: dict[tuple[Any, ...], dict[str, Value]] = field(default_factory=dict)
    merged: ByIdentity[dict[str, Value]] = field(default_factory=lambda: ByIdentity(1 << 16))

    def subject(self, ident: str, prov: Provenance | None) -> Subject:
        if ident not in self.subjects:
            self.subjects[ident] = Subject(id=ident, provenance=prov)
        return self.subjects[ident]

    def sample(self, ident: str, subject: str, prov: Provenance | None) -> Sample:
        if ident not in self.samples:
            self.samples[ident] = Sample(id=ident, subject=subject, provenance=prov)
        return self.samples[ident]


def modality_key(profile: Profile, text: str | None) -> str | None:
    """The profile's assay key for a modality as written (``PT`` → ``PET``, ``MR`` → ``MRI``)."""
    if not text:
        return None
    mfield = profile.placement("scan", "modality")
    term = mfield.find_term(text) if mfield else None
    if term is not None:
        return term.label
    return MODALITY_KEYS.get(text.upper(), text)


def _place(target: dict[str, dict[str, Value]], fld: Field, value: Value) -> None:
    bucket = target.get(fld.isa)
    if bucket is not None:
        bucket.setdefault(fld.name, value)


def _put(state: _State, holder: Subject | Sample | Scan, values: dict[str, Value], known: dict[str, Value]) -> None:
    """Put field-keyed ``values`` on ``holder``; a value a header already gave is cross-checked instead."""
    for key, value in values.items():
        fld = state.profile.field(key)
        if key in known:
            found = conflict(fld, value, known[key])
            if found is not None:
                state.report.add(found)
            continue
        _place(_buckets(holder), fld, value)


def _buckets(holder: Subject | Sample | Scan) -> dict[str, dict[str, Value]]:
    if isinstance(holder, Subject):
        return {"characteristic": holder.characteristics, "comment": holder.comments}
    if isinstance(holder, Sample):
        return {"characteristic": holder.characteristics, "factor": holder.factors, "comment": holder.comments}
    return {"parameter": holder.parameters, "comment": holder.comments}


# ---------------------------------------------------------------- files


def _glob(root: Path, spec: FileSpec, report: Report) -> list[str]:
    out: list[str] = []
    top = root.absolute()  # its matches are named top/...: slicing that off is 10x cheaper than relative_to
    lead = len(str(top).rstrip(os.sep)) + 1
    for pattern in spec.globs:
        found = sorted(s[lead:].replace(os.sep, "/") for s in map(str, top.glob(pattern)) if os.path.isfile(s))
        if not found:
            report.add(issue("files-none", index=spec.index, glob=pattern, file="isaprofile.yaml",
                             path=f"{spec.where}['glob']"))  # fmt: skip
        out.extend(found)
    return out


def _groups(spec: FileSpec, rel: str) -> dict[str, str] | None:
    if spec.pattern is None:
        return {}
    m = spec.pattern.fullmatch(rel)
    return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}


def _labels(root: Path, spec: FileSpec, report: Report) -> dict[str, dict[str, str]]:
    if not spec.labels:
        return {}
    try:
        data = load_json_bounded((root / spec.labels).read_bytes())
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError("the top level must map groups to objects")
        return {str(g): {str(k): str(v) for k, v in names.items()} for g, names in data.items()}
    except JsonLimitError as exc:
        report.add(exc.issue(spec.labels))
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        report.add(issue("labels-unreadable", file=spec.labels, reason=f"{type(exc).__name__}: {exc}"))
        return {}


def harvest_config_files(
    root: Path,
    config: DatasetConfig,
    report: Report,
    inspector: Inspector | None = None,
    listed: Iterable[str] = (),
    progress: ResultWrapper | None = None,
    workers: int = 1,
    cache: bool = False,
) -> list[tuple[HarvestedImage, FileSpec, dict[str, str]]]:
    """Harvest the files of every ``files:`` entry; each item with its entry and its path's groups.

    ``inspector(subject_ids)`` gives the per-header hook of :func:`harvest_files`, told every subject ID
    the dataset knows before its files are read (the sheets' and those in the file paths). ``cache``:
    reuse the header cache's results for unchanged files (:mod:`isaprofile.cache`).
    """
    owner: dict[str, tuple[FileSpec, dict[str, str]]] = {}
    # the files of a series folder have the same groups: one (spec, groups) for all (CRLM: 197, not 17,836)
    same: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[FileSpec, dict[str, str]]] = {}
    for spec in config.files:
        for rel in _glob(root, spec, report):
            if rel in owner:
                continue
            groups = _groups(spec, rel)
            if groups is None:
                report.add(issue("file-unmatched", file=rel, index=spec.index, path=f"{spec.where}['pattern']"))
                continue
            owner[rel] = same.setdefault((spec.index, tuple(groups.items())), (spec, groups))
    if not owner:
        return []
    known = {*listed, *(g["subject"] for _s, g in owner.values() if g.get("subject"))}
    hook = inspector(frozenset(known)) if inspector is not None else None
    # a process pool pays off only past a few hundred files (starting it costs about half a second)
    pool = workers if len(owner) >= PARALLEL_MIN_FILES else 1
    # the names as they are: the harvest's tasks and items hold these strings, not copies
    items, rep = harvest_files(list(owner), root=os.path.abspath(root), relative=True, inspect=hook,
                               progress=progress, workers=pool, cache=cache)  # fmt: skip
    report.merge(rep)
    return [(item, *owner[item.path]) for item in items if item.path in owner]


# ---------------------------------------------------------------- images and segmentations


def _link(state: _State, item: HarvestedImage, spec: FileSpec, groups: dict[str, str]) -> dict[str, str] | None:
    """The item's subject/sample/modality identifiers, or None (with a finding) when it has no subject."""
    subject = groups.get("subject") if spec.subject_from == "pattern" else item.subject
    if not subject:
        state.report.add(issue("file-unmatched", file=item.path, index=spec.index, path=f"{spec.where}['pattern']"))
        return None
    if state.listed is not None and subject not in state.listed:
        state.report.add(issue("file-subject-unknown", file=item.path, target=subject, path=f"{spec.where}"))
        return None
    modality = modality_key(state.profile, spec.modality or groups.get("modality") or item.modality) or "unknown"
    ids = {**groups, "subject": subject, "modality": modality}
    ids["sample"] = spec.sample_id(ids)
    return ids


# ISA-Tab ``Comment[...]`` names (on the Raw Data File) under which a DICOM scan's identity is recorded
STUDY_UID, SERIES_UID, SOP_UIDS = "Study Instance UID", "Series Instance UID", "SOP Instance UID"


def identity_comments(item: HarvestedImage) -> dict[str, Value]:
    """The DICOM identity of a harvested series: Study, Series and SOP Instance UIDs (the SOP Instance
    UIDs of all its files, in file order, separated by ``;``), each with the file and tag it came from."""
    if item.kind == "nifti":
        return {}
    from isaprofile.harvest.series import tag_path  # (not pydicom's dictionary: the item may come from the cache)

    out: dict[str, Value] = {}
    first = item.path
    if item.study_uid:
        out[STUDY_UID] = Value(item.study_uid, None, Provenance(first, path=tag_path("StudyInstanceUID")))
    if item.uid:
        out[SERIES_UID] = Value(item.uid, None, Provenance(first, path=tag_path("SeriesInstanceUID")))
    sops = [u for u in item.instances if u]
    if sops:
        out[SOP_UIDS] = Value(";".join(sops), None, Provenance(item.folder or first, path=tag_path("SOPInstanceUID")))
    return out


def _add_scan(state: _State, item: HarvestedImage, spec: FileSpec, ids: dict[str, str]) -> None:
    prov = Provenance(item.path, path="image header")
    state.subject(ids["subject"], prov)
    state.sample(ids["sample"], ids["subject"], prov)
    scan_id = base = spec.scan.format(**ids)
    n = 1
    while scan_id in state.scans:
        n += 1
        scan_id = f"{base}-{n}"
    path = item.folder if item.kind == "dicom-series" and item.folder else item.path
    data_file = DataFile(path=path, comments=identity_comments(item), provenance=prov)
    scan = Scan(id=scan_id, sample=ids["sample"], modality=ids["modality"], files=[data_file], provenance=prov)
    profile = state.profile
    header = to_profile_values(item, profile, "scan", ids["modality"] if ids["modality"] in profile.assays else None)
    for key, value in header.items():
        fld = profile.field(key)
        if fld.isa in ("parameter", "comment"):
            _place(_buckets(scan), fld, value)
    for key, raw in spec.values.items():
        fld = profile.field(key)
        if fld.entity == "scan" and fld.applies_to(scan.modality):
            _place(
                _buckets(scan),
                fld,
                Value(str(raw).format(**ids), None, Provenance("isaprofile.yaml", path=f"{spec.where}['values']")),
            )
    state.headers[scan_id] = header
    subject = state.subjects[ids["subject"]]
    subj_values = to_profile_values(item, profile, "subject", None)
    for key, value in subj_values.items():
        fld = profile.field(key)
        if fld.isa == "source-name":
            found = conflict(fld, Value(ids["subject"], None, Provenance(item.path, path=f"{spec.where}['pattern']")),
                             value)  # fmt: skip
            if found is not None:
                state.report.add(found)
        else:
            _place(_buckets(subject), fld, value)
    state.scans[scan_id] = scan
    if item.uid:
        state.by_uid[item.uid] = scan
    state.by_sample.setdefault((ids["sample"], ids["modality"]), scan)
    state.by_path[path] = scan


def _segment_values(profile: Profile, seg: Segment) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for fld in profile.fields_for("segmentation"):
        keys = [k for kind, k in fld.harvest if kind == "dicom"]
        value = next((seg.values[k] for k in keys if k in seg.values), None)
        if value is None:
            continue
        if fld.type == "term" and isinstance(value.value, str) and fld.find_term(value.value) is None:
            stripped = _TRAILING_NUMBER.sub("", value.value)
            if stripped and fld.find_term(stripped) is not None:
                value = Value(stripped, None, value.provenance)
        out[fld.name] = value
    return out


def _add_segmentations(state: _State, item: HarvestedImage, spec: FileSpec, ids: dict[str, str],
                       labels: dict[str, dict[str, str]]) -> None:  # fmt: skip
    target = next((state.by_uid[u] for u in item.references if u in state.by_uid), None)
    source = modality_key(state.profile, spec.segments) or "CT"
    if target is None:
        target = state.by_sample.get((ids["sample"], source))
    if target is None:
        state.report.add(issue("segmentation-source-unknown", file=item.path, modality=source, target=ids["sample"]))
        return
    fixed = _fixed(state, spec, ids)
    if item.kind == "dicom-seg":
        for seg in item.segments:
            values = {**fixed, **_segment_values(state.profile, seg)}
            prov = Provenance(item.path, path=f"segment {seg.number}")
            target.segmentations.append(Segmentation(values=values, path=item.path, provenance=prov))
        return
    group = ids.get("group")
    key = (spec.index, group)
    if key not in state.label_values:
        state.label_values[key] = _label_values(state.profile, spec, group, labels.get(group or "", {}))
    per_label = state.label_values[key]
    if not per_label:
        target.segmentations.append(Segmentation(values=fixed, path=item.path, provenance=Provenance(item.path)))
        return
    for where, values in per_label:
        merged = state.merged.get(fixed, where)
        if merged is None:
            merged = state.merged.put(fixed, {**fixed, **values}, where)
        target.segmentations.append(Segmentation(values=merged, path=item.path, provenance=where))


def _label_values(
    profile: Profile, spec: FileSpec, group: str | None, names: dict[str, str]
) -> list[tuple[Provenance, dict[str, Value]]]:
    """Each label of a label-map group, as its provenance (the label's entry in the labels file: what a
    finding on the label's segmentations asks to fix) and its values (label value, segmented structure), in
    label order. Made once per group: every subject's map of the group shares these Values and provenances
    (ENHANCE: 130 labels, not 207,610)."""
    by_name = {f.key: f for f in profile.fields_for("segmentation")}
    out = []
    for number, name in sorted(names.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        prov = Provenance(spec.labels, path=f"$.{group}.{number}" if group else None)  # the entry to fix
        values = {}
        if "label_value" in by_name:
            values[by_name["label_value"].name] = Value(int(number) if number.isdigit() else number, None, prov)
        if "segmented_structure" in by_name:
            values[by_name["segmented_structure"].name] = Value(name, None, prov)
        out.append((prov, values))
    return out


def _fixed(state: _State, spec: FileSpec, ids: dict[str, str]) -> dict[str, Value]:
    """The segmentation values a file spec states (``values:``), formatted with the file's ids; one dict (and
    one Value each) for every file they read the same for."""
    texts = []
    for key, raw in spec.values.items():
        fld = state.profile.field(key)
        if fld.entity == "segmentation":
            texts.append((fld.name, str(raw).format(**ids)))
    known = state.fixed_values.get((spec.index, *texts))
    if known is None:
        prov = Provenance("isaprofile.yaml", path=f"{spec.where}")
        known = state.fixed_values[(spec.index, *texts)] = {name: Value(text, None, prov) for name, text in texts}
    return known


# ---------------------------------------------------------------- sheets


def _apply_rows(state: _State, rows: list[SheetRow]) -> None:
    profile = state.profile
    # a subject's samples and the scans of a sample, looked up rather than searched for each row (ENHANCE: a
    # detail sheet's 1,597 rows against as many samples and twice as many scans); scans in the order they came
    samples_of: dict[str | None, list[str]] = {}
    for sample in state.samples.values():
        samples_of.setdefault(sample.subject, []).append(sample.id)
    came = {key: n for n, key in enumerate(state.by_sample)}
    for row in rows:
        if row.subject is None and row.file is None:
            continue
        scans: list[Scan] = []
        if row.file:
            key = row.file.replace("\\", "/").removeprefix("./").rstrip("/")
            scans = [s for p, s in state.by_path.items() if p == key or p.startswith(key + "/")]
        elif row.spec.entity == "scan" or row.for_entity(profile, "scan"):
            modality = modality_key(profile, row.spec.modality)
            samples = [row.sample] if row.sample else samples_of.get(row.subject, [])
            keys = sorted((k for k in ((smp, modality) for smp in dict.fromkeys(samples)) if k in came),
                          key=lambda k: came[k])  # fmt: skip
            scans = [state.by_sample[k] for k in keys]
        if row.file and any(p == key or p.startswith(key + "/") for p in state.seg_paths):
            continue  # the row describes a segmentation series (e.g. a SEG in NBIA metadata.csv)
        if row.spec.entity == "scan" and not scans:
            what = f"modality {row.spec.modality}" if row.spec.modality else f"file '{row.file}'"
            state.report.add(
                issue(
                    "sheet-row-unmatched",
                    modality=what,
                    target=row.subject or "",
                    file=row.provenance.file,
                    line=row.provenance.line,
                    path=row.provenance.path,
                )
            )
        subject_id = row.subject or (state.samples[scans[0].sample].subject if scans else None)
        if subject_id is None:
            continue
        if row.spec.entity == "subject" or subject_id in state.subjects:
            subject = state.subject(subject_id, row.provenance)
            _put(state, subject, row.for_entity(profile, "subject"), _header_subject(state, subject))
            if row.spec.entity == "subject":
                for name, value in row.extra.items():
                    subject.comments.setdefault(name, value)
        if row.sample and row.sample in state.samples:
            _put(state, state.samples[row.sample], row.for_entity(profile, "sample"), {})
        for scan in scans:
            _put(state, scan, {k: v for k, v in row.for_entity(profile, "scan").items()
                               if profile.field(k).applies_to(scan.modality)},
                 state.headers.get(scan.id, {}))  # fmt: skip


def _header_subject(state: _State, subject: Subject) -> dict[str, Value]:
    """Subject values that came from headers (their provenance is not a sheet cell)."""
    out = {}
    for fld in state.profile.fields_for("subject"):
        value = _buckets(subject).get(fld.isa, {}).get(fld.name)
        if value is not None and value.provenance is not None and value.provenance.line is None:
            out[fld.key] = value
    return out


def _defaults(state: _State) -> None:
    profile = state.profile
    prov = Provenance(profile.source, path="default")
    holders: list[tuple[Subject | Scan, str]] = [*((s, "subject") for s in state.subjects.values()),
                                                 *((s, "scan") for s in state.scans.values())]  # fmt: skip
    for holder, entity in holders:
        modality = holder.modality if isinstance(holder, Scan) else None
        for fld in profile.fields_for(entity, modality):
            if fld.default is not None:
                _place(_buckets(holder), fld, Value(str(fld.default), None, prov))


@dataclass
class Assembled:
    """What the layers after :func:`assemble` need of the harvested files: each file's header-pass result
    (``inspected``, by path) and the paths of every harvested file."""

    inspected: dict[str, Any] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)


def assemble(
    root: Path, config: DatasetConfig, profile: Profile, study: Study, report: Report,
    inspector: Inspector | None = None, progress: ResultWrapper | None = None, workers: int = 1,
    cache: bool = False,
) -> Assembled:  # fmt: skip
    """Add the subjects, samples and scans of ``config``'s sheets and files to ``study``; returns the
    harvested files' paths and ``inspector``'s per-file results."""
    state = _State(profile, report)
    rows = [row for spec in config.sheets for row in read_sheet_rows(root, spec, profile, report)]
    if any(spec.entity == "subject" for spec in config.sheets):
        listed = {r.subject for r in rows if r.spec.entity == "subject" and r.subject}
        state.listed = listed or None  # an unreadable subject sheet lists nobody: do not reject every file
        for row in rows:
            if row.spec.entity == "subject" and row.subject:
                state.subject(row.subject, row.provenance)
    listed_ids = [row.subject for row in rows if row.subject]
    harvested = harvest_config_files(root, config, report, inspector, listed_ids, progress, workers, cache)
    check_tcia(root, [item for item, _spec, _groups in harvested], report)  # only when the lists are there
    labels = {spec.index: _labels(root, spec, report) for spec in config.files if spec.labels}
    out = Assembled()
    segs = []
    # each item is let go once it is in the model: its header values (ENHANCE: dozens for each of 14,377
    # files) are not held while the layers run
    harvested.reverse()
    while harvested:
        item, spec, groups = harvested.pop()
        out.inspected.update(item.inspected)
        out.paths.update(item.paths)
        ids = _link(state, item, spec, groups)
        if ids is None:
            continue
        if item.kind == "dicom-seg" or spec.role == "segmentation":
            segs.append((item, spec, ids))
        else:
            _add_scan(state, item, spec, ids)
    segs.reverse()
    while segs:
        item, spec, ids = segs.pop()
        state.seg_paths.update({item.path, item.folder or item.path})
        state.sample(ids["sample"], ids["subject"], Provenance(item.path))
        _add_segmentations(state, item, spec, ids, labels.get(spec.index, {}))
    _apply_rows(state, rows)
    _defaults(state)
    study.subjects.extend(state.subjects.values())
    study.samples.extend(state.samples.values())
    study.scans.extend(state.scans.values())
    return out
