"""Open a dataset wherever it is: a dataset folder (``isaprofile.yaml`` + sheets + images) or ISA-Tab.

:func:`load_dataset` returns the typed investigation, the profile it follows and every finding;
:func:`validate` is the same run, keeping only the report.
"""

from __future__ import annotations

from pathlib import Path

from isaprofile.build import investigation_from_tables, read_template
from isaprofile.findings.issues import Report, issue
from isaprofile.findings.rules import apply_profile, check_structure
from isaprofile.harvest.config import find_config, load_config
from isaprofile.model import Investigation
from isaprofile.profile.model import Profile, ProfileError, load_profile


class DatasetError(Exception):
    """The path cannot be read as a dataset at all (the CLI exits 2)."""


def is_isatab(path: Path) -> bool:
    return path.is_dir() and any(path.glob("i_*.txt"))


def load_dataset(
    path: str | Path, profile: str | Profile | None = "auto", *, data_root: str | Path | None = None
) -> tuple[Investigation, Profile | None, Report]:
    """Read the dataset or ISA-Tab folder ``path``.

    ``profile``: ``"auto"`` (the one the config or the ISA-Tab names), a profile name, path or object, or
    ``None``/``"none"`` for structural checks only. ``data_root``: the folder an ISA-Tab's data file paths
    are relative to (default: the ISA-Tab folder). Raises :class:`DatasetError` only when ``path`` is not a
    readable folder; everything else is a finding in the report.
    """
    from isaprofile.isatab.read import read_isatab

    root = Path(path)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (give a dataset folder or an ISA-Tab folder)")
    if find_config(root) is None and is_isatab(root):
        return read_isatab(root, profile, data_root=data_root)
    if find_config(root) is None:
        raise DatasetError(f"{root}: neither a dataset folder (no isaprofile.yaml) nor ISA-Tab (no i_*.txt)")
    config, report = load_config(root)
    if config is None:
        return Investigation("unreadable"), None, report
    prof: Profile | None = None
    if profile in ("none", None):
        prof = None
    else:
        ref = config.profile if profile == "auto" else profile
        try:
            prof = load_profile(ref)
        except ProfileError as exc:
            report.add(issue("profile-unknown", name=str(ref), reason=str(exc), file=config.file, path="$['profile']"))
            return Investigation("unreadable"), None, report
    build_profile = prof or load_profile(config.profile)  # placing columns needs a profile even for "none"
    tables = {}
    if config.template:
        tables, rep = read_template(root / config.template, build_profile, display=config.template)
        report.merge(rep)
    inv, rep = investigation_from_tables(build_profile, tables, config.investigation, config_file=config.file)
    report.merge(rep)
    if config.sheets or config.files:
        from isaprofile.harvest.assemble import assemble

        assemble(root, config, build_profile, inv.studies[0], report)
    if prof is not None:
        report.merge(apply_profile(inv, prof))
    report.merge(check_structure(inv, root))
    return inv, prof, report


def validate(
    path: str | Path,
    profile: str | Profile | None = "auto",
    *,
    linked: bool = True,
    data_root: str | Path | None = None,
) -> Report:
    """Validate a dataset or ISA-Tab folder (see :func:`load_dataset`), and with ``linked`` its linked data.

    The linked-data layer checks the deposit metadata of a dataset folder (licences, creators, ORCID
    checksums, dates) and, once the profile rules pass, validates the RO-Crate generated from the dataset
    against the profile's SHACL shapes — a second, independent reading of the same rules, so it runs only
    on datasets the first one accepts (otherwise every problem would be reported twice).
    """
    root = Path(path)
    inv, prof, report = load_dataset(root, profile, data_root=data_root)
    if not linked or prof is None:
        return report
    from isaprofile.linked.jsonld import build_ro_crate
    from isaprofile.linked.metadata import check_metadata
    from isaprofile.linked.shacl import validate_crate

    config = find_config(root)
    if config is not None:
        report.merge(check_metadata(inv, prof, file=config.name))
    if report.valid:
        crate, _ = build_ro_crate(inv, prof)
        report.merge(validate_crate(crate, prof, file="ro-crate-metadata.json (generated)"))
    return report
