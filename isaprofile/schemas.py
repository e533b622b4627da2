"""Write the published artefacts of ``schemas/``: per profile version the JSON Schema for records.

``python -m isaprofile.schemas schemas``; a test fails when the committed copies are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from isaprofile.profile.jsonschema import write_profile_schema
from isaprofile.profile.model import list_profiles, load_profile


def write_all(schemas_dir: str | Path) -> list[Path]:
    """(Re)write every generated schema under ``schemas_dir``; returns the paths written."""
    return [write_profile_schema(load_profile(f"{n}@{v}"), schemas_dir) for n, v in list_profiles()]


if __name__ == "__main__":
    for p in write_all(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
