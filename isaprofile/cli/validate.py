"""``isaprofile validate PATH``: check a dataset folder or an ISA-Tab folder."""

from __future__ import annotations

import sys

import click

from isaprofile.cli._common import (
    EXIT_USAGE,
    cache_option,
    emit_report,
    fail,
    format_option,
    header_bar,
    quiet_option,
    scheduler_option,
    strict_option,
)
from isaprofile.cli._outputs import output_path


@click.command("validate")
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--profile", "profile", default="auto", show_default=True,
              help="Profile name, name@version or YAML file; 'none' for ISA-Tab structure only; "
                   "'auto' uses the one the dataset names.")  # fmt: skip
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
              help="Folder the data file paths of an ISA-Tab are relative to (default: the ISA-Tab folder).",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the report to a file.")
@click.option("--no-linked", is_flag=True, help="Skip the linked-data layer (deposit metadata, SHACL shapes).")
@click.option("--no-phi", is_flag=True, help="Skip the PHI gate over the files a deposit would hold.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per CPU).")
@cache_option
@format_option
@strict_option
@quiet_option
@scheduler_option("path", "data_root")
def command(path: str, profile: str, data_root: str | None, output: str | None, no_linked: bool, no_phi: bool,
            workers: int | None, no_cache: bool, fmt: str, strict: bool, quiet: bool) -> None:  # fmt: skip
    """Validate PATH (a dataset folder with isaprofile.yaml, or an ISA-Tab folder).

    Runs every layer `isaprofile package` runs — structure, cross-checks, profile rules, files, linked
    data and the PHI gate — so a dataset that passes here packages. Exit code 0: valid (warnings
    allowed unless --strict); 1: invalid; 2: PATH cannot be read.
    """
    from isaprofile.dataset import DatasetError, validate
    from isaprofile.profile.model import ProfileError, load_profile

    if output is not None:
        output = str(output_path(output, "file", [path, *([data_root] if data_root else [])]))
    if profile not in ("auto", "none"):
        try:  # a profile the user names must exist: a usage error, not a finding about the data
            load_profile(profile)
        except ProfileError as exc:
            fail(str(exc), EXIT_USAGE)
    try:
        skip = [layer for layer, off in (("linked", no_linked), ("phi", no_phi)) if off]
        report = validate(path, None if profile == "none" else profile, skip=skip, data_root=data_root,
                          workers=workers, progress=header_bar(quiet), cache=not no_cache)  # fmt: skip
    except DatasetError as exc:
        fail(str(exc), EXIT_USAGE)
    sys.exit(emit_report(report, fmt, strict, output))
