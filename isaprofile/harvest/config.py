"""The dataset config file, ``isaprofile.yaml`` at the dataset root.

It names the profile, gives the investigation metadata (title, licences, creators …) and says where
the metadata sheets are. See ``docs/dataset-config.md`` and ``schemas/dataset-config.schema.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from isaprofile.validate.issues import Report, issue

CONFIG_NAMES = ("isaprofile.yaml", "isaprofile.yml")


@dataclass
class DatasetConfig:
    root: Path
    file: str  # the config's name, for findings
    profile: str
    investigation: dict[str, Any] = field(default_factory=dict)
    template: str | None = None  # the filled data-entry workbook (one sheet per entity)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole document, for the other layers


@cache
def config_schema() -> dict[str, Any]:
    """The JSON Schema of the dataset config (shipped with the package)."""
    text = (resources.files("isaprofile.harvest") / "dataset-config.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def find_config(root: Path) -> Path | None:
    return next((root / n for n in CONFIG_NAMES if (root / n).is_file()), None)


def load_config(root: Path) -> tuple[DatasetConfig | None, Report]:
    """Read and check ``root``'s config; ``None`` with findings when it cannot be used."""
    import jsonschema

    report = Report()
    path = find_config(root)
    if path is None:
        report.add(issue("config-missing", file=str(root)))
        return None, report
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        report.add(issue("config-invalid", file=name, path="$", reason=f"cannot read ({type(exc).__name__})"))
        return None, report
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        report.add(issue("config-invalid", file=name, line=mark.line + 1 if mark else None,
                         column=mark.column + 1 if mark else None, path="$", reason="not valid YAML"))  # fmt: skip
        return None, report
    validator = jsonschema.Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    for err in errors:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
        report.add(issue("config-invalid", file=name, path=where, reason=err.message))
    if errors:
        return None, report
    return DatasetConfig(
        root=root,
        file=name,
        profile=str(data.get("profile", "preclinical-imaging")),
        investigation=data.get("investigation") or {},
        template=data.get("template"),
        raw=data,
    ), report
