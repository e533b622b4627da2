"""``package_dataset``: a checked dataset → one deposit package (BagIt + RO-Crate + ISA + landing page).

The dataset goes through :func:`isaprofile.check` with every layer, PHI gate included, so a package
is refused exactly when ``isaprofile validate`` calls the dataset invalid (``allow_invalid`` packages it
anyway and says so in the package; a PHI finding always refuses). The report written into the package
is that same report. Every metadata file is generated in memory, then the bag is built atomically
(:func:`isaprofile.bagit.build.build_bag`), so a refused run leaves nothing behind. The profile
travels with the package: a built-in one by name and version, a user's YAML file copied in.
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
from isaprofile.findings.issues import Report, issue
from isaprofile.findings.render import render
from isaprofile.model import Investigation
from isaprofile.package.datapackage import datapackage
from isaprofile.package.landing import index_html, previews, readme
from isaprofile.package.metadata_checks import MARKER
from isaprofile.package.phi import exceptions_json
from isaprofile.pipeline import ProfileRef, check
from isaprofile.profile.model import Profile

SPLITS: dict[str, dict[str, int]] = {"zenodo": {"max_files": ZENODO["max_files"], "max_bytes": ZENODO["max_bytes"]}}


@dataclass
class PackageResult:
    path: Path | None  # None when nothing was written
    report: Report


def _isatab_bytes(inv: Investigation, profile: Profile | None) -> dict[str, bytes]:
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
    profile: ProfileRef = "auto",
    workers: int | None = None,
    progress=None,
    bagging_date: dt.date | None = None,
) -> PackageResult:
    """Build the deposit package of ``dataset`` at ``out``; see the module docstring."""
    from isaprofile.linked.datacite import as_bytes, datacite, schema_org, zenodo
    from isaprofile.linked.isajson import isa_json_bytes
    from isaprofile.linked.jsonld import ro_crate_bytes

    checked = check(dataset, profile, workers=workers)
    inv, report, payload = checked.investigation, checked.report, checked.payload
    phi_refused = checked.phi is not None and not checked.phi.passed  # never deposited, whatever the flag
    if checked.profile is None and "profile-unknown" not in report.codes():
        report.add(issue("deposit-profile-missing", file="i_investigation.txt"))
    if phi_refused or checked.profile is None or (not report.valid and not allow_invalid):
        return PackageResult(None, report)
    prof = checked.profile
    root = Path(dataset)
    meta = _isatab_bytes(inv, prof)
    meta.update(_profile_files(prof))
    validation_report = render(report.sorted(), "json").encode("utf-8")

    def late_crate(digests: Mapping[str, FileDigest]) -> dict[str, bytes]:
        """The crate, with each file's size and sha256 taken from the bag's copy (no second read)."""
        files = {rel: (d.size, d.digests["sha256"]) for rel, d in digests.items()}
        data, rep = ro_crate_bytes(inv, prof, files=files)
        report.merge(rep)
        return {"ro-crate-metadata.json": data}

    if split is not None:  # a split deposit's crates are made per part, before its bags are built
        meta.update(late_crate(hash_files(payload, workers=workers)))
    meta["metadata/datacite.json"] = as_bytes(datacite(inv))
    meta["metadata/zenodo.json"] = as_bytes(zenodo(inv))
    meta["metadata/schema-org.jsonld"] = as_bytes(schema_org(inv))
    meta["metadata/isa.json"] = isa_json_bytes(inv, prof)
    pngs, rep = previews(inv, root)
    report.merge(rep)
    meta.update(pngs)
    meta["README.md"] = readme(inv, allow_invalid and not report.valid)
    meta["index.html"] = index_html(inv, set(pngs))
    tables = {
        k: v for k, v in meta.items() if k.startswith("metadata/isatab/") and not k.endswith("i_investigation.txt")
    }
    meta["datapackage.json"] = datapackage(inv.identifier, tables, inv.title, inv.licences)
    meta["metadata/validation-report.json"] = validation_report
    bag_info = {
        "Source-Organization": ", ".join(sorted({p.affiliation for p in inv.contacts if p.affiliation})) or "unknown",
        "External-Description": inv.title or inv.identifier,
        "External-Identifier": inv.identifier,
        "Bag-Software-Agent": "isaprofile",
        MARKER: _profile_marker(prof),
    }
    exceptions = exceptions_json(checked.phi) if checked.phi and checked.phi.exceptions else None
    extra = {"phi-exceptions.json": exceptions} if exceptions else None
    date = bagging_date or _release_date(inv)
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
        if exceptions:  # a split deposit has no tag-file hook: record the exceptions in the payload
            meta["metadata/phi-exceptions.json"] = exceptions
        parts = _part_crates(inv, meta["ro-crate-metadata.json"])
        limits = SPLITS[split]
        result = build_split(out, payload, meta, bag_info=bag_info, workers=workers, progress=progress,
                             bagging_date=date, part_metadata=parts, max_files=limits["max_files"],
                             max_bytes=limits["max_bytes"])  # fmt: skip
    else:
        result = build_bag(out, payload, meta, bag_info=bag_info, zip=zip, workers=workers, progress=progress,
                           bagging_date=date, extra_tags=extra, late_metadata=late_crate)  # fmt: skip
    report.merge(result.report)
    return PackageResult(result.path, report)


def verify_package(path: str | Path, *, workers: int | None = None, progress=None) -> Report:
    """Verify a deposit package (folder, zip or split deposit) offline: BagIt fixity and completeness,
    then the pipeline's layers on the ISA-Tab and RO-Crate it holds, with the profile it carries."""
    from isaprofile.bagit.verify import verify_package as verify_bag
    from isaprofile.package.metadata_checks import metadata_checks

    return verify_bag(path, checks=metadata_checks(), workers=workers, progress=progress)


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
