"""Pieces every command shares: report output, exit codes, progress bars, user-facing errors."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from isaprofile.findings.issues import Report
from isaprofile.findings.render import FORMATS, in_github_actions, render

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print the findings (github: workflow-command annotations; html: a self-contained page).",
)  # fmt: skip
strict_option = click.option("--strict", is_flag=True, help="Warnings make the result invalid too.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def _nearest_existing(path: str) -> str:
    """``path``, or its closest ancestor that exists (an output folder not made yet)."""
    here = Path(path).absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    return str(here)


def scheduler_option(*path_params: str) -> Callable[[F], F]:
    """``--scheduler ADDRESS`` (default: ``$ISAPROFILE_SCHEDULER``): run the command's per-file work on a
    Dask cluster (:func:`isaprofile.engine.scheduler`). The values of the command's ``path_params`` (its
    input, its output folder) must be visible to every worker; an unusable scheduler exits 2 with one line.
    """

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, scheduler: str | None, **kwargs: Any) -> Any:
            if not scheduler:
                return command(*args, **kwargs)
            from isaprofile.engine import scheduler as use_scheduler
            from isaprofile.errors import SchedulerError

            values = [kwargs.get(name) for name in path_params]
            flat = [v for value in values for v in (value if isinstance(value, tuple | list) else [value]) if v]
            paths = [_nearest_existing(os.fspath(v)) for v in flat]
            try:
                with use_scheduler(scheduler, paths=paths):
                    return command(*args, **kwargs)
            except SchedulerError as exc:
                fail(str(exc), EXIT_USAGE)

        option = click.option(
            "--scheduler", metavar="ADDRESS", envvar="ISAPROFILE_SCHEDULER", default=None,
            help="Run the per-file work on this Dask scheduler (tcp://host:8786; needs isaprofile[dask]; "
                 "the workers must see the same paths). Default: $ISAPROFILE_SCHEDULER, else local processes.",
        )  # fmt: skip
        return option(run)  # type: ignore[return-value]

    return decorate


# Commands whose findings are a report of their own: the argument the findings' files are relative to,
# and the option naming the report file (None: stdout). Only these get a report when they fail (exit 2).
REPORT_COMMANDS: dict[str, tuple[str, str | None]] = {"validate": ("path", "output"), "verify": ("package", None)}


def _command_context() -> tuple[str | None, str | None, str | None]:
    """(format, report file, source) of the running command when it is one of :data:`REPORT_COMMANDS`."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command.name not in REPORT_COMMANDS:
        return None, None, None
    src_param, out_param = REPORT_COMMANDS[ctx.command.name]
    out = ctx.params.get(out_param) if out_param else None
    return ctx.params.get("fmt"), out, ctx.params.get(src_param)


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


def _annotate(report: Report, fmt: str, source: str | Path | None, failure: str | None = None) -> None:
    """Inside GitHub Actions, also print the findings as workflow-command annotations on stderr."""
    if fmt != "github" and in_github_actions():
        click.echo(render(report, "github", source=source, failure=failure), err=True, nl=False)


def emit_report(
    report: Report, fmt: str, strict: bool, output: str | None = None, *, source: str | Path | None = None
) -> int:
    """Print (or write) the report and return the exit code: 0 valid, 1 invalid.

    ``source`` is the checked dataset or ISA-Tab path (SARIF, GitHub and HTML name files relative to the
    repository that holds it); by default the running command's argument. Inside GitHub Actions
    (``GITHUB_ACTIONS=true``) the findings are also printed as annotations on stderr.
    """
    if source is None:
        source = _command_context()[2]
    ordered = report.sorted()
    _write(render(ordered, fmt, strict, source=source), output)
    _annotate(ordered, fmt, source)
    return EXIT_VALID if report.is_valid(strict) else EXIT_INVALID


def emit_failure(message: str, fmt: str, output: str | None = None, *, source: str | Path | None = None) -> None:
    """The report of a run that could not read its input: SARIF with an error notification, JSON with
    ``"error"``, and so on, so that a CI step that uploads the report still finds a valid file."""
    _write(render(Report(), fmt, source=source, failure=message), output)
    _annotate(Report(), fmt, source, failure=message)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Stop with a one-line error on stderr (no traceback) and ``code``.

    When the running command writes a report (``validate``, ``verify``) in a machine format, the report
    is written too, saying why nothing could be checked (see :func:`emit_failure`).
    """
    click.echo(f"isaprofile: error: {message}", err=True)
    fmt, output, source = _command_context()
    if fmt == "text":  # the error line above is the text report; inside GitHub Actions also an annotation
        _annotate(Report(), fmt, source, failure=message)
    elif fmt is not None:
        try:
            emit_failure(message, fmt, output, source=source)
        except OSError as exc:  # the report file itself cannot be written: say so, keep the exit code
            click.echo(f"isaprofile: error: cannot write the report {output}: {exc.strerror}", err=True)
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
    if quiet or not sys.stderr.isatty():  # no bar: tqdm is not even imported
        yield from items
        return
    yield from bar_class()(items, total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=False,
                           file=sys.stderr)  # fmt: skip


def bar_class() -> Any:
    """tqdm, without its monitor thread: a package's metadata is written by a forked process only while this
    process runs no other thread (bagit.build.Separate), and the bars are refreshed by their updates anyway."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return tqdm


def header_bar(quiet: bool = False) -> Callable[[Iterable[Any], int], Iterable[Any]]:
    """The pipeline's ``progress`` wrapper: a bar over the header pass (one tick per file read)."""

    def wrap(results: Iterable[Any], total: int) -> Iterable[Any]:
        return progress(results, total=total, desc="reading headers", unit="file", quiet=quiet)

    return wrap


cache_option = click.option(
    "--no-cache", "no_cache", is_flag=True,
    help="Read every image header again instead of reusing the header cache of earlier runs.",
)  # fmt: skip
