"""``package_dataset``: a checked dataset → one deposit package (BagIt + RO-Crate + ISA + landing page).

The dataset goes through :func:`isaprofile.check` with every layer, PHI gate included, so a package
is refused exactly when ``isaprofile validate`` calls the dataset invalid (``allow_invalid`` packages it
anyway and says so in the package; a PHI finding always refuses). The report written into the package
is that same report. Every metadata file is generated in memory, then the bag is built atomically
(:func:`isaprofile.bagit.build.build_bag`), so a refused run leaves nothing behind. The profile
travels with the package: a built-in one by name and version, a user's YAML file copied in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from isaprofile.bagit.build import Chunks, Content, Separate, build_bag
from isaprofile.bagit.hashing import FileDigest, hash_files
from isaprofile.bagit.split import ZENODO, Part, Plan, build_split
from isaprofile.findings.issues import Report, issue
from isaprofile.findings.render import render
from isaprofile.harvest.images import ResultWrapper
from isaprofile.licences import LicenceMap
from isaprofile.linked.datacite import ZenodoRecord
from isaprofile.model import Investigation
from isaprofile.package.datapackage import WrittenTables, datapackage
from isaprofile.package.landing import citation_cff, index_html, previews, readme
from isaprofile.package.metadata_checks import MARKER, receipt
from isaprofile.package.phi import exceptions_chunks
from isaprofile.pipeline import CheckedDataset, ProfileRef, check
from isaprofile.profile.model import Profile

if TYPE_CHECKING:
    from isaprofile.isatab.write import Observer

PartMetadata = Callable[[int, Part, list[str]], Mapping[str, Content]]
SPLITS: dict[str, dict[str, int]] = {
    "zenodo": {"max_files": ZENODO["max_files"], "max_bytes": ZENODO["max_bytes"]},  # by the size limits
    "licence": {},  # one part (and Zenodo record) per licence
}


def _split_kinds(split: str | None) -> set[str]:
    """``--split zenodo``, ``licence`` or both (``zenodo,licence``)."""
    kinds = {k.strip() for k in (split or "").split(",") if k.strip()}
    unknown = kinds - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split {', '.join(sorted(unknown))} (known: {', '.join(SPLITS)})")
    return kinds


class _LicencePlanner:
    """Plans a split deposit by licence: each part holds data files of one licence (and, with limits,
    within a licence by size); the dataset's sources, which no licence rule covers, go with the first
    part, beside the metadata. Each part then carries the Zenodo record of its licence."""

    def __init__(self, lmap: LicenceMap, limits: Mapping[str, int], records: list[ZenodoRecord]) -> None:
        self.lmap, self.limits = lmap, limits
        self.records = {r.licence: r for r in records}
        self.licence_of: dict[str, str] = {}  # part name -> its licence

    def __call__(self, sizes: Mapping[str, int], reserved: int) -> Plan:
        from isaprofile.licences import licence_parts

        data = {p: n for p, n in sizes.items() if self.lmap.of(p) is not None}
        parts, report = licence_parts(data, self.lmap, max_files=self.limits.get("max_files"),
                                      max_bytes=self.limits.get("max_bytes"), reserved_files=reserved)  # fmt: skip
        self.licence_of = {p.part.name: p.licence for p in parts}
        plan = [p.part for p in parts]
        rest = sorted(set(sizes) - set(data))
        if plan and rest:
            plan[0].files.extend(rest)
            plan[0].size += sum(sizes[p] for p in rest)
        return Plan(plan, report)

    def part_metadata(self, crates: PartMetadata) -> PartMetadata:
        """``crates`` plus each part's own ``metadata/zenodo.json`` (the record of its licence)."""
        from isaprofile.linked.datacite import as_bytes

        def make(number: int, part: Part, names: list[str]) -> dict[str, Content]:
            out = dict(crates(number, part, names))
            record = self.records.get(self.licence_of.get(part.name, ""))
            if record is not None:
                out["metadata/zenodo.json"] = as_bytes(record.metadata)
            return out

        return make


@dataclass
class PackageResult:
    path: Path | None  # None when nothing was written
    report: Report


_ISATAB = "metadata/isatab/"


def _isatab_files(inv: Investigation, profile: Profile | None, tmp: Path, observe: Observer) -> dict[str, Path]:
    """The ISA-Tab files, written under ``tmp`` (a table of 200,000 rows is not held in memory), each table
    shown to ``observe`` as it is written."""
    from isaprofile.isatab.write import write_isatab

    return {f"{_ISATAB}{p.name}": p for p in write_isatab(inv, tmp / "isa", profile, observe=observe)}


def _file_chunks(path: Path) -> Chunks:
    """A metadata file copied into the bag from a file of ours, a MiB at a time."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while data := fh.read(1 << 20):
                yield data

    return chunks


def package_dataset(
    dataset: str | Path,
    out: str | Path,
    *,
    zip: bool = False,
    split: str | None = None,
    allow_invalid: bool = False,
    profile: ProfileRef = "auto",
    workers: int | None = None,
    progress=None,
    bagging_date: dt.date | None = None,
    header_progress: ResultWrapper | None = None,
    cache: bool = True,
) -> PackageResult:
    """Build the deposit package of ``dataset`` at ``out``; see the module docstring."""
    # tmp: the ISA-Tab, until it is in the bag; begun: the pool work begun for it (cancelled when it is refused)
    with tempfile.TemporaryDirectory(prefix="isaprofile-package-") as tmp, contextlib.ExitStack() as begun:
        return _package(dataset, out, Path(tmp), begun, zip=zip, split=split, allow_invalid=allow_invalid,
                        profile=profile, workers=workers, progress=progress, bagging_date=bagging_date,
                        header_progress=header_progress, cache=cache)  # fmt: skip


def _package(
    dataset: str | Path,
    out: str | Path,
    tmp: Path,
    begun: contextlib.ExitStack,
    *,
    zip: bool,
    split: str | None,
    allow_invalid: bool,
    profile: ProfileRef,
    workers: int | None,
    progress: Any,
    bagging_date: dt.date | None,
    header_progress: ResultWrapper | None,
    cache: bool,
) -> PackageResult:
    from isaprofile.licences import RowLicences, check_deposit_licences, licence_map
    from isaprofile.linked.datacite import as_bytes, datacite, schema_org, zenodo_records
    from isaprofile.linked.isajson import isa_json_chunks
    from isaprofile.linked.jsonld import ro_crate_chunks

    kinds = _split_kinds(split)
    root = Path(dataset)
    made: list[Callable[[], tuple[dict[str, bytes], Report]]] = []

    def begin_previews(model: Investigation) -> None:  # on the pool, while this process checks the model
        made.append(begun.enter_context(previews(model, root, workers)))

    # the header pass may reuse the header cache; the payload's digests always come from the bytes copied
    checked = check(dataset, profile, workers=workers, progress=header_progress, cache=cache,
                    on_model=begin_previews)  # fmt: skip
    inv, report, payload = checked.investigation, checked.report, checked.payload
    lmap = checked.licences if checked.licences is not None else licence_map(inv, checked.profile)
    # a repository that takes one licence per record (Zenodo) gets one record per licence, or a refusal
    report.merge(check_deposit_licences(lmap, "zenodo", split_by_licence="licence" in kinds,
                                        severity=None if "zenodo" in kinds else "warning"))  # fmt: skip
    phi_refused = checked.phi is not None and not checked.phi.passed  # never deposited, whatever the flag
    if checked.profile is None and "profile-unknown" not in report.codes():
        report.add(issue("deposit-profile-missing", file="i_investigation.txt"))
    if phi_refused or checked.profile is None or (not report.valid and not allow_invalid):
        return PackageResult(None, report)
    prof = checked.profile
    tables = WrittenTables(_ISATAB, RowLicences(inv, lmap))  # the data package's view, as the tables are written
    isatab = _isatab_files(inv, prof, tmp, tables)
    pngs, unshown = made[0]()
    begun.close()  # the previews' pool ends here (a live pool's thread would keep the ISA-JSON off its own core)
    meta: dict[str, Content] = {**{rel: _file_chunks(path) for rel, path in isatab.items()}, **_profile_files(prof)}
    # the deposit's report is about the dataset: how this run read it (its header cache's hits) stays out
    deposited = Report(report.sorted().issues, {k: v for k, v in report.stats.items() if k != "cache"})
    validation_report = render(deposited, "json").encode("utf-8")

    def late_crate(digests: Mapping[str, FileDigest]) -> dict[str, Content]:
        """The crate, with each file's size and sha256 taken from the bag's copy (no second read); made
        while it is written, one scan at a time."""
        files = _CrateFiles(digests)
        return {"ro-crate-metadata.json": lambda: ro_crate_chunks(inv, prof, files=files, licences=lmap)}

    if kinds:  # a split deposit's crates are made per part, before its bags are built
        crate = late_crate(hash_files(payload, workers=workers))["ro-crate-metadata.json"]
        meta["ro-crate-metadata.json"] = crate
    meta["metadata/datacite.json"] = as_bytes(datacite(inv, licences=lmap))
    records = zenodo_records(inv, lmap)
    if len(records) == 1 or "licence" in kinds:  # a licence split gives each part its own record below
        meta["metadata/zenodo.json"] = as_bytes(records[0].metadata)
    else:  # one record per licence: the deposit must be split by licence for Zenodo (see the warning)
        meta.update({f"metadata/zenodo-{r.licence}.json": as_bytes(r.metadata) for r in records})
    meta["CITATION.cff"] = citation_cff(inv)
    meta["metadata/schema-org.jsonld"] = as_bytes(schema_org(inv))
    meta["metadata/isa.json"] = Separate(lambda: isa_json_chunks(inv, prof))  # 247 MB on ENHANCE: on its own core
    report.merge(unshown)  # (after the deposit's validation report, which is about the dataset)
    meta.update(pngs)
    invalid = allow_invalid and not report.valid
    meta["README.md"] = readme(inv, invalid)
    meta["datapackage.json"] = datapackage(inv.identifier, tables.tables, inv.title, list(lmap.all) or inv.licences,
                                           extra_resources=_sheet_resources(checked))  # fmt: skip
    late = [] if "ro-crate-metadata.json" in meta else ["ro-crate-metadata.json"]  # made after the copy
    listed = [*meta, *late, "index.html", "metadata/validation-report.json", *payload]
    meta["index.html"] = index_html(inv, set(pngs), profile=prof, invalid=invalid, files=listed, payload=payload)
    meta["metadata/validation-report.json"] = validation_report
    bag_info = {
        "Source-Organization": ", ".join(sorted({p.affiliation for p in inv.contacts if p.affiliation})) or "unknown",
        "External-Description": inv.title or inv.identifier,
        "External-Identifier": inv.identifier,
        "Bag-Software-Agent": "isaprofile",
        MARKER: _profile_marker(prof),
    }
    phi = checked.phi
    # written as it is made: CRLM's is 5 MB, a path a line
    exceptions: Chunks | None = (lambda: exceptions_chunks(phi)) if phi is not None and phi.exceptions else None
    extra: dict[str, Content] | None = {"phi-exceptions.json": exceptions} if exceptions else None
    date = bagging_date or _release_date(inv)
    if not report.valid and not allow_invalid:  # e.g. a mixed-licence deposit split for Zenodo by size only
        return PackageResult(None, report)
    if kinds:
        if exceptions:  # a split deposit has no tag-file hook: record the exceptions in the payload
            meta["metadata/phi-exceptions.json"] = exceptions
        crate = meta["ro-crate-metadata.json"]
        crates = _part_crates(inv, crate if isinstance(crate, bytes) else b"".join(crate()))
        limits = SPLITS["zenodo"] if "zenodo" in kinds else {}
        planner = _LicencePlanner(lmap, limits, records) if "licence" in kinds else None
        parts = crates if planner is None else planner.part_metadata(crates)
        result = build_split(out, payload, meta, bag_info=bag_info, workers=workers, progress=progress,
                             bagging_date=date, part_metadata=parts,
                             max_files=limits.get("max_files", 10**9), max_bytes=limits.get("max_bytes", 1e18),
                             planner=planner)  # fmt: skip
    else:
        result = build_bag(out, payload, meta, bag_info=bag_info, zip=zip, workers=workers, progress=progress,
                           bagging_date=date, extra_tags=extra, late_metadata=late_crate,
                           late_bag_info=None if invalid else receipt)  # fmt: skip
    report.merge(result.report)
    return PackageResult(result.path, report)


def _part_crates(inv: Investigation, crate: bytes):
    """Crates that tie the parts of a split deposit together.

    The first part keeps the dataset's crate, its root now ``isPartOf`` the deposit; every other part
    gets a small crate of its own files. All of them name every part (``#part-001`` …).
    """
    from isaprofile.linked._common import person_id
    from isaprofile.linked.context import RO_CRATE_CONTEXT, RO_CRATE_SPEC, dumps

    def deposit(names: list[str]) -> list[dict]:
        parts = [{"@id": f"#{n}", "@type": "Dataset", "name": n,
                  "description": f"Part {i} of {len(names)} of this deposit, a BagIt bag of its own"}
                 for i, n in enumerate(names, 1)]  # fmt: skip
        whole = {"@id": "#deposit", "@type": "Dataset", "name": inv.title or inv.identifier,
                 "hasPart": [{"@id": p["@id"]} for p in parts]}  # fmt: skip
        return [whole, *parts]

    def make(number: int, part, names: list[str]) -> dict[str, bytes]:
        if number == 0:
            doc = json.loads(crate)
            here = {quote(f) for f in part.files}
            moved = {e["@id"] for e in doc["@graph"] if _is_file(e) and e["@id"] not in here}
            doc = _rename_ids(doc, {i: f"{ELSEWHERE}{i}" for i in moved})  # held by another part
            for ent in doc["@graph"]:
                if ent.get("@id") == "./":
                    ent["isPartOf"] = {"@id": "#deposit"}
            doc["@graph"].extend(deposit(names))
            return {"ro-crate-metadata.json": dumps(doc)}
        files = sorted([*part.files, *(b.name for b in part.bundles)])
        people = [{"@id": person_id(p), "@type": "Person", "name": p.name} for p in inv.contacts]
        graph = [
            {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"},
             "conformsTo": {"@id": RO_CRATE_SPEC}},
            {"@id": "./", "@type": "Dataset", "name": f"{inv.title or inv.identifier} ({part.name})",
             "description": f"{part.name} of a split deposit; the dataset's metadata is in {names[0]}.",
             "datePublished": _release_date(inv).isoformat(), "isPartOf": {"@id": "#deposit"},
             "license": [{"@id": f"https://spdx.org/licenses/{lic}"} for lic in inv.licences],
             "creator": [{"@id": p["@id"]} for p in people], "hasPart": [{"@id": quote(f)} for f in files]},
            *({"@id": quote(f), "@type": "File", "name": f} for f in files),
            *people,
            *deposit(names),
        ]  # fmt: skip
        return {"ro-crate-metadata.json": dumps({"@context": RO_CRATE_CONTEXT, "@graph": graph})}

    return make


# Data files that a split deposit keeps in another part are named by an absolute URI in the first
# part's crate (RO-Crate data entities with a relative @id must be in the crate's own payload).
ELSEWHERE = "arcp://name,isaprofile-split-deposit/"


class _CrateFiles(Mapping[str, tuple[int, str]]):
    """Each payload file's size and SHA-256 (the crate's ``FileInfo``) from the copy's digests, made as the
    crate asks for it: a dict of them held 17,840 tuples and hex texts beside the digests (CRLM: 3.5 MiB)."""

    __slots__ = ("_digests",)

    def __init__(self, digests: Mapping[str, FileDigest]) -> None:
        self._digests = digests

    def __getitem__(self, rel: str) -> tuple[int, str]:
        digest = self._digests[rel]
        return digest.size, digest.hexdigest("sha256")

    def __contains__(self, rel: object) -> bool:
        return rel in self._digests

    def __iter__(self) -> Iterator[str]:
        return iter(self._digests)

    def __len__(self) -> int:
        return len(self._digests)


def _is_file(ent: dict) -> bool:
    types = ent.get("@type")
    return "File" in (types if isinstance(types, list) else [types]) and not str(ent.get("@id", "")).startswith(
        ("#", "http", "arcp:", "ro-crate-metadata")
    )


def _rename_ids(node, renames: dict[str, str]):
    """``node`` with every ``@id`` in ``renames`` replaced, wherever it occurs."""
    if isinstance(node, dict):
        return {k: (renames.get(v, v) if k == "@id" else _rename_ids(v, renames)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_ids(v, renames) for v in node]
    return node


def _release_date(inv: Investigation) -> dt.date:
    """A fixed bagging date makes packages reproducible: the release (or submission) date, else 1980-01-01."""
    for text in (inv.public_release_date, inv.submission_date):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            continue
    return dt.date(1980, 1, 1)


def _sheet_resources(checked: CheckedDataset) -> list[dict[str, Any]]:
    """The user's xlsx sheets the deposit carries, described as tabular resources (their value maps as codes)."""
    from isaprofile.package.datapackage import sheet_codes, sheet_resource

    config = checked.config
    if config is None:
        return []
    out = []
    for spec in config.sheets:
        if spec.file in checked.payload and spec.file.lower().endswith(".xlsx"):
            data = Path(checked.payload[spec.file]).read_bytes()
            out.append(sheet_resource(spec.file, data, sheet=spec.sheet, header_row=spec.header_row,
                                      codes=sheet_codes(spec)))  # fmt: skip
    return out


PROFILE_DIR = "metadata/profile/"  # where a user's own profile travels inside the package


def _profile_files(profile: Profile | None) -> dict[str, bytes]:
    """A user's profile YAML (and the user files it extends), copied into the package."""
    out: dict[str, bytes] = {}
    for path in profile.files if profile is not None else ():
        out[PROFILE_DIR + path.name] = path.read_bytes()
    return out


def _profile_marker(profile: Profile | None) -> str:
    """The bag-info value naming the profile: ``name@version``, and the copied file for a user's own."""
    if profile is None:
        return "none"
    if profile.files:
        return f"{profile.id} data/{PROFILE_DIR}{profile.files[0].name}"
    return profile.id
