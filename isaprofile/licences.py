"""Licences as data: the licence of every subject and data file, resolved from the model and the config.

A dataset declares its licences (``investigation.licences``, SPDX identifiers) and says which one covers
what. Three sources say it, all optional:

* a subject's own ``licence`` field (a characteristic or comment named ``licence``/``license``, e.g. filled
  from a sheet column through a value map) — the form the ENHANCE.PET example has always used;
* ``licence_rules:`` at the top of ``isaprofile.yaml``, a list of rules::

      licence_rules:
        - by: data_source                  # a subject field: profile key, ISA name or alias
          map:
            AutoPET Challenge: CC-BY-NC-4.0
            University Hospital Leipzig (Germany): CC-BY-4.0
        - subjects: ["0001", "0002"]       # subjects by identifier
          licence: CC-BY-4.0
        - glob: "imaging-data/ground-truth/*"   # data files by path (shell-style; * crosses folders)
          licence: CC-BY-4.0
        - default: CC-BY-4.0               # every data file no other rule covers

* without ``licence_rules:``, a dataset declaring exactly one licence: that licence covers every file.

The check (:func:`resolve_licences`) requires every data file to be covered by exactly one licence and
every licence used to be declared; its findings (``licence-file-uncovered``, ``licence-file-ambiguous``,
``licence-undeclared``, ``licence-unused``, ``licence-rule-unmatched``) are located at the config rule, the
sheet cell the subject's value came from, or the data file. Everything here is a pure function of the
:class:`~isaprofile.model.Investigation` and the config document; nothing reads the data files.

For deposits that take one licence per record (Zenodo), :func:`files_by_licence` and :func:`licence_parts`
group the payload by licence (and, within a licence, by the size limits of
:func:`isaprofile.bagit.split.plan_parts`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isaprofile.findings.issues import Report, issue
from isaprofile.linked import _common as c
from isaprofile.model import Investigation, Provenance, Subject, Value

if TYPE_CHECKING:
    from isaprofile.bagit.split import Part
    from isaprofile.harvest.config import DatasetConfig
    from isaprofile.profile.model import Profile

SUBJECT_LICENCE_NAMES = ("licence", "license")
RULES_KEY = "licence_rules"
_RULE_KEYS = {
    "by": {"by", "map"},
    "subjects": {"subjects", "licence"},
    "glob": {"glob", "licence"},
    "default": {"default"},
}


@dataclass(frozen=True, slots=True)
class LicenceRule:
    """One way a licence is assigned: a config rule (one per ``map`` entry) or a subject's own field.

    ``kind`` is ``field`` (subjects whose ``field`` has ``value``), ``subjects``, ``glob``, ``default``,
    ``subject`` (a subject's own licence value) or ``declared`` (the only declared licence, no rules).
    ``where`` is the JSON path of the rule in the config; ``provenance`` the place a subject's own
    value was read.
    """

    kind: str
    licence: str
    where: str = ""
    field: str | None = None
    value: str | None = None
    subjects: frozenset[str] = frozenset()
    globs: tuple[str, ...] = ()
    provenance: Provenance | None = None

    def describe(self) -> str:
        if self.kind == "field":
            return f"rule {self.where} ({self.field} = {self.value!r})"
        if self.kind == "subject":
            return f"the subject's licence value at {self.provenance}" if self.provenance else "a subject's licence"
        if self.kind == "declared":
            return "the only declared licence"
        return f"rule {self.where}"


@dataclass(frozen=True)
class LicenceMap:
    """The resolved licences: data file path → SPDX id, subject id → SPDX id, and the declared ids.

    ``files`` holds the data file paths the investigation names (a DICOM series folder is one entry);
    :meth:`of` resolves a member of such a folder through its parents. Files covered by no licence or by
    more than one are absent (and reported).
    """

    declared: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    subjects: Mapping[str, str] = field(default_factory=dict)

    def of(self, path: str) -> str | None:
        """The licence of a data file, or of a file inside a data folder (its nearest listed parent)."""
        key = path.replace("\\", "/").strip("/")
        while key:
            if key in self.files:
                return self.files[key]
            key = key.rsplit("/", 1)[0] if "/" in key else ""
        return None

    @property
    def used(self) -> tuple[str, ...]:
        """The licences some file or subject has: declared ones first, in declared order, then the others."""
        seen = set(self.files.values()) | set(self.subjects.values())
        return tuple([x for x in self.declared if x in seen] + sorted(seen - set(self.declared)))

    @property
    def all(self) -> tuple[str, ...]:
        """Every licence the dataset names: declared and used (what a root entity or ``rightsList`` lists)."""
        return tuple(dict.fromkeys([*self.declared, *self.used]))

    def files_of(self, licence: str) -> list[str]:
        return sorted(p for p, lic in self.files.items() if lic == licence)

    def subjects_of(self, licence: str) -> list[str]:
        return sorted(s for s, lic in self.subjects.items() if lic == licence)

    def licences_of_subjects(self, ids: Iterable[str]) -> list[str]:
        """The licences of some subjects (e.g. the rows of a table), in the order of :attr:`all`."""
        found = {self.subjects[i] for i in ids if i in self.subjects}
        return [x for x in self.all if x in found]

    def summary(self) -> list[dict[str, Any]]:
        """Per licence: SPDX id, name, IRI and how many subjects and data files it covers (landing pages)."""
        names = c.spdx_licences()
        return [
            {"licence": lic, "name": names.get(lic, lic), "iri": c.spdx_iri(lic),
             "subjects": len(self.subjects_of(lic)), "files": len(self.files_of(lic))}
            for lic in self.all
        ]  # fmt: skip


# --------------------------------------------------------------------------------------------- config


def rules_from_config(raw: Mapping[str, Any] | None, file: str = "isaprofile.yaml") -> tuple[list[LicenceRule], Report]:
    """The ``licence_rules:`` of a config document; malformed entries are ``config-invalid`` findings."""
    report = Report()
    rules: list[LicenceRule] = []
    entries = (raw or {}).get(RULES_KEY)
    if entries is None:
        return rules, report
    base = f"$['{RULES_KEY}']"
    if not isinstance(entries, list):
        report.add(issue("config-invalid", file=file, path=base, reason="must be a list of rules"))
        return rules, report

    def bad(where: str, reason: str) -> None:
        report.add(issue("config-invalid", file=file, path=where, reason=reason))

    def licence(val: Any, where: str) -> str | None:
        if not isinstance(val, str) or not val.strip():
            bad(where, "a licence must be an SPDX identifier such as CC-BY-4.0")
            return None
        return c.spdx_id(val.strip())

    for i, entry in enumerate(entries):
        where = f"{base}[{i}]"
        if not isinstance(entry, dict):
            bad(where, "a rule must be a mapping (by/map, subjects/licence, glob/licence or default)")
            continue
        kinds = [k for k in _RULE_KEYS if k in entry]
        if len(kinds) != 1:
            bad(where, "a rule needs exactly one of 'by', 'subjects', 'glob', 'default'")
            continue
        kind = kinds[0]
        extra = sorted(set(entry) - _RULE_KEYS[kind])
        missing = sorted(_RULE_KEYS[kind] - set(entry))
        if extra or missing:
            bad(where, "; ".join(filter(None, [
                f"unexpected key(s) {', '.join(map(repr, extra))}" if extra else "",
                f"missing key(s) {', '.join(map(repr, missing))}" if missing else "",
            ])))  # fmt: skip
            continue
        if kind == "by":
            by, mapping = entry["by"], entry["map"]
            if not isinstance(by, str) or not by.strip():
                bad(f"{where}['by']", "'by' names a subject field (profile key, ISA name or alias)")
                continue
            if not isinstance(mapping, dict) or not mapping:
                bad(f"{where}['map']", "'map' maps field values to licences")
                continue
            for value, lic in mapping.items():
                w = f"{where}['map'][{_quote(str(value))}]"
                lid = licence(lic, w)
                if lid is not None:
                    rules.append(LicenceRule("field", lid, w, field=by.strip(), value=_text(value)))
        elif kind == "subjects":
            ids = entry["subjects"]
            ids = [ids] if isinstance(ids, str | int) else ids
            if not isinstance(ids, list) or not ids:
                bad(f"{where}['subjects']", "'subjects' lists subject identifiers")
                continue
            lid = licence(entry["licence"], f"{where}['licence']")
            if lid is not None:
                rules.append(LicenceRule("subjects", lid, where, subjects=frozenset(_text(x) for x in ids)))
        elif kind == "glob":
            globs = entry["glob"]
            globs = [globs] if isinstance(globs, str) else globs
            if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
                bad(f"{where}['glob']", "'glob' is a path pattern or a list of them")
                continue
            lid = licence(entry["licence"], f"{where}['licence']")
            if lid is not None:
                rules.append(LicenceRule("glob", lid, where, globs=tuple(g.strip("/") for g in globs)))
        else:
            lid = licence(entry["default"], f"{where}['default']")
            if lid is not None:
                rules.append(LicenceRule("default", lid, f"{where}['default']"))
    if sum(r.kind == "default" for r in rules) > 1:
        bad(base, "at most one 'default' rule")
    return rules, report


def _quote(key: str) -> str:
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


# --------------------------------------------------------------------------------------------- model


def data_files(inv: Investigation) -> dict[str, set[str]]:
    """Every data file path the investigation names (images, series folders, masks) → its subjects."""
    out: dict[str, set[str]] = {}
    for study in inv.studies:
        owner = {s.id: s.subject for s in study.samples}
        for scan in study.scans:
            subject = owner.get(scan.sample)
            paths = [f.path for f in scan.files] + [g.path for g in scan.segmentations if g.path]
            for p in paths:
                owners = out.setdefault(_posix(p), set())
                if subject is not None:
                    owners.add(subject)
    return out


def _subjects(inv: Investigation) -> dict[str, Subject]:
    return {s.id: s for st in inv.studies for s in st.subjects}


def _field_names(name: str, profile: Profile | None) -> set[str]:
    """The names a subject value of field ``name`` may be stored under (the model keys values by ISA name)."""
    low = name.strip().lower()
    names = {low}
    if profile is not None:
        for f in profile.fields:
            if f.entity == "subject" and low in {f.key.lower(), f.name.lower(), *(a.lower() for a in f.aliases)}:
                names.add(f.name.lower())
    return names


def _subject_value(subject: Subject, names: set[str]) -> Value | None:
    for values in (subject.characteristics, subject.comments):
        for key, val in values.items():
            if key.strip().lower() in names:
                return val
    return None


def resolve_licences(
    inv: Investigation,
    rules: Sequence[LicenceRule] = (),
    *,
    profile: Profile | None = None,
    file: str = "isaprofile.yaml",
    has_rules: bool | None = None,
) -> tuple[LicenceMap, Report]:
    """The licence of every subject and data file of ``inv``, and the findings of the coverage check.

    ``rules`` come from :func:`rules_from_config`; ``has_rules`` says whether the config has a
    ``licence_rules:`` section at all (default: whether ``rules`` is non-empty) — without one, a single
    declared licence covers every file no subject value covers. ``file`` names the config in findings.
    """
    report = Report()
    declared = tuple(dict.fromkeys(c.spdx_id(x) for x in inv.licences))
    has_rules = bool(rules) if has_rules is None else has_rules
    subjects = _subjects(inv)
    files = data_files(inv)
    known = c.spdx_licences()
    used_rules: set[int] = set()

    # subject-level candidates: (licence, rule index) per subject
    own_rules: list[LicenceRule] = []
    by_subject: dict[str, list[int]] = {sid: [] for sid in subjects}
    all_rules: list[LicenceRule] = list(rules)
    for sid, subj in subjects.items():
        val = _subject_value(subj, set(SUBJECT_LICENCE_NAMES) | _field_names("licence", profile))
        if val is not None and val.text().strip():
            rule = LicenceRule("subject", c.spdx_id(val.text().strip()), provenance=val.provenance)
            all_rules.append(rule)
            own_rules.append(rule)
            by_subject[sid].append(len(all_rules) - 1)
    field_names: dict[str, set[str]] = {}
    for n, rule in enumerate(rules):
        if rule.kind == "field":
            names = field_names.setdefault(rule.field or "", _field_names(rule.field or "", profile))
            for sid, subj in subjects.items():
                val = _subject_value(subj, names)
                if val is not None and val.text().strip() == rule.value:
                    by_subject[sid].append(n)
        elif rule.kind == "subjects":
            for sid in sorted(rule.subjects & set(subjects)):
                by_subject[sid].append(n)
    default = next((n for n, r in enumerate(rules) if r.kind == "default"), None)
    if default is None and not has_rules and len(declared) == 1:
        all_rules.append(LicenceRule("declared", declared[0], "$['investigation']['licences'][0]"))
        default = len(all_rules) - 1
    globs = [(n, r) for n, r in enumerate(rules) if r.kind == "glob"]

    # files
    out_files: dict[str, str] = {}
    uncovered: dict[str, set[str]] = {}
    for path in sorted(files):
        cands: list[int] = [n for sid in sorted(files[path]) for n in by_subject.get(sid, [])]
        cands += [n for n, r in globs if any(fnmatch.fnmatchcase(path, g) for g in r.globs)]
        if not cands and default is not None:
            cands = [default]
        used_rules.update(cands)
        lics = list(dict.fromkeys(all_rules[n].licence for n in cands))
        if len(lics) == 1:
            out_files[path] = lics[0]
        elif not lics:
            uncovered[path] = files[path]
        else:
            by = "; ".join(f"{all_rules[n].licence} by {all_rules[n].describe()}" for n in dict.fromkeys(cands))
            report.add(issue("licence-file-ambiguous", file=path, path=path, licences=", ".join(lics), rules=by))
    for path, owners in uncovered.items():
        report.add(issue("licence-file-uncovered", file=path, path=path, subject=", ".join(sorted(owners)) or "none"))

    # subjects: their own licence (one candidate licence), else the default
    out_subjects: dict[str, str] = {}
    for sid, cands in by_subject.items():
        lics = list(dict.fromkeys(all_rules[n].licence for n in cands))
        if len(lics) == 1:
            out_subjects[sid] = lics[0]
            used_rules.update(cands)
        elif not lics and default is not None:
            out_subjects[sid] = all_rules[default].licence

    # licences used by a rule or a subject value: known SPDX ids, and declared
    for n, rule in enumerate(rules):
        if rule.licence not in known:
            report.add(issue("licence-unknown", file=file, path=rule.where, licence=rule.licence))
        elif rule.licence not in declared:
            report.add(issue("licence-undeclared", file=file, path=rule.where, licence=rule.licence,
                             by=rule.describe(), declared=", ".join(declared) or "none"))  # fmt: skip
        if n not in used_rules and rule.kind != "default":
            report.add(issue("licence-rule-unmatched", file=file, path=rule.where, rule=rule.describe()))
    first: dict[str, tuple[LicenceRule, int]] = {}
    for rule in own_rules:
        seen, count = first.get(rule.licence, (rule, 0))
        first[rule.licence] = (seen, count + 1)
    for lic, (rule, count) in first.items():
        loc = rule.provenance.location() if rule.provenance else {"file": file, "path": None}
        how_many = "1 subject" if count == 1 else f"{count} subjects"
        if lic not in known:
            report.add(issue("licence-unknown", **loc, licence=lic))
        elif lic not in declared:
            report.add(issue("licence-undeclared", **loc, licence=lic, by=f"the licence value of {how_many}",
                             declared=", ".join(declared) or "none"))  # fmt: skip
    if files:
        used = set(out_files.values())
        for i, lic in enumerate(declared):
            if lic not in used:
                report.add(issue("licence-unused", file=file, path=f"$['investigation']['licences'][{i}]", licence=lic))
    lmap = LicenceMap(declared, out_files, out_subjects)
    report.stats.update(licences=len(lmap.used), licensed_files=len(out_files))
    return lmap, report


def licence_map(inv: Investigation, profile: Profile | None = None) -> LicenceMap:
    """The licences the model alone gives (subjects' own licence values, a single declared licence)."""
    return resolve_licences(inv, profile=profile)[0]


def dataset_licences(root: str | Path, inv: Investigation, profile: Profile | None = None) -> tuple[LicenceMap, Report]:
    """:func:`resolve_licences` with the ``licence_rules:`` of the config at ``root`` (if there is one)."""
    from isaprofile.harvest.config import find_config, load_config

    path = find_config(Path(root))
    if path is None:
        return resolve_licences(inv, profile=profile)
    config, report = load_config(Path(root))
    if config is None:  # the config's own findings are the loader's; resolve from the model alone
        return resolve_licences(inv, profile=profile)
    return config_licences(config, inv, profile)


def config_licences(
    config: DatasetConfig, inv: Investigation, profile: Profile | None = None
) -> tuple[LicenceMap, Report]:
    """:func:`resolve_licences` with the rules of an already loaded config (what a pipeline holds)."""
    rules, report = rules_from_config(config.raw, config.file)
    lmap, rep = resolve_licences(inv, rules, profile=profile, file=config.file, has_rules=RULES_KEY in config.raw)
    return lmap, report.merge(rep)


def apply_subject_licences(inv: Investigation, lmap: LicenceMap, name: str = "licence") -> int:
    """Record each subject's resolved licence as its ``licence`` comment where it has no licence value yet.

    Rules of ``licence_rules:`` then reach the ISA-Tab (``Comment[licence]``), ISA-JSON and a profile that
    requires the field. Returns how many subjects were given one.
    """
    added = 0
    for st in inv.studies:
        for subj in st.subjects:
            lic = lmap.subjects.get(subj.id)
            if lic is not None and _subject_value(subj, set(SUBJECT_LICENCE_NAMES) | {name.lower()}) is None:
                subj.comments[name] = Value(lic)
                added += 1
    return added


# --------------------------------------------------------------------------------------------- deposits

ONE_LICENCE_TARGETS = frozenset({"zenodo"})


def check_deposit_licences(
    lmap: LicenceMap, target: str = "zenodo", *, split_by_licence: bool = False, severity: str | None = None
) -> Report:
    """``licence-split-required`` when ``target`` takes one licence per record, the deposit's files carry
    more than one licence and the deposit is not split by licence (``--split licence``).

    The finding is an error (a refusal); ``severity="warning"`` lowers it, e.g. for a plain bag that is not
    meant for Zenodo but still carries Zenodo metadata."""
    report = Report()
    used = lmap.used
    if target in ONE_LICENCE_TARGETS and len(used) > 1 and not split_by_licence:
        report.add(issue("licence-split-required", path="--split", count=len(used), licences=", ".join(used),
                         target=target.capitalize(), severity=severity))  # fmt: skip
    return report


# --------------------------------------------------------------------------------------------- tables


class RowLicences:
    """The licences of the rows of ISA tables, gathered as the rows go past (:meth:`table`), so that one
    pass over a table serves this and whatever else reads it (the data package's field types).

    A row belongs to the subject its ``Source Name`` names, or whose sample its ``Sample Name`` names.
    A table whose rows name no known subject gets every licence of the dataset.
    """

    def __init__(self, inv: Investigation, lmap: LicenceMap) -> None:
        self.lmap = lmap
        self.sample_subject = {s.id: s.subject for st in inv.studies for s in st.samples}

    def table(self, header: list[str]) -> TableLicences:
        """What takes the rows of a table with ``header``, a chunk at a time (:meth:`TableLicences.add`)."""
        return TableLicences(self, header)


class TableLicences:
    """The subjects one table's rows name, gathered a chunk of rows at a time (:meth:`RowLicences.table`)."""

    def __init__(self, owner: RowLicences, header: list[str]) -> None:
        self.owner = owner
        self.src = [i for i, h in enumerate(header) if h == "Source Name"]
        self.smp = [i for i, h in enumerate(header) if h == "Sample Name"]
        self.ids: set[str] = set()

    def add(self, columns: Sequence[Sequence[str]]) -> None:
        """Take a chunk of rows, as its columns (each as long as the header)."""
        for i in self.src:
            self.ids.update(columns[i])
        get = self.owner.sample_subject.get
        for i in self.smp:
            self.ids.update(filter(None, map(get, set(columns[i]))))

    def licences(self) -> list[str]:
        """The licences of the rows taken so far, in the order of :attr:`LicenceMap.all`."""
        lmap = self.owner.lmap
        return lmap.licences_of_subjects(self.ids) or list(lmap.all)


# --------------------------------------------------------------------------------------------- splits


def files_by_licence(paths: Iterable[str], lmap: LicenceMap) -> tuple[dict[str, list[str]], Report]:
    """Payload paths (files, members of series folders) grouped by licence, in :attr:`LicenceMap.all` order.

    A path whose licence is unknown is a ``licence-file-uncovered`` finding and goes into no group.
    """
    report = Report()
    groups: dict[str, list[str]] = {lic: [] for lic in lmap.all}
    for p in sorted(paths):
        lic = lmap.of(p)
        if lic is None:
            report.add(issue("licence-file-uncovered", file=p, path=p, subject="unknown"))
        else:
            groups.setdefault(lic, []).append(p)
    return {k: v for k, v in groups.items() if v}, report


@dataclass
class LicencePart:
    """One part of a licence split: the licence and the :class:`~isaprofile.bagit.split.Part` it holds."""

    licence: str
    part: Part


def licence_parts(
    sizes: Mapping[str, int],
    lmap: LicenceMap,
    *,
    max_files: int | None = None,
    max_bytes: float | None = None,
    reserved_files: int = 0,
) -> tuple[list[LicencePart], Report]:
    """Split the payload (path → size) by licence; with limits, each licence's files by size too.

    Every part holds files of one licence only. Parts are numbered ``part-001`` … across licences, in
    :attr:`LicenceMap.all` order. Without ``max_files``/``max_bytes`` each licence is one part.
    """
    from isaprofile.bagit.split import Part, plan_parts

    groups, report = files_by_licence(sizes, lmap)
    out: list[LicencePart] = []
    for lic, paths in groups.items():
        if max_files is None and max_bytes is None:
            parts = [Part("", files=list(paths), size=sum(sizes[p] for p in paths))]
        else:
            plan = plan_parts(
                {p: sizes[p] for p in paths},
                max_files=max_files if max_files is not None else 10**9,
                max_bytes=max_bytes if max_bytes is not None else float("inf"),
                reserved_files=reserved_files,
            )
            report.merge(plan.report)
            parts = plan.parts
        for part in parts:
            part.name = f"part-{len(out) + 1:03d}"
            out.append(LicencePart(lic, part))
    return out, report


def _posix(path: str) -> str:
    return path.replace("\\", "/").strip("/")
