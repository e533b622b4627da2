"""``isaprofile isatab DATASET -o OUT``: write the ISA-Tab of a dataset."""

from __future__ import annotations

import sys

import click

from isaprofile.cli._common import EXIT_INVALID, EXIT_USAGE, fail, format_option
from isaprofile.cli._outputs import output_path
from isaprofile.findings.render import render


@click.command("isatab")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder to write (replaced).")
@click.option("--profile", default="auto", show_default=True, help="Profile to apply ('auto': the dataset's own).")
@click.option("--allow-invalid", is_flag=True, help="Write even when the dataset has errors.")
@format_option
def command(dataset: str, output: str, profile: str, allow_invalid: bool, fmt: str) -> None:
    """Write the ISA-Tab (i_investigation.txt, s_*.txt, a_*.txt) of DATASET into OUT."""
    from isaprofile.errors import DatasetError
    from isaprofile.isatab.write import IsaTabWriteError, write_isatab
    from isaprofile.pipeline import check

    output = str(output_path(output, "isatab", [dataset]))
    try:  # the same layers as `validate`: what it refuses is not written
        checked = check(dataset, None if profile == "none" else profile)
    except DatasetError as exc:
        fail(str(exc), EXIT_USAGE)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    if report.issues:
        click.echo(render(report.sorted(), fmt), err=True, nl=False)
    if not report.valid and not allow_invalid:
        fail("the dataset is invalid; nothing was written (use --allow-invalid to write anyway)", EXIT_INVALID)
    try:
        files = write_isatab(inv, output, prof)
    except (IsaTabWriteError, OSError) as exc:
        fail(f"cannot write ISA-Tab to {output}: {exc}", EXIT_USAGE)
    for f in files:
        click.echo(str(f))
    sys.exit(0)
