"""``isaprofile jsonld DATASET -o OUT``: write the linked-data form of a dataset (RO-Crate, ISA-JSON, ...)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from isaprofile._atomic import write_bytes
from isaprofile.cli._common import EXIT_INVALID, EXIT_USAGE, fail, format_option
from isaprofile.cli._outputs import output_path
from isaprofile.findings.issues import Report
from isaprofile.findings.render import render
from isaprofile.model import Investigation

FLAVOURS = ("ro-crate", "schema-org", "datacite", "zenodo", "isa-json")


@click.command("jsonld")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="JSON file to write.")
@click.option("--flavour", type=click.Choice(FLAVOURS), default="ro-crate", show_default=True,
              help="Which document to write.")  # fmt: skip
@click.option("--profile", default="auto", show_default=True, help="Profile to apply ('auto': the dataset's own).")
@click.option("--allow-invalid", is_flag=True, help="Write even when the dataset or its metadata has errors.")
@format_option
def command(dataset: str, output: str, flavour: str, profile: str, allow_invalid: bool, fmt: str) -> None:
    """Write the RO-Crate metadata (or schema.org, DataCite, Zenodo, ISA-JSON) of DATASET to OUT."""
    from isaprofile.errors import DatasetError
    from isaprofile.linked import datacite as dc
    from isaprofile.linked.isajson import isa_json_bytes
    from isaprofile.linked.jsonld import ro_crate_bytes
    from isaprofile.pipeline import check

    output = str(output_path(output, "file", [dataset]))
    try:  # the same layers as `validate`: what it refuses is not written
        checked = check(dataset, profile)
    except DatasetError as exc:
        fail(str(exc), EXIT_USAGE)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    if report.issues:
        click.echo(render(report.sorted(), fmt), err=True, nl=False)
    if not report.valid and not allow_invalid:
        fail("the dataset is invalid; nothing was written (use --allow-invalid to write anyway)", EXIT_INVALID)
    if prof is None:
        fail("the dataset names no profile (or it cannot be loaded); give one with --profile", EXIT_USAGE)
    build = Report()  # findings of building the document itself (the dataset's are above)
    if flavour == "ro-crate":
        data, build = ro_crate_bytes(inv, prof, root=Path(dataset))
    elif flavour == "isa-json":
        data = isa_json_bytes(inv, prof)
    else:
        makers: dict[str, Callable[[Investigation], dict[str, Any]]] = {
            "schema-org": dc.schema_org, "datacite": dc.datacite, "zenodo": dc.zenodo}  # fmt: skip
        maker = makers[flavour]
        data = dc.as_bytes(maker(inv))
    if build.issues:
        click.echo(render(build.sorted(), fmt), err=True, nl=False)
    try:
        write_bytes(output, data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE)
    click.echo(output)
    sys.exit(0)
