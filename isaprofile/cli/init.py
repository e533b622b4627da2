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
@click.option("--creator", "creators", multiple=True, metavar="'LAST, FIRST'",
              help="A creator of the dataset (repeatable); init cannot guess who made it.")  # fmt: skip
@click.option("--licence", "licences", multiple=True, metavar="SPDX", help="A licence of the data (repeatable).")
def command(directory: str, profile: str | None, force: bool, creators: tuple[str, ...],
            licences: tuple[str, ...]) -> None:  # fmt: skip
    """Propose a dataset config for DIRECTORY (sheets, header → field mapping, file globs) and write it."""
    import yaml

    from isaprofile.harvest.propose import propose
    from isaprofile.profile.model import ProfileError

    root = Path(directory)
    target = root / "isaprofile.yaml"
    if target.exists() and not force:
        fail(f"{target} exists; use --force to overwrite it", EXIT_USAGE)
    try:
        proposal = propose(root, profile)
    except ProfileError as exc:
        fail(str(exc), EXIT_USAGE)
    investigation = proposal.config["investigation"]
    investigation["creators"] = [_person(c) for c in creators]
    investigation["licences"] = list(licences)
    for name in proposal.files:
        if (root / name).exists() and not force:
            fail(f"{root / name} exists; use --force to overwrite it", EXIT_USAGE)
    text = "# Proposed by `isaprofile init`: add creators and licences, check the mappings.\n"
    text += "".join(f"# note: {n}\n" for n in proposal.notes)
    text += yaml.safe_dump(proposal.config, sort_keys=False, allow_unicode=True)
    for name, content in proposal.files.items():
        _write(root / name, content)
    _write(target, text)
    for note in proposal.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(str(target))
    sys.exit(0)


def _write(target: Path, text: str) -> None:
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def _person(text: str) -> dict[str, str]:
    """``'Last, First'`` (or ``'First Last'``) as a config creator."""
    if "," in text:
        last, first = (t.strip() for t in text.split(",", 1))
    else:
        *firsts, last = text.split()
        first = " ".join(firsts)
    return {"first_name": first, "last_name": last} if first else {"last_name": last}
