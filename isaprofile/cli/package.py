"""``isaprofile package DATASET -o OUT``: build the deposit package of a dataset."""

from __future__ import annotations

import sys

import click

from isaprofile.cli._common import (
    EXIT_INVALID,
    EXIT_USAGE,
    bar_class,
    cache_option,
    fail,
    format_option,
    header_bar,
    quiet_option,
    scheduler_option,
)
from isaprofile.cli._outputs import output_path
from isaprofile.findings.render import render


@click.command("package")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Package folder (or .zip with --zip).")
@click.option("--zip", "as_zip", is_flag=True, help="Write one reproducible zip instead of a folder.")
@click.option(
    "--split",
    type=click.Choice(["zenodo", "licence", "zenodo,licence"]),
    default=None,
    help="Split into self-describing parts: within a repository's limits (zenodo: 100 files, 50 GB), one "
    "part (and Zenodo record) per licence (licence), or both (zenodo,licence).",
)
@click.option("--allow-invalid", is_flag=True, help="Package a dataset that fails validation (said in the package).")
@click.option("--profile", default="auto", show_default=True,
              help="Profile to apply ('auto': the one the dataset or ISA-Tab names).")  # fmt: skip
@click.option("--workers", type=int, default=None, help="Hashing processes (default: all cores).")
@cache_option
@format_option
@quiet_option
@scheduler_option("dataset", "output")
def command(dataset: str, output: str, as_zip: bool, split: str | None, allow_invalid: bool, profile: str,
            workers: int | None, no_cache: bool, fmt: str, quiet: bool) -> None:  # fmt: skip
    """Validate DATASET and write a BagIt deposit package with ISA-Tab, RO-Crate and a landing page to OUT."""
    from isaprofile.bagit.errors import PackageError
    from isaprofile.errors import DatasetError
    from isaprofile.package.deposit import package_dataset

    output = str(output_path(output, "zip" if as_zip else "package", [dataset]))
    try:
        if split and as_zip:
            fail("--split and --zip cannot be combined: each part of a split deposit is a folder", EXIT_USAGE)
        result = package_dataset(dataset, output, zip=as_zip, split=split, allow_invalid=allow_invalid,
                                 profile=profile, workers=workers, header_progress=header_bar(quiet),
                                 progress=None if quiet else _bar(), cache=not no_cache)  # fmt: skip
    except DatasetError as exc:
        fail(str(exc), EXIT_USAGE)
    except PackageError as exc:
        fail(str(exc), EXIT_INVALID)
    if result.report.issues:
        click.echo(render(result.report.sorted(), fmt), err=True, nl=False)
    if result.path is None:
        fail("nothing was written: the dataset failed validation or the PHI gate (see `isaprofile validate`)",
             EXIT_INVALID)  # fmt: skip
    click.echo(str(result.path))
    sys.exit(0)


def _bar():
    """A bytes/s progress callback when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    bar = bar_class()(unit="B", unit_scale=True, desc="hashing", leave=False, file=sys.stderr)
    return bar.update
