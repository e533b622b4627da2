"""Profile rules over a dataset: types, units, allowed terms, required fields, identifiers, links, files.

The same rules run whatever the dataset came from (sheets, ISA-Tab, JSON-LD): every value carries its
:class:`~isaprofile.model.Provenance`, and findings point there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from isaprofile._shared import ByIdentity
from isaprofile.findings.issues import Report, issue
from isaprofile.model import Investigation, Location, Provenance, Scalar, Term, Value, Values
from isaprofile.profile.coerce import Problem, coerce
from isaprofile.profile.model import Field, Profile


def _loc(prov: Provenance | None) -> Location:
    return prov.location() if prov is not None else Location(file=None, line=None, column=None, path=None)


# what coerce made of a raw value for a field: the typed value (or None), its unit, the problems
_Coerced = tuple[Scalar | None, Term | None, list[Problem]]


_MEMO_MAX = 1 << 16
_SHARED_DICTS = 4096  # segmentation value dicts remembered by apply_profile (see there)
# Value objects remembered by identity: each keeps its Value alive, and most are one record's own (ENHANCE: 90,000
# values held to the end, 12 MiB); the shared ones (a label's, a file spec's) come back at once
_SHARED_VALUES = 4096


class _Memo:
    """What fields made of values, so a dataset's repeated values are coerced once (ENHANCE's 207,610
    segmentations name 130 structures): by raw value, and by Value object for values the model shares
    (the coerced Value is then shared too). Each is cleared when it is full: the values worth keeping are few
    and come back at once."""

    def __init__(self) -> None:
        self.raw: dict[tuple, _Coerced] = {}
        self.shared: ByIdentity[tuple[Value, list[Problem]]] = ByIdentity(_SHARED_VALUES)  # by Value and field


def _coerce_values(values: Values, profile: Profile, entity: str, placements: tuple[str, ...],
                   report: Report, modality: str | None = None, memo: _Memo | None = None) -> Values:  # fmt: skip
    """Coerce each value to its field; values no field claims are kept as they are."""
    memo = memo or _Memo()
    out: Values = {}
    for name, val in values.items():
        field = None
        for p in placements:
            if (field := profile.by_isa(entity, p, name)) is not None:
                break
        if field is None or (modality and not field.applies_to(modality)):
            out[name] = val
            continue
        shared = memo.shared.get(val, id(field))
        if shared is not None:
            new, problems = shared
        else:
            unit = val.unit.label if val.unit is not None else None
            key = (id(field), type(val.value), val.value, unit)
            done = memo.raw.get(key)
            if done is None:
                if len(memo.raw) >= _MEMO_MAX:
                    memo.raw.clear()  # bounded: a column of distinct values (weights, dates) gains nothing
                made, problems = coerce(field, val.value, unit=unit, provenance=val.provenance)
                done = memo.raw[key] = (None, None, problems) if made is None else (made.value, made.unit, problems)
            value, new_unit, problems = done
            # a value that does not fit stays as it was read: it is reported once, not again as missing, and
            # writers still carry it; a value that already is what the field wants is kept as it is
            if value is None or (value == val.value and type(value) is type(val.value) and new_unit == val.unit):
                new = val
            else:
                new = Value(value, new_unit, val.provenance)
            memo.shared.put(val, (new, problems), id(field))
        for code, params in problems:
            report.add(issue(code, value=val.value, allowed=_allowed(field), **_loc(val.provenance), **params))
        out[name] = new
    return out


def _allowed(field: Field, most: int = 8) -> str:
    """The first terms of a field's list, for a message that says what would have been accepted."""
    labels = [t.label for t in field.terms]
    return ", ".join(labels[:most]) + (f", … ({len(labels)} in all)" if len(labels) > most else "")


def _required(fields: Iterable[Field], values: Values, prov: Provenance | None, report: Report) -> None:
    for f in fields:
        if f.isa in ("characteristic", "factor", "parameter", "comment") and f.name not in values:
            if f.level == "required":
                report.add(issue("required-missing", field=f.label, **_loc(prov)))


def apply_profile(inv: Investigation, profile: Profile) -> Report:
    """Coerce every value of ``inv`` to its profile field (in place) and report what does not fit."""
    report = Report()
    memo = _Memo()
    for study in inv.studies:
        study.comments = _coerce_values(study.comments, profile, "study", ("comment",), report, memo=memo)
        for field in profile.fields_for("study"):
            if field.isa == "comment" and field.level == "required" and field.name not in study.comments:
                report.add(issue("required-missing", field=field.label, **_loc(study.provenance)))
        subj_fields = profile.fields_for("subject")
        for subj in study.subjects:
            subj.characteristics = _coerce_values(
                subj.characteristics, profile, "subject", ("characteristic",), report, memo=memo
            )
            subj.comments = _coerce_values(subj.comments, profile, "subject", ("comment",), report, memo=memo)
            _required([f for f in subj_fields if f.isa == "characteristic"], subj.characteristics, subj.provenance,
                      report)  # fmt: skip
            _required([f for f in subj_fields if f.isa == "comment"], subj.comments, subj.provenance, report)
        sample_fields = profile.fields_for("sample")
        for sample in study.samples:
            sample.factors = _coerce_values(sample.factors, profile, "sample", ("factor",), report, memo=memo)
            sample.characteristics = _coerce_values(
                sample.characteristics, profile, "sample", ("characteristic",), report, memo=memo
            )
            sample.comments = _coerce_values(sample.comments, profile, "sample", ("comment",), report, memo=memo)
            for placement, values in (("factor", sample.factors), ("characteristic", sample.characteristics),
                                      ("comment", sample.comments)):  # fmt: skip
                _required([f for f in sample_fields if f.isa == placement], values, sample.provenance, report)
        seg_fields = profile.fields_for("segmentation")
        # a dict of values that segmentations share (a label of every subject's label map) is coerced once: its
        # findings are located at its values' sources (a labels.json entry), so once is all of them
        coerced: ByIdentity[Values] = ByIdentity(_SHARED_DICTS)
        for scan in study.scans:
            if scan.modality not in profile.assays:
                report.add(issue("modality-unknown", modality=scan.modality, profile=profile.id,
                                 **_loc(scan.provenance)))  # fmt: skip
            scan.parameters = _coerce_values(
                scan.parameters, profile, "scan", ("parameter",), report, scan.modality, memo
            )
            scan.comments = _coerce_values(scan.comments, profile, "scan", ("comment",), report, scan.modality, memo)
            fields = profile.fields_for("scan", scan.modality)
            _required([f for f in fields if f.isa == "parameter"], scan.parameters, scan.provenance, report)
            _required([f for f in fields if f.isa == "comment"], scan.comments, scan.provenance, report)
            for seg in scan.segmentations:
                done = coerced.get(seg.values)
                if done is None:
                    done = coerced.put(seg.values, _coerce_values(seg.values, profile, "segmentation",
                                                                  ("parameter",), report, memo=memo))  # fmt: skip
                seg.values = done
                _required(seg_fields, seg.values, seg.provenance, report)
    return report


def check_structure(inv: Investigation, root: Path | None = None) -> Report:
    """Unique identifiers, every sample reaches a subject, every scan a sample, data files exist."""
    report = Report()
    subjects: dict[str, Provenance | None] = {}
    samples: dict[str, Provenance | None] = {}
    scans: dict[str, Provenance | None] = {}
    for study in inv.studies:
        for kind, items, seen in (("subject", study.subjects, subjects), ("sample", study.samples, samples),
                                  ("scan", study.scans, scans)):  # fmt: skip
            for item in items:
                if item.id in seen:
                    first = seen[item.id]
                    where = f"line {first.line}" if first and first.line else "an earlier row"
                    report.add(issue("duplicate-id", entity=kind, first=where, value=item.id, **_loc(item.provenance)))
                else:
                    seen[item.id] = item.provenance
    sampled: set[str] = set()
    found: dict[str, bool] = {}  # each path looked for once: a label map is the file of every label's segmentation

    def exists(path: str) -> bool:
        hit = found.get(path)
        if hit is None:
            hit = found[path] = root is not None and (root / path).exists()
        return hit

    for study in inv.studies:
        for sample in study.samples:
            if sample.subject not in subjects:
                report.add(issue("sample-subject-unknown", entity="subject", target=sample.subject,
                                 **_loc(sample.provenance)))  # fmt: skip
            sampled.add(sample.subject)
        for scan in study.scans:
            if scan.sample not in samples:
                report.add(issue("scan-sample-unknown", target=scan.sample, **_loc(scan.provenance)))
            if root is not None:
                for f in scan.files:
                    if not exists(f.path):
                        report.add(issue("data-file-missing", target=f.path, **_loc(f.provenance or scan.provenance)))
                for seg in scan.segmentations:
                    if seg.path and not exists(seg.path):
                        report.add(issue("data-file-missing", target=seg.path,
                                         **_loc(seg.provenance or scan.provenance)))  # fmt: skip
        for subj in study.subjects:
            if subj.id not in sampled:
                report.add(issue("subject-without-sample", **_loc(subj.provenance)))
    report.stats.update(subjects=len(subjects), samples=len(samples), scans=len(scans))
    return report
