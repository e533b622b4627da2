"""``package_dataset``: a validated dataset → one deposit package (BagIt + RO-Crate + ISA + landing page).

Order of work: load and validate the dataset; run the PHI gate (:mod:`isaprofile.package.phi`, policy from
the config's ``phi:`` section; exceptions are recorded in ``phi-exceptions.json``); generate every metadata
file in memory;
only then build the bag atomically (:func:`isaprofile.bagit.build.build_bag`). Nothing is written when
validation or the PHI gate fails (unless ``allow_invalid``), so a refused run leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from isaprofile.bagit.build import build_bag
from isaprofile.bagit.hashing import FileDigest, hash_files
from isaprofile.bagit.split import ZENODO, build_split
from isaprofile.dataset import load_dataset
from isaprofile.findings.issues import Report
from isaprofile.findings.render import render
from isaprofile.harvest.config import find_config, load_config
from isaprofile.model import Investigation
from isaprofile.package.datapackage import datapackage
from isaprofile.package.landing import index_html, previews, readme
from isaprofile.package.metadata_checks import MARKER
from isaprofile.package.phi import PhiPolicy, check_phi, exceptions_json

SPLITS = {"zenodo": {"max_files": ZENODO["max_files"], "max_bytes": ZENODO["max_bytes"]}}


@dataclass
class PackageResult:
    path: Path | None  # None when nothing was written
    report: Report


def _payload(inv: Investigation, root: Path) -> dict[str, Path]:
    """The dataset's own files (images, series folders' members, masks) by their path in data/."""
    out: dict[str, Path] = {}
    for study in inv.studies:
        for scan in study.scans:
            paths = [f.path for f in scan.files] + [g.path for g in scan.segmentations if g.path]
            for rel in paths:
                src = root / rel
                if src.is_dir():
                    for member in sorted(p for p in src.rglob("*") if p.is_file()):
                        out[member.relative_to(root).as_posix()] = member
                elif src.is_file():
                    out[rel] = src
    return out


def _isatab_bytes(inv: Investigation, profile) -> dict[str, bytes]:
    from isaprofile.isatab.write import write_isatab

    with tempfile.TemporaryDirectory() as tmp:
        files = write_isatab(inv, Path(tmp) / "isa", profile)
        return {f"metadata/isatab/{p.name}": p.read_bytes() for p in files}


def package_dataset(
    dataset: str | Path,
    out: str | Path,
    *,
    zip: bool = False,
    split: str | None = None,
    allow_invalid: bool = False,
    workers: int | None = None,
    progress=None,
    bagging_date: dt.date | None = None,
) -> PackageResult:
    """Build the deposit package of ``dataset`` at ``out``; see the module docstring."""
    from isaprofile.linked.datacite import as_bytes, datacite, schema_org, zenodo
    from isaprofile.linked.isajson import isa_json_bytes
    from isaprofile.linked.jsonld import ro_crate_bytes

    root = Path(dataset)
    inv, profile, report = load_dataset(root)
    if not report.valid and not allow_invalid:
        return PackageResult(None, report)
    payload = _payload(inv, root)
    phi = check_phi(payload, _phi_policy(root, inv), workers=workers)
    report.merge(phi.report)
    if not phi.passed:
        return PackageResult(None, report)
    meta = _isatab_bytes(inv, profile)

    def late_crate(digests: Mapping[str, FileDigest]) -> dict[str, bytes]:
        """The crate, with each file's size and sha256 taken from the bag's copy (no second read)."""
        files = {rel: (d.size, d.digests["sha256"]) for rel, d in digests.items()}
        data, rep = ro_crate_bytes(inv, profile, files=files)
        report.merge(rep)
        return {"ro-crate-metadata.json": data}

    if split is not None:  # a split deposit's crates are made per part, before its bags are built
        meta.update(late_crate(hash_files(payload, workers=workers)))
    meta["metadata/datacite.json"] = as_bytes(datacite(inv))
    meta["metadata/zenodo.json"] = as_bytes(zenodo(inv))
    meta["metadata/schema-org.jsonld"] = as_bytes(schema_org(inv))
    meta["metadata/isa.json"] = isa_json_bytes(inv, profile)
    pngs, rep = previews(inv, root)
    report.merge(rep)
    meta.update(pngs)
    meta["README.md"] = readme(inv, allow_invalid and not report.valid)
    meta["index.html"] = index_html(inv, set(pngs))
    tables = {
        k: v for k, v in meta.items() if k.startswith("metadata/isatab/") and not k.endswith("i_investigation.txt")
    }
    meta["datapackage.json"] = datapackage(inv.identifier, tables, inv.title, inv.licences)
    meta["metadata/validation-report.json"] = render(report.sorted(), "json").encode("utf-8")
    bag_info = {
        "Source-Organization": ", ".join(sorted({p.affiliation for p in inv.contacts if p.affiliation})) or "unknown",
        "External-Description": inv.title or inv.identifier,
        "External-Identifier": inv.identifier,
        "Bag-Software-Agent": "isaprofile",
        MARKER: profile.id if profile else "none",
    }
    extra = {"phi-exceptions.json": exceptions_json(phi)} if phi.exceptions else None
    date = bagging_date or _release_date(inv)
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
        if phi.exceptions:  # a split deposit has no tag-file hook: record the exceptions in the payload
            meta["metadata/phi-exceptions.json"] = exceptions_json(phi)
        parts = _part_crates(inv, meta["ro-crate-metadata.json"])
        result = build_split(out, payload, meta, bag_info=bag_info, workers=workers, progress=progress,
                             bagging_date=date, part_metadata=parts, **SPLITS[split])  # fmt: skip
    else:
        result = build_bag(out, payload, meta, bag_info=bag_info, zip=zip, workers=workers, progress=progress,
                           bagging_date=date, extra_tags=extra, late_metadata=late_crate)  # fmt: skip
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


def _phi_policy(root: Path, inv: Investigation) -> PhiPolicy:
    """The config's ``phi:`` section; the dataset's subject IDs are pseudonyms, not identities."""
    config, _ = load_config(root) if find_config(root) else (None, None)
    section = dict((config.raw.get("phi") if config else None) or {})
    subjects = [s.id for st in inv.studies for s in st.subjects]
    section["pseudonyms"] = [*section.get("pseudonyms", []), *subjects]
    return PhiPolicy.from_config(section)
