"""``isaprofile harvest PATH...``: show what the image headers say, with where each value came from."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from isaprofile.cli._common import (
    EXIT_INVALID,
    EXIT_USAGE,
    EXIT_VALID,
    cache_option,
    fail,
    progress,
    quiet_option,
    scheduler_option,
    strict_option,
)


def _value_dict(value: Any) -> dict[str, Any]:
    v = value.value
    out: dict[str, Any] = {"value": v.label if hasattr(v, "accession") else v}
    if hasattr(v, "accession"):
        out["term_source"], out["term_accession"] = v.source, v.accession
    if value.unit is not None:
        out["unit"], out["unit_accession"] = value.unit.label, value.unit.accession
    if value.provenance is not None:
        out["file"], out["path"] = value.provenance.file, value.provenance.path
    return out


def _item_dict(item: Any) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "modality": item.modality,
        "folder": item.folder,
        "files": item.paths,
        "sidecar": item.sidecar,
        "subject": item.subject,
        "uid": item.uid,
        "values": {k: _value_dict(v) for k, v in item.values.items()},
        "segments": [
            {"number": s.number, "label": s.label, "values": {k: _value_dict(v) for k, v in s.values.items()}}
            for s in item.segments
        ],
        "references": item.references,
    }


def _text(value: Any) -> str:
    v = value.value
    if hasattr(v, "accession"):
        return f"{v.label} ({v.accession})" if v.accession else v.label
    return value.text()


def _rows(values: dict[str, Any], indent: str) -> list[str]:
    rows = [(k, _text(v), v.unit.label if v.unit else "", str(v.provenance or "")) for k, v in values.items()]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("field", "value", "unit"))]
    head = ("field", "value", "unit", "source")
    lines = []
    for r in [head, *rows]:
        lines.append(indent + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    return lines


def _table(items: list[Any]) -> str:
    out = []
    for item in items:
        files = f"{item.count} file(s)" if item.count > 1 else item.path
        out.append(f"== {item.kind} {item.modality or '?'}: {files} (folder {item.folder})")
        out.extend(_rows(item.values, "  "))
        for seg in item.segments:
            out.append(f"  -- segment {seg.number}: {seg.label}")
            out.extend(_rows(seg.values, "    "))
        out.append("")
    return "\n".join(out)


@click.command("harvest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the harvested values.")  # fmt: skip
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Processes reading files (default: 1; with --scheduler, the cluster's threads).")  # fmt: skip
@cache_option
@quiet_option
@strict_option
@scheduler_option("paths")
def command(paths: tuple[str, ...], fmt: str, workers: int | None, no_cache: bool, quiet: bool, strict: bool) -> None:
    """Read the headers of the DICOM, DICOM SEG and NIfTI (+ JSON sidecar) files under PATH...

    In a dataset folder (one with an isaprofile.yaml), the config, the sheets and workbook it names and
    TCIA's manifest and metadata.csv are left out: they are the dataset's other inputs, not images.
    Prints every harvested value with its unit and source (file and tag / header field / JSON key);
    findings go to stderr. Exit code 0: no errors (warnings allowed unless --strict); 1: findings
    with errors (e.g. truncated files); 2: a PATH does not exist.
    """
    from isaprofile.engine import current_scheduler, default_workers
    from isaprofile.findings.render import render
    from isaprofile.harvest.images import harvest_files

    if workers is None:
        workers = default_workers() if current_scheduler() else 1

    def bar(results: Any, total: int) -> Any:
        return progress(results, total=total, desc="harvest", unit="file", quiet=quiet)

    try:
        items, report = harvest_files(list(paths), workers=workers, progress=bar, cache=not no_cache)
    except FileNotFoundError as exc:
        fail(f"no such file or folder: {exc}", EXIT_USAGE)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    report = report.sorted()
    if fmt == "json":
        _echo_json(items, report.to_dict(strict))
    else:
        click.echo(_table(items), nl=False)
    if report.issues or not quiet:
        click.echo(render(report, "text", strict), nl=False, err=True)
    sys.exit(EXIT_VALID if report.is_valid(strict) else EXIT_INVALID)


def _echo_json(items: list[Any], report: dict[str, Any]) -> None:
    """``{"items": [...], "report": {...}}`` with one item per line, each written as it is made (14,000 NIfTI
    headers are never one document in memory); the report's findings one per line too."""
    from isaprofile._json import pretty_json

    out = sys.stdout
    for n, item in enumerate(items):
        out.write(('{\n  "items": [\n    ' if n == 0 else ",\n    ")
                  + json.dumps(_item_dict(item), ensure_ascii=False, default=str))  # fmt: skip
    out.write(('{\n  "items": []' if not items else "\n  ]") + ',\n  "report": ')
    out.write(pretty_json(report, 1, sort_keys=False, flat=frozenset({"issues"})) + "\n}\n")
    out.flush()
