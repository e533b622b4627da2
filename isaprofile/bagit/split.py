"""Split deposits for repositories with per-record limits (Zenodo: 100 files, 50 GB per record).

Public API::

    plan_parts(sizes: Mapping[str, int], *, max_files=100, max_bytes=50e9, reserved_files=0) -> Plan
    build_split(dest, payload, metadata=None, *, bag_info, max_files=100, max_bytes=50e9, ...) -> BuildResult
    verify_split(folder, *, checks=(), workers=None, progress=None) -> Report
    ZENODO = {"max_files": 100, "max_bytes": 50_000_000_000}

A split deposit is a folder holding ``parts-index.json`` and ``part-001`` ... ``part-NNN``, each a
complete bag with its own manifests. The parts index (JSON, sorted keys, LF) names every part
and, for each, every original file with its size and SHA-256, the bag path that holds it and, for
files bundled into a zip member, the member name. Each part carries an identical copy of the
index as a tag file (so it is covered by that part's tag manifests); :func:`verify_split` checks
every part as a bag, the index copies, the parts present against the index, and every file of
the index against its part's manifest or, for bundles, against the bundle's member digest.

When a deposit has more files than the fewest parts its size needs can hold, folders (DICOM
series) are bundled into stored zip members (one per folder, or several when a folder is larger
than a part), folders with the most files first, until the entries fit. Metadata files go into
the first part.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isaprofile.bagit import _io
from isaprofile.bagit.bag import verify_one
from isaprofile.bagit.build import (
    PARTS_INDEX,
    BuildResult,
    Content,
    atomic_publish,
    preflight,
    write_payload,
    write_tags,
)
from isaprofile.bagit.errors import PackageError
from isaprofile.bagit.hashing import (
    ALGORITHMS,
    FileDigest,
    Hasher,
    hash_file,
    hash_stream,
    io_error,
)
from isaprofile.bagit.tags import PAYLOAD_DIR, parse_manifest
from isaprofile.bagit.ziputil import EPOCH_1980, SafeZip
from isaprofile.findings.issues import Report, issue
from isaprofile.progress import Progress

ZENODO = {"max_files": 100, "max_bytes": 50_000_000_000}
INDEX_FORMAT = "isaprofile-parts-index/1"
TAG_FILES = 7  # bagit.txt, bag-info.txt, 2 manifests, 2 tag manifests, parts-index.json
_ZIP_OVERHEAD = 100  # bytes per member besides its name (local + central headers of a stored zip)


@dataclass(frozen=True, slots=True)
class Bundle:
    """Files of one folder stored together as one zip member ``name`` (a path in the bag's data/)."""

    name: str
    base: str  # the folder the member names are relative to
    files: tuple[str, ...]
    size: int


@dataclass
class Part:
    """One part: files copied as they are, and bundles."""

    name: str
    files: list[str] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)
    size: int = 0

    @property
    def entries(self) -> int:
        return len(self.files) + len(self.bundles)


@dataclass
class Plan:
    """The parts, and findings for files that fit in no part."""

    parts: list[Part]
    report: Report = field(default_factory=Report)


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _bundles(group: str, files: list[str], sizes: Mapping[str, int], max_bytes: float) -> list[str | Bundle]:
    """One folder as zip members of at most ``max_bytes`` each; a lone file stays a plain file."""
    base = _parent(group)
    stem = group or "files"
    chunks: list[list[str]] = []
    total = 0
    for rel in files:
        cost = sizes[rel] + _ZIP_OVERHEAD + len(rel)
        if not chunks or total + cost > max_bytes:
            chunks.append([])
            total = 0
        chunks[-1].append(rel)
        total += cost
    units: list[str | Bundle] = []
    many = sum(len(c) > 1 for c in chunks) > 1
    for n, chunk in enumerate(chunks, start=1):
        if len(chunk) == 1:
            units.append(chunk[0])
            continue
        name = f"{stem}-{n:03d}.zip" if many else f"{stem}.zip"
        size = sum(sizes[r] + _ZIP_OVERHEAD + len(r) for r in chunk)
        units.append(Bundle(name, base, tuple(chunk), size))
    return units


def plan_parts(
    sizes: Mapping[str, int],
    *,
    max_files: int = 100,
    max_bytes: float = 50e9,
    reserved_files: int = 0,
) -> Plan:
    """Group files (path in data/ -> size) into parts of at most ``max_files - reserved_files``
    entries and ``max_bytes`` bytes each, in path order, bundling folders as needed."""
    cap = max_files - reserved_files
    if cap < 1:
        raise ValueError("max_files leaves no room for payload files")
    report = Report()
    groups: dict[str, list[str]] = {}
    for rel in sorted(sizes):
        if sizes[rel] > max_bytes:
            report.add(issue("part-too-large", path=rel, size=sizes[rel], limit=int(max_bytes)))
        else:
            groups.setdefault(_parent(rel), []).append(rel)
    total_bytes = sum(sizes[f] for fs in groups.values() for f in fs)
    budget = max(1, math.ceil(total_bytes / max_bytes)) * cap
    bundled: set[str] = set()
    entries = sum(len(fs) for fs in groups.values())
    for g in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        if entries <= budget:
            break
        if g not in bundled and len(groups[g]) > 1:
            bundled.add(g)
            entries -= len(groups[g]) - 1
    units: list[str | Bundle] = []
    for g in sorted(groups):
        if g in bundled:
            units.extend(_bundles(g, groups[g], sizes, max_bytes))
        else:
            units.extend(groups[g])
    parts: list[Part] = []
    for unit in units:
        size = unit.size if isinstance(unit, Bundle) else sizes[unit]
        if not parts or parts[-1].entries + 1 > cap or parts[-1].size + size > max_bytes:
            parts.append(Part(f"part-{len(parts) + 1:03d}"))
        part = parts[-1]
        (part.bundles if isinstance(unit, Bundle) else part.files).append(unit)  # type: ignore[arg-type]
        part.size += size
    return Plan(parts, report)


def _write_bundle(bundle: Bundle, sources: Mapping[str, str | os.PathLike[str]], out: Path, durable: bool) -> dict:
    """Write a stored, deterministic zip; returns member name -> (file, size, sha256) read once."""
    members: dict[str, tuple[str, int, str]] = {}
    offset = len(bundle.base) + 1 if bundle.base else 0
    with _io.FdWriter(out, durable=durable) as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
        for rel in sorted(bundle.files):
            info = zipfile.ZipInfo(rel[offset:], date_time=EPOCH_1980)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = Path(sources[rel]).stat().st_size
            hasher = Hasher(("sha256",))
            with _io.open_read(sources[rel]) as src, zf.open(info, "w", force_zip64=info.file_size > 2**31) as dst:
                hasher.feed(src, sink=dst.write)
            members[info.filename] = (rel, info.file_size, hasher.result().hexdigest("sha256"))
    return members


def _index_bytes(index: dict) -> bytes:
    return (json.dumps(index, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def build_split(
    dest: str | os.PathLike[str],
    payload: Mapping[str, str | os.PathLike[str]],
    metadata: Mapping[str, Content] | None = None,
    *,
    bag_info: Mapping[str, str | Sequence[str]],
    max_files: int = ZENODO["max_files"],
    max_bytes: float = ZENODO["max_bytes"],
    workers: int | None = None,
    progress: Progress | None = None,
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    durable: bool = True,
    part_metadata: Callable[[int, Part, list[str]], Mapping[str, Content]] | None = None,
    planner: Callable[[Mapping[str, int], int], Plan] | None = None,
) -> BuildResult:
    """Build a split deposit folder at ``dest`` atomically (see the module docstring).

    ``part_metadata(number, part, names)`` may add metadata files to each part (number 0 is the first
    part, which also holds ``metadata``; its result replaces files of the same name), e.g. a crate that
    names the other parts; one file per part is reserved for it. ``planner(sizes, reserved_files)``
    replaces the size planning with the caller's own parts. Returns a :class:`BuildResult` whose
    report holds preflight and planning findings; with errors nothing is written and ``path`` is ``None``.
    """
    metadata = metadata or {}
    report = preflight(payload, metadata)
    sizes = {rel: Path(src).stat().st_size for rel, src in payload.items()} if report.valid else {}
    reserved = TAG_FILES + len(metadata) + (1 if part_metadata else 0)
    if planner is not None:  # the caller's own grouping (e.g. one part per licence)
        plan = planner(sizes, reserved)
    else:
        plan = plan_parts(sizes, max_files=max_files, max_bytes=max_bytes, reserved_files=reserved)
    report.merge(plan.report)
    if not report.valid:
        return BuildResult(None, report)
    all_digests: dict[str, FileDigest] = {}

    sync_all = durable and _io.can_sync_filesystem()
    per_file = durable and not sync_all

    def fill(stage: Path) -> Path:
        root = stage / "split"
        root.mkdir()
        index: dict = {"format": INDEX_FORMAT, "parts": []}
        part_digests = []
        names = [p.name for p in plan.parts]
        for n, part in enumerate(plan.parts):
            folder = root / part.name
            direct = {rel: payload[rel] for rel in part.files}
            meta = dict(metadata) if n == 0 else {}
            if part_metadata is not None:
                meta.update(part_metadata(n, part, names))
            digests = dict(
                write_payload(
                    folder, direct, meta, algorithms=algorithms, workers=workers, progress=progress, durable=per_file
                )
            )  # (its bundles' digests are added)
            files = [
                {
                    "path": rel,
                    "in": f"{PAYLOAD_DIR}/{rel}",
                    "size": digests[f"{PAYLOAD_DIR}/{rel}"].size,
                    "sha256": digests[f"{PAYLOAD_DIR}/{rel}"].hexdigest("sha256"),
                }
                for rel in [*part.files, *(metadata if n == 0 else ())]
            ]  # fmt: skip (each part's own metadata is covered by its manifests, not the index)
            for bundle in part.bundles:
                out = folder / PAYLOAD_DIR / bundle.name
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    members = _write_bundle(bundle, payload, out, per_file)
                except OSError as exc:
                    raise io_error(exc, f"{part.name}/{PAYLOAD_DIR}/{bundle.name}") from None
                digests[f"{PAYLOAD_DIR}/{bundle.name}"] = hash_file(out, algorithms)
                files.extend(
                    {"path": rel, "in": f"{PAYLOAD_DIR}/{bundle.name}", "member": member, "size": size,
                     "sha256": sha}
                    for member, (rel, size, sha) in members.items()
                )  # fmt: skip
            index["parts"].append({"name": part.name, "files": sorted(files, key=lambda f: f["path"])})
            part_digests.append(digests)
            all_digests.update({f"{part.name}/{k}": v for k, v in digests.items()})
        data = _index_bytes(index)
        for number, (part, digests) in enumerate(zip(plan.parts, part_digests, strict=True), start=1):
            info = {
                **bag_info,
                "Bag-Group-Identifier": Path(dest).name,
                "Bag-Count": f"{number} of {len(plan.parts)}",
            }
            write_tags(
                root / part.name, digests, bag_info=info, algorithms=algorithms,
                bagging_date=bagging_date, extra_tags={PARTS_INDEX: data}, durable=per_file,
            )  # fmt: skip
        _io.write_file(root / PARTS_INDEX, data, durable=per_file)
        return root

    atomic_publish(dest, fill, sync_all=sync_all)
    report.stats.update(parts=len(plan.parts), payload_files=len(payload))
    return BuildResult(Path(dest).absolute(), report, all_digests)


def _located(items: Iterable, prefix: str) -> list:
    return [dataclasses.replace(i, file=f"{prefix}/{i.file}" if i.file else prefix) for i in items]


def verify_split(
    folder: str | os.PathLike[str],
    *,
    checks: Sequence = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify every part of a split deposit as a bag, and the deposit as a whole against its index."""
    folder = Path(folder)
    report = Report()
    raw = (folder / PARTS_INDEX).read_bytes()
    try:
        index = json.loads(raw)
        parts = {p["name"]: p["files"] for p in index["parts"]}
        if index.get("format") != INDEX_FORMAT:
            raise ValueError(f"format is not {INDEX_FORMAT}")
    except (ValueError, KeyError, TypeError) as exc:
        return Report([issue("parts-index-invalid", file=PARTS_INDEX, reason=str(exc))])
    seen: dict[str, str] = {}
    for name, files in sorted(parts.items()):
        for entry in files:
            if entry["path"] in seen:
                reason = f"{entry['path']} is in both {seen[entry['path']]} and {name}"
                report.add(issue("parts-index-invalid", file=PARTS_INDEX, reason=reason))
            seen[entry["path"]] = name
    for child in sorted(folder.iterdir()):
        if child.name == PARTS_INDEX:
            continue
        if child.name not in parts:
            code = "part-unexpected" if child.name.startswith("part-") else "unexpected-file"
            report.add(issue(code, file=PARTS_INDEX, path=child.name))
    for name, files in sorted(parts.items()):
        part = folder / name
        if not part.is_dir():
            report.add(issue("part-missing", file=PARTS_INDEX, path=name))
            continue
        report.merge(Report(_located(verify_one(part, checks=checks, workers=workers, progress=progress), name)))
        copy = part / PARTS_INDEX
        if not copy.is_file() or copy.read_bytes() != raw:
            report.add(
                issue("parts-index-invalid", file=f"{name}/{PARTS_INDEX}", reason="differs from the top-level index")
            )
        report.extend(_check_part_files(part, name, files))
    report.stats.update(parts=len(parts))
    return report


def _check_part_files(part: Path, name: str, files: list[dict]) -> list:
    found = []
    manifest: dict[str, str] = {}
    mpath = part / "manifest-sha256.txt"
    if mpath.is_file():
        with mpath.open("rb") as fh:
            manifest, _ = parse_manifest(fh)
    bundles: dict[str, dict[str, dict]] = {}
    for entry in files:
        where = entry["in"]
        if "member" in entry:
            bundles.setdefault(where, {})[entry["member"]] = entry
        elif manifest.get(where) != entry["sha256"]:
            found.append(
                issue(
                    "part-file-mismatch",
                    file=name,
                    path=where,
                    reason="not in the part's manifest with the index's SHA-256",
                )
            )
    for where, members in sorted(bundles.items()):
        found.extend(_check_bundle(part / where, f"{name}/{where}", members))
    return found


def _check_bundle(path: Path, label: str, members: dict[str, dict]) -> list:
    if not path.is_file():
        return [issue("part-file-mismatch", file=label, path="", reason="bundle missing")]
    found = []
    try:
        safe = SafeZip(path)
    except PackageError as exc:
        return [exc.issue]
    with safe:
        found.extend(safe.report.issues)
        for member in sorted(set(safe.members) | set(members)):
            if member not in members:
                found.append(issue("part-file-mismatch", file=label, path=member, reason="not in the parts index"))
            elif member not in safe.members:
                found.append(issue("part-file-mismatch", file=label, path=member, reason="missing from the bundle"))
            else:
                try:
                    with safe.open(member) as fh:
                        got = hash_stream(fh, ("sha256",)).hexdigest("sha256")
                except (OSError, zipfile.BadZipFile) as exc:
                    found.append(issue("zip-invalid", file=label, path=member, reason=str(exc)))
                    continue
                if got != members[member]["sha256"]:
                    found.append(
                        issue("part-file-mismatch", file=label, path=member, reason="SHA-256 differs from the index")
                    )
    return found
