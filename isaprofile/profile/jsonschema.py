"""The JSON Schema for records of a profile: one object schema per entity, keyed by field key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from isaprofile.profile.model import ENTITIES, Field, Profile

_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def field_schema(f: Field) -> dict[str, Any]:
    s: dict[str, Any] = {"title": f.label}
    if f.description:
        s["description"] = f.description
    if f.type == "term":
        s["type"] = "string"
        if not f.open:
            s["enum"] = [t.label for t in f.terms]
        elif f.terms:
            s["examples"] = [t.label for t in f.terms]
    elif f.type == "date":
        s.update(type="string", format="date")
    else:
        s["type"] = _TYPES[f.type]
    if f.minimum is not None:
        s["minimum"] = f.minimum
    if f.maximum is not None:
        s["maximum"] = f.maximum
    if f.unit:
        s["x-unit"] = {"label": f.unit.label, "symbol": f.unit.symbol, "accession": f.unit.accession}
    s["x-isa"] = f.header
    s["x-level"] = f.level
    return s


def profile_schema(profile: Profile) -> dict[str, Any]:
    """A JSON Schema (2020-12) whose ``$defs`` has one record schema per entity of the profile."""
    defs = {}
    for entity in ENTITIES:
        fields = profile.fields_for(entity)
        if not fields:
            continue
        defs[entity] = {
            "type": "object",
            "properties": {f.key: field_schema(f) for f in fields},
            "required": [f.key for f in fields if f.required],
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://isaprofile.org/schemas/{profile.name}/{profile.version}/records.schema.json",
        "title": f"Records of the {profile.title} profile ({profile.id})",
        "type": "object",
        "properties": {entity: {"type": "array", "items": {"$ref": f"#/$defs/{entity}"}} for entity in defs},
        "$defs": defs,
    }


def write_profile_schema(profile: Profile, schemas_dir: str | Path) -> Path:
    """Write ``schemas/<name>/<version>/records.schema.json``; returns its path."""
    out = Path(schemas_dir) / profile.name / profile.version / "records.schema.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profile_schema(profile), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
