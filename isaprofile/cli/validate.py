"""``isaprofile validate PATH``: check a dataset folder or an ISA-Tab folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from isaprofile.cli._common import EXIT_USAGE, emit_report, fail, format_option, strict_option


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
@format_option
@strict_option
def command(path: str, profile: str, data_root: str | None, output: str | None, fmt: str, strict: bool) -> None:
    """Validate PATH (a dataset folder with isaprofile.yaml, or an ISA-Tab folder).

    Exit code 0: valid (warnings allowed unless --strict); 1: invalid; 2: PATH cannot be read.
    """
    from isaprofile.dataset import DatasetError, is_isatab, load_dataset
    from isaprofile.isatab.read import read_isatab

    try:
        if data_root is not None and is_isatab(Path(path)):
            _inv, _prof, report = read_isatab(path, None if profile == "none" else profile, data_root=data_root)
        else:
            _inv, _prof, report = load_dataset(path, None if profile == "none" else profile)
    except DatasetError as exc:
        fail(str(exc), EXIT_USAGE)
    sys.exit(emit_report(report, fmt, strict, output))
