"""``isaprofile init DIR``: look at a folder and write a proposed ``isaprofile.yaml``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from isaprofile.cli._common import EXIT_USAGE, fail


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--profile", default=None, help="Profile name or YAML (default: guessed from the files).")
@click.option("--force", is_flag=True, help="Overwrite an existing isaprofile.yaml.")
def command(directory: str, profile: str | None, force: bool) -> None:
    """Propose a dataset config for DIRECTORY (sheets, header → field mapping, file globs) and write it."""
    import yaml

    from isaprofile.harvest.propose import propose_config
    from isaprofile.profile.model import ProfileError

    root = Path(directory)
    target = root / "isaprofile.yaml"
    if target.exists() and not force:
        fail(f"{target} exists; use --force to overwrite it", EXIT_USAGE)
    try:
        doc = propose_config(root, profile)
    except ProfileError as exc:
        fail(str(exc), EXIT_USAGE)
    text = "# Proposed by `isaprofile init`: add creators and licences, check the mappings.\n"
    text += yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    click.echo(str(target))
    sys.exit(0)
