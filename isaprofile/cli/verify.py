"""``isaprofile verify PACKAGE``: full fixity and structure check of a deposit package."""

from __future__ import annotations

import click

from isaprofile.cli._common import EXIT_USAGE, emit_report, format_option, quiet_option, scheduler_option, strict_option


@click.command(name="verify")
@click.argument("package", type=click.Path(exists=False, dir_okay=True, file_okay=True))
@format_option
@strict_option
@quiet_option
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per CPU).")
@scheduler_option("package")
def command(package: str, fmt: str, strict: bool, quiet: bool, workers: int | None) -> None:
    """Verify PACKAGE (a bag folder, a zipped bag or a split deposit): recompute every checksum,
    check completeness, unexpected files, Payload-Oxum, and the ISA-Tab (structure and profile) and
    RO-Crate metadata inside.

    Exit code 0 valid, 1 invalid, 2 when the package cannot be read.
    """
    import sys

    from tqdm import tqdm

    from isaprofile.package.deposit import verify_package

    bar = tqdm(total=None, unit="B", unit_scale=True, desc="verify", leave=False, file=sys.stderr,
               disable=quiet or not sys.stderr.isatty())  # fmt: skip
    with bar:
        report = verify_package(package, workers=workers, progress=bar.update)
    code = emit_report(report, fmt, strict)
    if "package-unreadable" in report.codes():
        code = EXIT_USAGE
    sys.exit(code)
