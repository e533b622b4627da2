"""The dataset config file, ``isaprofile.yaml`` at the dataset root.

It names the profile, gives the investigation metadata (title, licences, creators …), says where
the metadata sheets are and how their columns map to profile fields (:class:`SheetSpec`), and where the
image and segmentation files are and how each links to its subject, time point and scan
(:class:`FileSpec`). See ``docs/dataset-config.md`` and ``schemas/dataset-config.schema.json``.
"""

from __future__ import annotations

import json
import os
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


def dataset_inputs(root: Path) -> set[Path]:
    """The files of the dataset folder ``root`` that are inputs but not images: its config, the sheets and the
    data-entry workbook the config names, TCIA's manifests and ``metadata.csv`` lists. Empty for a folder without
    a config; a config that cannot be read still names itself."""
    from isaprofile.harvest.tcia import find_lists

    path = find_config(root)
    if path is None:
        return set()
    out = {path}
    config, _report = load_config(root)
    if config is not None:
        out.update(root / sheet.file for sheet in config.sheets)
        if config.template:
            out.add(root / config.template)
    manifests, metadata = find_lists(root)
    out.update(manifests + metadata)
    return {Path(os.path.abspath(p)) for p in out}  # as the harvest names the files it walks (links kept)


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
        data = load_yaml_bounded(path.read_text(encoding="utf-8"))
    except YamlTooLarge as exc:
        report.add(issue("config-too-large", file=name, line=exc.line, path="$", reason=exc.reason))
        return None, report
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


MAX_YAML_NODES = 100_000  # nodes of the config once every alias is expanded


class YamlTooLarge(ValueError):
    """A YAML document whose aliases expand beyond :data:`MAX_YAML_NODES` nodes, or refer to themselves."""

    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


def load_yaml_bounded(text: str) -> Any:
    """``text`` as :func:`yaml.safe_load` reads it, after counting the nodes its aliases expand to.

    PyYAML composes a node graph in which an alias is the anchored node itself, so composing is linear
    in the text; the expansion happens only in whoever walks the built values (schema validation, JSON
    output). The expanded size is counted on the graph, each node once (memoised), and a document
    beyond the limit or with a self-referring alias raises :class:`YamlTooLarge` before any value is built.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # iterative post-order walk: (node, children visited?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_YAML_NODES:
                line = node.start_mark.line + 1 if node.start_mark else None
                raise YamlTooLarge(f"its aliases expand to more than {MAX_YAML_NODES} nodes", line)
            sizes[key] = total
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1 if node.start_mark else None
            raise YamlTooLarge("an alias refers to a node that contains it", line)
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                line = child.start_mark.line + 1 if child.start_mark else None
                raise YamlTooLarge("an alias refers to a node that contains it", line)
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


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
