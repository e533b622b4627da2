"""The metadata checks ``isaprofile verify`` runs inside a package, beyond fixity.

- the ISA-Tab in ``data/metadata/isatab/``: structure, and the profile it names with its data files
  resolved against the payload;
- the RO-Crate ``data/ro-crate-metadata.json``: readable JSON-LD with shipped contexts only, and the
  deposit metadata of its root (licence, creators, dates);
- the RO-Crate's own fixity: every File's ``sha256`` and ``contentSize`` against the bag's SHA-256
  manifest and the file's size (or, in a split deposit, the parts index), so a crate that describes
  other bytes than the bag holds is caught even when the bag's manifests are right.

Each check works on a :class:`~isaprofile.bagit.verify.PackageView`, so folders and zips are checked
alike; the (small) ISA-Tab files are copied to a temporary folder for the reader.

A package isaprofile built from a valid dataset carries a receipt in ``bag-info.txt``
(``Isaprofile-Checked: VERSION sha256:DIGEST``, the digest of its payload manifest, see
:func:`payload_digest`): its metadata were made and checked by that version. When the manifest still has
that digest and the metadata files still have their manifest's SHA-256 (as a fixity pass over the same view
without a single finding showed, or hashed here), the metadata are the bytes that were checked, the checks
would find what they found then, and ``verify`` says so (``metadata-unchanged``) instead of re-reading them;
``recheck=True`` runs them anyway.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote

from isaprofile.bagit.build import PARTS_INDEX
from isaprofile.bagit.hashing import FileDigest, hash_stream
from isaprofile.bagit.tags import parse_manifest
from isaprofile.bagit.verify import Check, PackageView
from isaprofile.findings.issues import Issue, Report, issue
from isaprofile.profile.model import Profile, ProfileError, load_profile

ISATAB = "data/metadata/isatab/"
CRATE = "data/ro-crate-metadata.json"


def _prefixed(found: Issue, prefix: str) -> Issue:
    """The finding with its file named by its path in the package."""
    from dataclasses import replace

    return replace(found, file=f"{prefix}{found.file}" if found.file and "/" not in found.file else found.file)


MARKER = "Isaprofile-Profile"  # bag-info label naming the profile of a deposit package
RECEIPT = "Isaprofile-Checked"  # bag-info label: the version that checked the metadata, and what it checked


def payload_digest(entries: Mapping[str, str | FileDigest]) -> str:
    """The SHA-256 of a payload manifest in a canonical form (``sha256 path`` lines sorted by path): what a
    receipt names, independent of the manifest file's order and spacing. ``entries``: path -> hex SHA-256, or
    the file's digests (taken one at a time: a package's 17,836 hex digests and names at once were 4 MiB)."""
    h = hashlib.sha256()
    for path in sorted(entries):
        sha = entries[path]
        hexed = sha.lower() if isinstance(sha, str) else sha.hexdigest("sha256")
        h.update(f"{hexed} {path}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def receipt(digests: Mapping[str, FileDigest]) -> dict[str, str]:
    """The bag-info receipt of a package whose payload has ``digests`` (path in the bag -> digest)."""
    from isaprofile import __version__

    return {RECEIPT: f"{__version__} sha256:{payload_digest(digests)}"}


def made_by_isaprofile(view: PackageView) -> bool:
    """Only deposit packages carry metadata to check; other bags are checked for fixity only."""
    if "bag-info.txt" not in view.files():
        return False
    with view.open("bag-info.txt") as fh:
        return any(line.startswith(MARKER.encode() + b":") for line in fh)


def _bag_info(view: PackageView) -> dict[str, str]:
    with view.open("bag-info.txt") as fh:
        pairs = (line.decode("utf-8", "replace").split(":", 1) for line in fh if b":" in line)
        return {k.strip(): v.strip() for k, v in pairs}


def _later_part(view: PackageView) -> bool:
    """A part of a split deposit other than the first (which alone holds the dataset's metadata)."""
    count = _bag_info(view).get("Bag-Count", "1 of 1").split(" of ")[0]
    return count.strip() not in ("", "1")


def _payload_paths(view: PackageView) -> set[str]:
    """The dataset files this bag holds or, in a split deposit, that any of its parts holds."""
    paths = {f[len("data/") :] for f in view.files() if f.startswith("data/")}
    if PARTS_INDEX in view.files():
        with view.open(PARTS_INDEX) as fh:
            index = json.loads(fh.read())
        paths |= {f["path"] for part in index.get("parts", []) for f in part.get("files", [])}
    return paths


def check_isatab(view: PackageView) -> Report:
    """ISA-Tab structure and profile rules of the package's ISA-Tab."""
    from isaprofile.isatab.read import read_isatab
    from isaprofile.pipeline import check

    report = Report()
    if not made_by_isaprofile(view) or _later_part(view):
        return report
    names = [f for f in view.files() if f.startswith(ISATAB) and "/" not in f[len(ISATAB) :]]
    if not names:
        report.add(issue("package-metadata-missing", file=view.name, path=ISATAB, what="ISA-Tab"))
        return report
    payload = _payload_paths(view)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "isatab"
        folder.mkdir()
        for name in names:
            with view.open(name) as src:
                (folder / name[len(ISATAB) :]).write_bytes(src.read())
        profile, found = _package_profile(view, Path(tmp))
        if profile is not None or "profile-unknown" not in found.codes():
            # the pipeline's layers but files and PHI: the data files are resolved against the payload below
            # (the payload was gated when packaged; fixity proves it unchanged)
            checked = check(folder, profile if profile is not None else "auto", skip=("files", "phi"))
            found.merge(checked.report)
            inv = checked.investigation
        else:
            inv = read_isatab(folder, None).investigation
    for item in found:
        report.add(_prefixed(item, ISATAB))
    for study in inv.studies:
        for scan in study.scans:
            for path in [f.path for f in scan.files] + [g.path for g in scan.segmentations if g.path]:
                if path not in payload and not any(p.startswith(path.rstrip("/") + "/") for p in payload):
                    prov = scan.provenance
                    report.add(issue("data-file-missing", target=path, file=f"{ISATAB}{prov.file}" if prov else None,
                                     line=prov.line if prov else None))  # fmt: skip
    return report


def _package_profile(view: PackageView, tmp: Path) -> tuple[Profile | None, Report]:
    """The profile a package names in bag-info: a built-in by name, or the user's file copied into it."""
    report = Report()
    ref = _bag_info(view).get(MARKER, "").split()
    if len(ref) < 2:
        return None, report  # a built-in profile (or none): the ISA-Tab names it, "auto" loads it
    rel = ref[1]
    folder = tmp / "profile"
    folder.mkdir(exist_ok=True)
    prefix = rel.rsplit("/", 1)[0] + "/"
    for name in view.files():  # the profile and the files it extends travel side by side
        if name.startswith(prefix) and "/" not in name[len(prefix) :]:
            with view.open(name) as src:
                (folder / name[len(prefix) :]).write_bytes(src.read())
    try:
        return load_profile(folder / rel[len(prefix) :]), report
    except ProfileError as exc:
        report.add(issue("profile-unknown", name=ref[0], reason=str(exc), file="bag-info.txt", path=MARKER))
        return None, report


def check_crate_in_package(view: PackageView) -> Report:
    """The RO-Crate parses offline and its root carries the deposit metadata. The crate is read one entity
    at a time (:class:`~isaprofile.linked.context.GraphStream`), so a crate of a million entities is never
    held parsed; a document in another layout is read whole."""
    from isaprofile.linked.context import GraphStream, holds_context, inline_contexts, read_document
    from isaprofile.linked.metadata import CrateChecker, check_crate

    if not made_by_isaprofile(view):
        return Report()
    if CRATE not in view.files():
        report = Report()
        report.add(issue("package-metadata-missing", file=view.name, path=CRATE, what="RO-Crate metadata"))
        return report
    report, contexts = Report(), Report()
    checker = CrateChecker(CRATE)
    with view.open(CRATE) as fh:
        stream = GraphStream(fh, file=CRATE)
        for i, ent in stream:
            if stream.has_context and holds_context(ent):  # the text says "@context": look closer
                contexts.merge(inline_contexts(ent, file=CRATE, at=("@graph", i))[1])
            checker.feed(i, ent)
    if not stream.streamable:  # not a top-level object with a @graph array: read it whole
        with view.open(CRATE) as fh:
            doc, report = read_document(fh.read(), file=CRATE)
        if doc is not None:
            expanded, rep = inline_contexts(doc, file=CRATE)  # a remote context we do not ship is a finding
            report.merge(rep)
            if expanded is not None:
                report.merge(check_crate(doc, file=CRATE))
        return report
    if stream.report.issues:
        return stream.report
    for member in (stream.head, stream.tail):
        if "@context" in member:
            contexts.merge(inline_contexts({"@context": member["@context"]}, file=CRATE)[1])
    report.merge(contexts)
    if not contexts.issues:  # a remote context we do not ship is a finding, and the crate is not read further
        report.merge(checker.finish())
    return report


def _crate_file(ent: object) -> tuple[str, tuple[str | None, str | None]] | None:
    """(bag path ``data/...``, (sha256, contentSize)) of a crate entity that states either, else None."""
    if not isinstance(ent, dict) or not isinstance(ent.get("@id"), str):
        return None
    ident = ent["@id"]
    if ident.startswith("#") or ":" in ident.split("/", 1)[0] or ident in ("./", "ro-crate-metadata.json"):
        return None
    sha, size = ent.get("sha256"), ent.get("contentSize")
    if sha is None and size is None:
        return None
    rel = unquote(ident)
    while rel.startswith("./"):
        rel = rel[2:]
    if not rel or rel.endswith("/"):
        return None  # a folder (a DICOM series) has no digest of its own
    return f"data/{rel}", (
        sha if isinstance(sha, str) else None,
        str(size) if isinstance(size, str | int) and not isinstance(size, bool) else None,
    )


def _split_index(view: PackageView) -> dict[str, tuple[str, int]]:
    """Dataset path -> (sha256, size) from a split deposit's parts index, when there is one."""
    if PARTS_INDEX not in view.files():
        return {}
    with view.open(PARTS_INDEX) as fh:
        index = json.loads(fh.read())
    return {
        f"data/{f['path']}": (f["sha256"], f["size"]) for part in index.get("parts", []) for f in part.get("files", [])
    }


def check_crate_digests(view: PackageView) -> Report:
    """Each crate File's ``sha256`` and ``contentSize`` agree with the bag (or the parts index)."""
    report = Report()
    if not made_by_isaprofile(view) or CRATE not in view.files():
        return report
    from isaprofile.linked.context import GraphStream

    claims: dict[str, tuple[str | None, str | None]] = {}
    with view.open(CRATE) as fh:
        stream = GraphStream(fh, file=CRATE)
        entities = list(_whole_graph(view)) if not stream.streamable else stream
        for _, ent in entities:
            found = _crate_file(ent)
            if found is not None:
                claims[found[0]] = found[1]
    if stream.report.issues:
        return report  # unreadable JSON is check_crate_in_package's finding
    if not claims:
        return report
    present = set(view.files())
    manifest: dict[str, str] = {}
    if "manifest-sha256.txt" in present:
        with view.open("manifest-sha256.txt") as fh:
            manifest, _ = parse_manifest(fh)
    index = _split_index(view)
    for path, (sha, size) in sorted(claims.items()):
        if path in present:
            found_sha, found_size = manifest.get(path), str(view.size(path))
        elif path in index:
            found_sha, found_size = index[path][0], str(index[path][1])
        else:
            reason = "the crate describes a file the package does not hold"
            report.add(issue("crate-file-mismatch", file=CRATE, path=path, reason=reason))
            continue
        if sha is not None and found_sha is not None and sha.lower() != found_sha.lower():
            reason = f"sha256 is {sha} in the crate, {found_sha} in the package"
            report.add(issue("crate-file-mismatch", file=CRATE, path=path, reason=reason))
        if size is not None and size != found_size:
            reason = f"contentSize is {size} in the crate, {found_size} bytes in the package"
            report.add(issue("crate-file-mismatch", file=CRATE, path=path, reason=reason))
    return report


def _whole_graph(view: PackageView) -> Iterator[tuple[int, object]]:
    """The ``@graph`` entities of a crate in another layout, read whole (none when it is not JSON)."""
    with view.open(CRATE) as fh:
        data = fh.read()
    try:
        doc = json.loads(data)
    except ValueError:
        return  # unreadable JSON is check_crate_in_package's finding
    graph = doc.get("@graph") if isinstance(doc, dict) else None
    yield from enumerate(graph if isinstance(graph, list) else [])


def _checked(view: PackageView, names: Iterable[str]) -> list[str]:
    """Those of ``names`` the metadata checks read: the ISA-Tab, the crate and the profile the package carries."""
    ref = _bag_info(view).get(MARKER, "").split()
    prefix = ref[1].rsplit("/", 1)[0] + "/" if len(ref) >= 2 else None
    return [f for f in names if f == CRATE or f.startswith(ISATAB) or (prefix and f.startswith(prefix))]


def unchanged_since_checked(view: PackageView) -> bool:
    """Whether the package's metadata are the bytes its receipt says this version checked (module docstring):
    the receipt names this version, the payload manifest has the receipt's digest, and every metadata file
    the checks read, in the package or in its manifest, is in both and hashes to its manifest entry (as a
    ``verify_bag`` without a single finding recorded in ``view.bag_clean``, or hashed here)."""
    from isaprofile import __version__

    if not made_by_isaprofile(view) or "manifest-sha256.txt" not in view.files():
        return False
    version, _, digest = _bag_info(view).get(RECEIPT, "").partition(" sha256:")
    if version != __version__ or not digest:
        return False
    with view.open("manifest-sha256.txt") as fh:
        entries, problems = parse_manifest(fh)
    if problems or payload_digest(entries) != digest.strip().lower():
        return False
    present = set(view.files())
    names = set(_checked(view, present)) | set(_checked(view, entries))
    if CRATE not in names or not any(n.startswith(ISATAB) for n in names):
        return False
    clean = getattr(view, "bag_clean", None) is True  # verify_bag found every listed file matching
    for name in sorted(names):
        if name not in present or name not in entries:
            return False
        if clean:
            continue
        with view.open(name) as fh:
            if entries[name] != hash_stream(fh, ("sha256",)).hexdigest("sha256"):
                return False
    return True


def metadata_checks(recheck: bool = False) -> list[Check]:
    """The checks ``verify`` runs on every bag of a package: all of them with ``recheck``; otherwise a bag
    whose metadata are unchanged since its receipt (:func:`unchanged_since_checked`) gets the note
    ``metadata-unchanged`` instead. Each check stays a check of its own, so one that fails does not hide
    the others."""
    checks: list[Check] = [check_isatab, check_crate_in_package, check_crate_digests]
    if recheck:
        return checks
    known: dict[int, tuple[PackageView, bool]] = {}  # per bag: worked out once for all the checks

    def unchanged(view: PackageView) -> bool:
        hit = known.get(id(view))
        if hit is None or hit[0] is not view:
            hit = known[id(view)] = (view, unchanged_since_checked(view))
        return hit[1]

    def receipt_note(view: PackageView) -> Report:
        if not unchanged(view):
            return Report()
        version = _bag_info(view)[RECEIPT].split()[0]
        return Report([issue("metadata-unchanged", file="bag-info.txt", path=RECEIPT, version=version)])

    def unless_unchanged(check: Check) -> Check:
        def run(view: PackageView) -> Report:
            return Report() if unchanged(view) else check(view)

        run.__qualname__ = getattr(check, "__qualname__", "check")
        return run

    return [receipt_note, *(unless_unchanged(c) for c in checks)]


def verify_package(path: str | Path, *, workers: int | None = None, progress=None, recheck: bool = False) -> Report:
    """Verify a deposit package (folder, zip or split deposit) offline: BagIt fixity and completeness,
    then the pipeline's layers on the ISA-Tab and RO-Crate it holds, with the profile it carries; for a
    package whose metadata are still the bytes its receipt names, the note ``metadata-unchanged`` instead
    of those checks, unless ``recheck`` (see the module docstring)."""
    from isaprofile.bagit.verify import verify_package as verify_bag

    return verify_bag(path, checks=metadata_checks(recheck), workers=workers, progress=progress)
