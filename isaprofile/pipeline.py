"""One pipeline: every command and public function checks a dataset here, the same way.

``check(source, profile)`` reads the source once — a dataset folder (``isaprofile.yaml`` + sheets +
images), an ISA-Tab folder, or an in-memory :class:`~isaprofile.model.Investigation` — and runs the
named layers over the model, in this order:

============  ==================================================================================
structure     the reader's own findings (ISA-Tab syntax, config schema, sheet cells), unique IDs,
              links between subjects, samples and scans
crosscheck    header values harvested from DICOM / NIfTI / sidecars against the sheets (dataset
              folders; part of building the model, so it cannot be skipped)
profile       the profile's rules: types, units, allowed terms, required fields
files         every data file the metadata names exists, and is complete (harvest integrity checks)
linked        deposit metadata (licences, creators, ORCID check digits, dates) and the SHACL shapes
              over the RO-Crate generated from the dataset
phi           the PHI gate over every file that would enter a deposit
============  ==================================================================================

``validate``, ``isatab``, ``jsonld`` and ``package`` run all of them, so they accept and refuse the
same datasets; ``verify`` runs them on the ISA-Tab a package holds. Only ``files``, ``linked`` and ``phi``
may be skipped (skipping ``files`` skips ``phi`` too, which reads them: ``verify`` resolves the data files
against the package instead); the report's ``stats["layers"]`` says which layers ran.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from isaprofile.engine import default_workers
from isaprofile.errors import DatasetError
from isaprofile.findings.issues import Issue, Report, issue
from isaprofile.findings.rules import apply_profile, check_structure
from isaprofile.harvest.config import DatasetConfig, find_config, load_config
from isaprofile.harvest.sheets import Table, workbooks_read_once
from isaprofile.model import Investigation
from isaprofile.profile.model import Profile, ProfileError, load_profile

if TYPE_CHECKING:
    from isaprofile.harvest.images import ResultWrapper
    from isaprofile.harvest.nifti import Inspect
    from isaprofile.licences import LicenceMap
    from isaprofile.package.phi import FileFindings, PhiPolicy, PhiResult

__all__ = ["LAYERS", "SKIPPABLE", "CheckedDataset", "check", "is_isatab"]

LAYERS = ("structure", "crosscheck", "profile", "files", "linked", "phi")
SKIPPABLE = frozenset({"files", "linked", "phi"})

ProfileRef = str | Path | Profile | None


@dataclass(frozen=True, kw_only=True)
class CheckedDataset:
    """What the pipeline made of a source: the model, the profile applied, and the one report."""

    investigation: Investigation
    profile: Profile | None
    report: Report
    kind: Literal["dataset", "isatab", "records"]
    root: Path | None = None  # the folder data file paths are relative to
    config: DatasetConfig | None = None
    layers: tuple[str, ...] = ()
    payload: Mapping[str, str] = field(default_factory=dict)  # path in the deposit -> the source file's path
    phi: PhiResult | None = None  # the PHI gate's findings and the allow-list exceptions it applied
    licences: LicenceMap | None = None  # the licence of every subject and data file (linked layer)

    @property
    def valid(self) -> bool:
        return self.report.valid


def is_isatab(path: Path) -> bool:
    """A folder holding an ``i_*.txt`` investigation file."""
    return path.is_dir() and any(path.glob("i_*.txt"))


def check(
    source: str | Path | Investigation,
    profile: ProfileRef = "auto",
    *,
    skip: Collection[str] = (),
    data_root: str | Path | None = None,
    workers: int | None = None,
    progress: ResultWrapper | None = None,
    cache: bool = True,
    on_model: Callable[[Investigation], object] | None = None,
) -> CheckedDataset:
    """Read ``source`` and run every layer (see the module docstring) except those in ``skip``.

    ``profile``: ``"auto"`` (the one the config or ISA-Tab names), a built-in name, a YAML path, a
    :class:`Profile`, or ``None``/``"none"`` for the structural layers only. ``data_root``: the folder an
    ISA-Tab's (or an in-memory investigation's) data file paths are relative to. Raises
    :class:`~isaprofile.errors.DatasetError` only when ``source`` is not a readable folder; everything
    else is a finding. ``progress(results, total)`` may wrap the stream of per-file header reads (a bar).
    ``cache``: a dataset folder's header pass reuses the results of files unchanged since an earlier run
    (:mod:`isaprofile.cache`; ``report.stats["cache"]`` counts hits and misses); ``False`` reads every file.
    ``on_model(investigation)`` is called once the model is built, before the later layers run on it: work a
    caller begins then on the pool goes on beside them (the package command's previews).
    """
    unknown = set(skip) - SKIPPABLE
    if unknown:
        raise ValueError(f"cannot skip {', '.join(sorted(unknown))} (only {', '.join(sorted(SKIPPABLE))})")
    if isinstance(source, Investigation):
        root = Path(data_root) if data_root is not None else None
        prof, report = _profile(profile, source.profile)
        return _layers(source, prof, report, "records", root, None, skip, workers, on_model=on_model)
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder (give a dataset folder or an ISA-Tab folder)")
    if find_config(path) is None:
        if not is_isatab(path):
            raise DatasetError(f"{path}: neither a dataset folder (no isaprofile.yaml) nor ISA-Tab (no i_*.txt)")
        from isaprofile.isatab.read import read_isatab

        read = read_isatab(path, str(profile) if isinstance(profile, Path) else profile)
        root = Path(data_root) if data_root is not None else path
        return _layers(read.investigation, read.profile, read.report, "isatab", root, None, skip, workers,
                       on_model=on_model)  # fmt: skip
    with workbooks_read_once():  # a template's sheets and the config's sheets: each workbook parsed once
        return _dataset(path, profile, skip, workers, progress, cache, on_model)


def _profile(ref: ProfileRef, named: str | None, file: str | None = None) -> tuple[Profile | None, Report]:
    """The profile to apply: ``ref``, or with "auto" the one the source names (none: structure only)."""
    report = Report()
    if ref is None or ref == "none":
        return None, report
    if ref == "auto":
        if not named:
            return None, report
        ref = named
    try:
        return load_profile(ref), report
    except ProfileError as exc:
        report.add(issue("profile-unknown", name=str(ref), reason=str(exc), file=file))
        return None, report


def _dataset(
    root: Path, ref: ProfileRef, skip: Collection[str], workers: int | None, progress: ResultWrapper | None,
    cache: bool = True, on_model: Callable[[Investigation], object] | None = None,
) -> CheckedDataset:  # fmt: skip
    from isaprofile.build import investigation_from_tables, read_template

    config, report = load_config(root)
    if config is None:
        return CheckedDataset(investigation=Investigation(identifier="unreadable"), profile=None, report=report,
                              kind="dataset", root=root, layers=("structure",))  # fmt: skip
    try:
        # placing sheet columns needs the dataset's profile even when no rules are applied
        placing = load_profile(_relative(config.profile, root))
    except ProfileError as exc:
        report.add(issue("profile-unknown", name=config.profile, reason=str(exc), file=config.file, path="profile"))
        return CheckedDataset(investigation=Investigation(identifier="unreadable"), profile=None, report=report,
                              kind="dataset", root=root, config=config, layers=("structure",))  # fmt: skip
    prof: Profile | None = placing
    if ref != "auto":
        prof, rep = _profile(ref, None, config.file)
        report.merge(rep)
    tables: dict[str, Table] = {}
    if config.template:
        tables, rep = read_template(root / config.template, placing, display=config.template)
        report.merge(rep)
    inv, rep = investigation_from_tables(placing, tables, config.investigation, config_file=config.file)
    report.merge(rep)
    known: dict[str, FileFindings] = {}
    harvested: set[str] = set()
    if config.sheets or config.files:
        from isaprofile.harvest.assemble import assemble

        # the PHI gate judges each image from the header the harvest reads (one read for both)
        inspector = None if "phi" in skip else functools.partial(_inspector, config=config)
        pool = workers if workers is not None else default_workers()  # the cluster's, inside engine.scheduler()
        done = assemble(root, config, placing, inv.studies[0], report, inspector, progress, pool, cache)
        known, harvested = done.inspected, done.paths
    return _layers(inv, prof, report, "dataset", root, config, skip, workers, known, harvested, on_model)


def _inspector(subjects: frozenset[str], *, config: DatasetConfig) -> Inspect:
    """The harvest's per-header PHI hook, with the policy of the dataset's config and these subject IDs."""
    from isaprofile.package.phi import PhiPolicy, inspect_header

    section = dict(config.raw.get("phi") or {})
    section["pseudonyms"] = [*section.get("pseudonyms", []), *subjects]
    return functools.partial(inspect_header, policy=PhiPolicy.from_config(section))


def _relative(ref: str, base: Path) -> str:
    """A profile file named relative to ``base``; built-in names stay as they are."""
    if ref.endswith((".yaml", ".yml")) and not Path(ref).is_absolute():
        return str(base / ref)
    return ref


def _layers(
    inv: Investigation,
    prof: Profile | None,
    report: Report,
    kind: Literal["dataset", "isatab", "records"],
    root: Path | None,
    config: DatasetConfig | None,
    skip: Collection[str],
    workers: int | None,
    known: Mapping[str, FileFindings] | None = None,
    harvested: Collection[str] = (),
    on_model: Callable[[Investigation], object] | None = None,
) -> CheckedDataset:
    if on_model is not None:
        on_model(inv)
    ran = ["structure"] + (["crosscheck"] if config is not None and (config.sheets or config.files) else [])
    files_root = None if "files" in skip else root  # skipped: no file is looked for, so none is gated either
    licences: LicenceMap | None = None
    licence_report = Report()
    if prof is not None:
        from isaprofile.licences import apply_subject_licences

        # licence rules give subjects their licence before the rules run (a profile may require it)
        licences, licence_report = _licences(inv, prof, config)
        if len(licences.all) > 1:  # a single-licence dataset needs no per-subject licence column
            apply_subject_licences(inv, licences)
        report.merge(apply_profile(inv, prof))
        ran.append("profile")
    report.merge(check_structure(inv, files_root))
    if files_root is not None:
        ran.append("files")
    if prof is not None and "linked" not in skip:
        report.merge(licence_report)  # every data file covered by exactly one declared licence
        report.merge(_linked(inv, prof, config, report.valid, licences))
        ran.append("linked")
    payload: Mapping[str, str] = {}
    phi: PhiResult | None = None
    if files_root is not None:
        # NIfTI files the PHI gate reads are recognised by that read (it refuses what is not NIfTI)
        gated = [] if "phi" in skip else [f for f in _referenced(inv) if f.lower().endswith((".nii", ".nii.gz"))]
        payload, rep = deposit_files(inv, files_root, config, [*harvested, *gated])
        report.merge(rep)
        if "phi" not in skip:
            from isaprofile.package.phi import check_phi

            phi = check_phi(payload, _phi_policy(inv, config), workers=workers, known=known)
            report.merge(phi.report)
            ran.append("phi")
    if config is not None:  # places in isaprofile.yaml are named by YAML paths; JSON files keep JSON paths
        report.issues = [i if (i.file or "").split(" ")[0].endswith(_JSON_FILES) else _yaml_path(i)
                         for i in report.issues]  # fmt: skip
    # a finding made twice says nothing more: one wrong entry of labels.json is the same finding for the map of
    # every subject (ENHANCE: 1,597 times), located where it is fixed
    report.issues = list(dict.fromkeys(report.issues))
    report.stats["layers"] = ran
    return CheckedDataset(investigation=inv, profile=prof, report=report, kind=kind, root=root, config=config,
                          layers=tuple(ran), payload=payload, phi=phi, licences=licences)  # fmt: skip


def _licences(inv: Investigation, prof: Profile, config: DatasetConfig | None) -> tuple[LicenceMap, Report]:
    """Every data file covered by exactly one declared licence (``licence_rules:``, subjects' licences)."""
    from isaprofile.licences import config_licences, resolve_licences

    if config is not None:
        return config_licences(config, inv, prof)
    return resolve_licences(inv, profile=prof, file="i_investigation.txt")


def _linked(
    inv: Investigation, prof: Profile, config: DatasetConfig | None, valid: bool, licences: LicenceMap | None = None
) -> Report:
    """Deposit metadata, then — on a dataset the profile rules accept — SHACL over the generated crate.

    SHACL is a second, independent reading of the profile rules, so on an invalid dataset it would only
    report every problem twice.
    """
    from isaprofile.linked.jsonld import build_ro_crate, crate_entities
    from isaprofile.linked.metadata import check_metadata

    report = Report()
    found = check_metadata(inv, prof, file=config.file if config else None)
    if config is None:
        report.merge(found)
    else:
        report.extend(_config_path(i) for i in found)
    if valid and report.valid:
        from isaprofile.linked.shacl import validate_crate, validate_entities

        where = "ro-crate-metadata.json (generated)"
        entities = crate_entities(inv, prof, licences=licences, shapes_only=True)
        shapes = validate_entities(entities, prof, file=where, shared_links=True)
        if shapes is None:  # not in the layout the direct checks read: pyshacl over the whole document
            crate, _ = build_ro_crate(inv, prof, licences=licences)
            shapes = validate_crate(crate, prof, file=where)
        report.merge(shapes)
    return report


_JSON_FILES = (".json", ".jsonld")
_JSON_STEP = re.compile(r"\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def _yaml_path(found: Issue) -> Issue:
    """``$['investigation']['creators'][0]`` (a JSON Schema path) as ``investigation.creators[0]``."""
    from dataclasses import replace

    if not found.path or not found.path.startswith("$"):
        return found
    out = ""
    for key, index in _JSON_STEP.findall(found.path[1:]):
        out += f"[{index}]" if index else (f".{key}" if out else key)
    return replace(found, path=out or None)


_CONFIG_PATHS = {"contacts": "creators", "comments.publisher": "publisher"}


def _config_path(found: Issue) -> Issue:
    """A deposit-metadata finding located by its YAML path in ``isaprofile.yaml``.

    The metadata checks name model attributes (``contacts[0].orcid``); the user edits
    ``investigation.creators[0].orcid``.
    """
    from dataclasses import replace

    if not found.path or found.path.startswith(("studies[", "$")):
        return found
    path = found.path
    for model, yaml_key in _CONFIG_PATHS.items():
        if path == model or path.startswith((model + "[", model + ".")):
            path = yaml_key + path[len(model) :]
    return replace(found, path=f"investigation.{path}")


def deposit_files(
    inv: Investigation, root: Path, config: DatasetConfig | None, harvested: Collection[str] = ()
) -> tuple[Mapping[str, str], Report]:
    """The files a deposit of the dataset holds, by their dataset-relative path, and the files refused.

    The images, series folders and masks the metadata names, each recognised by content or refused
    (:func:`isaprofile.package.payload.select_payload`: no hidden files, editor leftovers, links out of
    the dataset or unknown files unless the config's ``package: include:`` lists them with a reason);
    and the dataset's sources (the config, its sheets, label maps, TCIA manifests, a user's profile),
    which a deposit needs to be reproduced — unless ``package: sources: false``. ``harvested`` files were
    recognised by the harvest's header pass and are not sniffed again.
    """
    from isaprofile.package.payload import include_entries, select_payload

    section = (config.raw.get("package") if config else None) or {}
    report = Report()
    include, rep = include_entries(section, file=config.file if config else "isaprofile.yaml")
    report.merge(rep)
    referenced = _referenced(inv)
    keep_sources = not (isinstance(section, dict) and section.get("sources") is False)
    sources = dataset_sources(root, config) if keep_sources else []
    files, rep = select_payload(root, referenced + sources, include=include, checked=[*sources, *harvested])
    report.merge(rep)
    return files, report


def _referenced(inv: Investigation) -> list[str]:
    """The dataset-relative paths (files or series folders) the scans and segmentations name, each once, in
    the order first named (a label map is named by each of its labels' segmentations: ENHANCE's 207,610
    segmentations name 11,179 maps, and lists of every name were 7 MiB of its check's peak)."""
    files = (f.path for st in inv.studies for sc in st.scans for f in sc.files)
    masks = (g.path for st in inv.studies for sc in st.scans for g in sc.segmentations if g.path)
    return list(dict.fromkeys(itertools.chain(files, masks)))


def dataset_sources(root: Path, config: DatasetConfig | None) -> list[str]:
    """The dataset-relative files the metadata was read from: config, workbook, sheets, label maps,
    TCIA manifests and a profile file inside the dataset."""
    if config is None:
        return []
    names = [config.file, *([config.template] if config.template else []), *(s.file for s in config.sheets),
             *(f.labels for f in config.files if f.labels), *(p.name for p in sorted(root.glob("*.tcia")))]  # fmt: skip
    prof = _relative(config.profile, root)
    if prof.endswith((".yaml", ".yml")) and Path(prof).resolve().is_relative_to(root.resolve()):
        names.append(Path(prof).resolve().relative_to(root.resolve()).as_posix())
    return sorted({n for n in names if (root / n).is_file()})


def _phi_policy(inv: Investigation, config: DatasetConfig | None) -> PhiPolicy:
    """The config's ``phi:`` section; the dataset's subject IDs are pseudonyms, not identities."""
    from isaprofile.package.phi import PhiPolicy

    section = dict((config.raw.get("phi") if config else None) or {})
    subjects = [s.id for st in inv.studies for s in st.subjects]
    section["pseudonyms"] = [*section.get("pseudonyms", []), *subjects]
    return PhiPolicy.from_config(section)
