"""``isaprofile profiles [NAME]``: list the built-in profiles, or show one profile's fields."""

from __future__ import annotations

import json

import click

from isaprofile.cli._common import fail


@click.command("profiles")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "schema"]), default="table", show_default=True,
              help="table: human listing; json: the fields as JSON; schema: the JSON Schema for records.")  # fmt: skip
def command(name: str | None, fmt: str) -> None:
    """Without NAME, list the built-in profiles; with NAME (or a YAML path), show its fields."""
    from isaprofile.profile.jsonschema import profile_schema
    from isaprofile.profile.model import ProfileError, list_profiles, load_profile

    if name is None:
        for pname, version in list_profiles():
            prof = load_profile(f"{pname}@{version}")
            click.echo(f"{prof.id:32} {len(prof.fields):3} fields  {prof.title}")
        return
    try:
        prof = load_profile(name)
    except ProfileError as exc:
        fail(str(exc))
    if fmt == "schema":
        click.echo(json.dumps(profile_schema(prof), indent=2, ensure_ascii=False))
        return
    if fmt == "json":
        rows = [{"key": f.key, "label": f.label, "entity": f.entity, "isa": f.header, "type": f.type,
                 "level": f.level, "unit": f.unit.label if f.unit else None, "terms": [t.label for t in f.terms],
                 "modalities": list(f.modalities), "group": f.group} for f in prof.fields]  # fmt: skip
        click.echo(json.dumps({"profile": prof.id, "title": prof.title, "fields": rows}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{prof.id} — {prof.title}")
    for group in prof.groups:
        click.echo(f"\n{group}")
        for f in (f for f in prof.fields if f.group == group):
            unit = f" [{f.unit.symbol}]" if f.unit else ""
            terms = f"  ({', '.join(t.label for t in f.terms)})" if f.terms else ""
            click.echo(f"  {f.label + unit:34} {f.level:11} {f.type:8} {f.entity:12} {f.header}{terms}")
