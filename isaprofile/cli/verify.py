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
@click.option("--recheck", is_flag=True, help="Check the ISA-Tab and RO-Crate again even when they are the bytes "
              "isaprofile checked when it built the package.")  # fmt: skip
@scheduler_option("package")
def command(package: str, fmt: str, strict: bool, quiet: bool, workers: int | None, recheck: bool) -> None:
    """Verify PACKAGE (a bag folder, a zipped bag or a split deposit): recompute every checksum,
    check completeness, unexpected files, Payload-Oxum, and the ISA-Tab (structure and profile) and
    RO-Crate metadata inside (skipped, with a note, when they are unchanged since isaprofile built and
    checked them; --recheck runs them anyway).

    Exit code 0 valid, 1 invalid, 2 when the package cannot be read.
    """
    import sys

    from isaprofile.package.metadata_checks import verify_package  # light: no image readers

    if quiet or not sys.stderr.isatty():  # no bar: tqdm is not even imported
        report = verify_package(package, workers=workers, recheck=recheck)
    else:
        from tqdm import tqdm

        with tqdm(total=None, unit="B", unit_scale=True, desc="verify", leave=False, file=sys.stderr) as bar:
            report = verify_package(package, workers=workers, progress=bar.update, recheck=recheck)
    code = emit_report(report, fmt, strict)
    if "package-unreadable" in report.codes():
        code = EXIT_USAGE
    sys.exit(code)
