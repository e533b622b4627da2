"""The dataset config file, ``isaprofile.yaml`` at the dataset root.

It names the profile, gives the investigation metadata (title, licences, creators …), says where
the metadata sheets are and how their columns map to profile fields (:class:`SheetSpec`), and where the
image and segmentation files are and how each links to its subject, time point and scan
(:class:`FileSpec`). See ``docs/dataset-config.md`` and ``schemas/dataset-config.schema.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from isaprofile.findings.issues import Report, issue

CONFIG_NAMES = ("isaprofile.yaml", "isaprofile.yml")


@dataclass
class SheetSpec:
    """One ``sheets:`` entry: a sheet whose rows describe subjects, samples or scans."""

    index: int  # position in ``sheets:``, for findings (``$['sheets'][0]``)
    file: str
    entity: str
    sheet: str | None = None
    header_row: int = 1
    modality: str | None = None
    link: dict[str, str] = field(default_factory=dict)  # subject / sample / file -> header; id_format
    columns: dict[str, list[str]] = field(default_factory=dict)  # header -> field keys ([] ignores it)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # field key -> {raw text: value}
    missing: frozenset[str] = frozenset()  # sentinels, as text
    units: dict[str, str] = field(default_factory=dict)  # header -> unit
    ignore: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        return f"$['sheets'][{self.index}]"


@dataclass
class FileSpec:
    """One ``files:`` entry: image or segmentation files and how each links to its subject and scan."""

    index: int
    globs: list[str]
    role: str = "image"
    pattern: re.Pattern[str] | None = None
    subject_from: str = "pattern"
    modality: str | None = None
    sample: str | None = None  # template
    scan: str = "{sample}-{modality}"  # template
    segments: str | None = None
    labels: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"$['files'][{self.index}]"

    def sample_id(self, groups: dict[str, str]) -> str:
        """The sample identifier for a file whose path gave ``groups``."""
        if self.sample:
            return self.sample.format(**groups)
        if groups.get("timepoint"):
            return f"{groups['subject']}-{groups['timepoint']}"
        return groups["subject"]


@dataclass
class DatasetConfig:
    root: Path
    file: str  # the config's name, for findings
    profile: str
    investigation: dict[str, Any] = field(default_factory=dict)
    template: str | None = None  # the filled data-entry workbook (one sheet per entity)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole document, for the other layers
    sheets: list[SheetSpec] = field(default_factory=list)
    files: list[FileSpec] = field(default_factory=list)


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
    sheets = [_sheet(i, spec) for i, spec in enumerate(data.get("sheets") or [])]
    files = []
    for i, spec in enumerate(data.get("files") or []):
        try:
            files.append(_files(i, spec))
        except re.error as exc:
            report.add(issue("config-invalid", file=name, path=f"$['files'][{i}]['pattern']",
                             reason=f"not a regular expression: {exc}"))  # fmt: skip
    if not report.valid:
        return None, report
    return DatasetConfig(
        root=root,
        file=name,
        profile=resolve_profile_ref(root, str(data.get("profile", "preclinical-imaging"))),
        investigation=data.get("investigation") or {},
        template=data.get("template"),
        raw=data,
        sheets=sheets,
        files=files,
    ), report


def resolve_profile_ref(root: Path, ref: str) -> str:
    """A ``profile:`` value as :func:`~isaprofile.profile.model.load_profile` takes it: a relative YAML path
    is relative to the dataset folder (where the config is), not to the current directory; a built-in
    name (``clinical-ct@1.0``) or an absolute path is kept."""
    if not ref.endswith((".yaml", ".yml")) or Path(ref).is_absolute():
        return ref
    return str(root / ref)


def cell_text(raw: Any) -> str:
    """A cell or YAML scalar as the text value maps and sentinels compare (``1.0`` and ``1`` alike)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _sheet(index: int, spec: dict[str, Any]) -> SheetSpec:
    columns: dict[str, list[str]] = {}
    for header, keys in (spec.get("columns") or {}).items():
        columns[str(header)] = [] if keys is None else [keys] if isinstance(keys, str) else list(keys)
    values = {
        str(key): {cell_text(raw): val for raw, val in (mapping or {}).items()}
        for key, mapping in (spec.get("values") or {}).items()
    }
    return SheetSpec(
        index=index,
        file=str(spec["file"]),
        entity=str(spec["entity"]),
        sheet=spec.get("sheet"),
        header_row=int(spec.get("header_row", 1)),
        modality=spec.get("modality"),
        link={str(k): str(v) for k, v in (spec.get("link") or {}).items()},
        columns=columns,
        values=values,
        missing=frozenset(cell_text(m) for m in spec.get("missing") or []),
        units={str(k): str(v) for k, v in (spec.get("units") or {}).items()},
        ignore=frozenset(str(h) for h in spec.get("ignore") or []),
    )


def _files(index: int, spec: dict[str, Any]) -> FileSpec:
    globs = spec["glob"]
    pattern = re.compile(spec["pattern"]) if spec.get("pattern") else None
    has_subject = pattern is not None and "subject" in pattern.groupindex
    return FileSpec(
        index=index,
        globs=[globs] if isinstance(globs, str) else list(globs),
        role=str(spec.get("role", "image")),
        pattern=pattern,
        subject_from=str(spec.get("subject_from", "pattern" if has_subject else "header")),
        modality=spec.get("modality"),
        sample=spec.get("sample"),
        scan=str(spec.get("scan", "{sample}-{modality}")),
        segments=spec.get("segments"),
        labels=spec.get("labels"),
        values=dict(spec.get("values") or {}),
    )
