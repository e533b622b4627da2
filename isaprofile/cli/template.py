"""``isaprofile template PROFILE -o FILE.xlsx``: the data-entry workbook of a profile."""

from __future__ import annotations

from pathlib import Path

import click

from isaprofile.cli._common import fail
from isaprofile.cli._outputs import output_path


@click.command("template")
@click.argument("profile")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .xlsx file to write.")
def command(profile: str, output: str) -> None:
    """Write the xlsx template of PROFILE: one sheet per entity, drop-down lists, units in the headers."""
    from isaprofile.profile.model import ProfileError, load_profile
    from isaprofile.profile.template import write_template

    output = str(output_path(output, "file", [profile] if Path(profile).exists() else []))
    try:
        prof = load_profile(profile)
    except ProfileError as exc:
        fail(str(exc))
    try:
        write_template(prof, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(output)
