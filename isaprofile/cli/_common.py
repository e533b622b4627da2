"""Pieces every command shares: report output, exit codes, progress bars, user-facing errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

from isaprofile.findings.issues import Report
from isaprofile.findings.render import FORMATS, render

T = TypeVar("T")

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print the findings.",
)  # fmt: skip
strict_option = click.option("--strict", is_flag=True, help="Warnings make the result invalid too.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def emit_report(report: Report, fmt: str, strict: bool, output: str | None = None) -> int:
    """Print (or write) the report and return the exit code: 0 valid, 1 invalid."""
    text = render(report.sorted(), fmt, strict)
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)
    return EXIT_VALID if report.is_valid(strict) else EXIT_INVALID


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Stop with a one-line error on stderr (no traceback) and ``code``."""
    click.echo(f"isaprofile: error: {message}", err=True)
    sys.exit(code)


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    quiet: bool = False,
    unit_scale: bool = False,
) -> Iterator[T]:
    """A tqdm progress bar on stderr, shown only when stderr is a terminal and not ``quiet``."""
    from tqdm import tqdm

    disable = quiet or not sys.stderr.isatty()
    yield from tqdm(items, total=total, desc=desc, unit=unit, unit_scale=unit_scale, disable=disable,
                    leave=False, file=sys.stderr)  # fmt: skip
