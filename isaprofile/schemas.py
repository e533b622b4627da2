"""Write the published artefacts of ``schemas/`` for every built-in profile version.

- ``records.schema.json``: the JSON Schema for records;
- ``shapes.ttl``: the SHACL shapes for the linked data;
- ``isaconfig/``: the isatools configuration for the imaging assays (also shipped inside the package).

``python -m isaprofile.schemas [REPO_ROOT]``; tests fail when the committed copies are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from isaprofile.profile.jsonschema import write_profile_schema
from isaprofile.profile.model import list_profiles, load_profile


def write_all(repo_root: str | Path = ".") -> list[Path]:
    """(Re)write every generated artefact under ``repo_root``; returns the paths written."""
    from isaprofile.isatab.isaconfig import builtin_config_targets, write_isaconfig
    from isaprofile.linked.shacl import write_shapes

    schemas = Path(repo_root) / "schemas"
    out: list[Path] = []
    for name, version in list_profiles():
        profile = load_profile(f"{name}@{version}")
        out.append(write_profile_schema(profile, schemas))
        out.append(write_shapes(profile, schemas))
    for profile, folders in builtin_config_targets(repo_root):
        for folder in folders:
            out.extend(write_isaconfig(profile, folder))
    return out


if __name__ == "__main__":
    for p in write_all(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(p)
