"""Verify one bag (RFC 8493), a folder or a zip, whoever made it.

Public API::

    verify_bag(view, *, workers=None, progress=None) -> Report
    verify_one(path, *, checks=(), workers=None, limits=None, progress=None) -> Report

Bag checks: bagit.txt present and well formed; bag-info.txt parsable and its Payload-Oxum right;
every digest of every manifest recomputed (each file read once for all algorithms); files listed
but missing; files present but unlisted (payload in every payload manifest, tag files in every
tag manifest); unsafe names, symlinks and devices; for isaprofile-made bags, both SHA-256 and
SHA-512 payload and tag manifests. Findings name the path, the manifest, the expected and the
found digest.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from isaprofile.bagit.errors import PackageError
from isaprofile.bagit.hashing import ALGORITHMS, FileDigest, hash_files, hash_stream
from isaprofile.bagit.paths import check_paths, path_problem
from isaprofile.bagit.tags import (
    BAG_INFO,
    DECLARATION,
    PAYLOAD_DIR,
    SOFTWARE,
    parse_bag_info,
    parse_bagit_txt,
    parse_manifest,
    payload_oxum,
)
from isaprofile.bagit.views import Check, FolderView, PackageView, ZipView, run_checks
from isaprofile.bagit.ziputil import SafeZip, ZipLimits
from isaprofile.findings.issues import Report, issue
from isaprofile.progress import Progress

_MANIFEST = re.compile(r"^(tag)?manifest-([a-z0-9]+)\.txt$")


def _read_text(view: PackageView, rel: str, report: Report) -> str | None:
    try:
        with view.open(rel) as fh:
            return fh.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        report.add(issue("manifest-invalid", file=rel, line=1, reason=f"not UTF-8 at byte {exc.start}"))
    except (OSError, zipfile.BadZipFile) as exc:
        report.add(issue("package-unreadable", file=rel, reason=str(exc)))
    return None


def _digest_all(
    view: PackageView, wanted: dict[str, set[str]], workers: int | None, progress: Progress | None
) -> tuple[dict[str, FileDigest], Report]:
    """Each wanted file read once for all its algorithms; unreadable files become findings."""
    report = Report()
    algos = sorted({a for names in wanted.values() for a in names})
    if isinstance(view, FolderView):
        try:
            return hash_files(
                {rel: view.path(rel) for rel in wanted}, algorithms=algos, workers=workers, progress=progress
            ), report
        except PackageError as exc:
            report.add(exc.issue)
            return {}, report
    out: dict[str, FileDigest] = {}
    for rel in wanted:
        try:
            with view.open(rel) as fh:
                out[rel] = hash_stream(fh, algos, progress=progress)
        except (OSError, zipfile.BadZipFile) as exc:
            report.add(issue("zip-invalid", file=view.name, path=rel, reason=str(exc)))
    return out, report


def verify_bag(view: PackageView, *, workers: int | None = None, progress: Progress | None = None) -> Report:
    """Check one bag's declaration, bag-info, manifests, completeness and full fixity."""
    report = Report()
    files = view.files()
    present = set(files)
    report.merge(check_paths(files, file=view.name))
    if DECLARATION not in present:
        report.add(issue("bag-declaration", file=DECLARATION, reason="missing"))
    else:
        text = _read_text(view, DECLARATION, report)
        reason = parse_bagit_txt(text) if text is not None else None
        if reason:
            report.add(issue("bag-declaration", file=DECLARATION, reason=reason))
    info: dict[str, str] = {}
    if BAG_INFO in present:
        text = _read_text(view, BAG_INFO, report) or ""
        fields, problems = parse_bag_info(text)
        info = dict(fields)
        for line, reason in problems:
            report.add(issue("bag-info-invalid", file=BAG_INFO, line=line, reason=reason))
    manifests: dict[str, tuple[bool, str, dict[str, str]]] = {}
    for rel in files:
        m = _MANIFEST.match(rel)
        if not m:
            continue
        algo = m.group(2)
        if algo not in hashlib.algorithms_available:
            report.add(issue("manifest-invalid", file=rel, line=1, reason=f"unknown algorithm {algo}"))
            continue
        text = _read_text(view, rel, report)
        if text is None:
            continue
        entries, problems = parse_manifest(text)
        for line, reason in problems:
            report.add(issue("manifest-invalid", file=rel, line=line, reason=reason))
        manifests[rel] = (bool(m.group(1)), algo, entries)
    _expect_manifests(report, manifests, info)
    payload = [f for f in files if f.startswith(f"{PAYLOAD_DIR}/")]
    tags = [f for f in files if not f.startswith(f"{PAYLOAD_DIR}/") and not f.startswith("tagmanifest-")]
    wanted: dict[str, set[str]] = {}
    for rel, (is_tag, algo, entries) in sorted(manifests.items()):
        scope = tags if is_tag else payload
        for path in sorted(entries):
            reason = path_problem(path)
            if reason or (not is_tag and not path.startswith(f"{PAYLOAD_DIR}/")):
                report.add(issue("unsafe-path", file=rel, path=path, reason=reason or "outside data/"))
            elif path not in present:
                report.add(issue("file-missing-from-payload", file=rel, path=path))
            else:
                wanted.setdefault(path, set()).add(algo)
        for path in scope:
            if path not in entries:
                report.add(issue("unexpected-file", file=rel, path=path))
    digests, problems = _digest_all(view, wanted, workers, progress)
    report.merge(problems)
    for rel, (_, algo, entries) in sorted(manifests.items()):
        for path, expected in sorted(entries.items()):
            got = digests.get(path)
            if got is not None and got.digests[algo] != expected:
                report.add(
                    issue("fixity-mismatch", file=rel, path=path, algorithm=algo,
                          expected=expected, found=got.digests[algo])
                )  # fmt: skip
    if "Payload-Oxum" in info:
        found = payload_oxum(sum(view.size(p) for p in payload), len(payload))
        if info["Payload-Oxum"] != found:
            report.add(issue("oxum-mismatch", file=BAG_INFO, expected=info["Payload-Oxum"], found=found))
    report.stats.update(files_checked=len(digests), bytes_checked=sum(d.size for d in digests.values()))
    return report


def _expect_manifests(
    report: Report, manifests: dict[str, tuple[bool, str, dict[str, str]]], info: dict[str, str]
) -> None:
    ours = info.get("Bag-Software-Agent", "") == SOFTWARE
    payload = [m for m, (tag, _, _) in manifests.items() if not tag]
    if not payload:
        report.add(issue("manifest-missing", file="manifest-sha256.txt"))
    has_tag = any(tag for tag, _, _ in manifests.values())
    if not ours:
        if not has_tag:
            report.add(issue("tag-manifest-missing", file="tagmanifest-sha256.txt"))
        return
    for algo in ALGORITHMS:  # isaprofile bags always carry both algorithms for payload and tags
        if f"manifest-{algo}.txt" not in manifests and payload:
            report.add(issue("manifest-missing", file=f"manifest-{algo}.txt"))
        if f"tagmanifest-{algo}.txt" not in manifests:
            report.add(issue("tag-manifest-missing", file=f"tagmanifest-{algo}.txt", severity="error"))


def verify_one(
    path: Path,
    *,
    checks: Iterable[Check] = (),
    workers: int | None = None,
    limits: ZipLimits | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify one bag, a folder or a zip file, then run ``checks`` on it."""
    if path.is_dir() and not path.is_symlink():
        view = FolderView(path)
        report = view.report
        report.merge(verify_bag(view, workers=workers, progress=progress))
        return report.merge(run_checks(view, checks))
    if path.is_file() and not path.is_symlink():
        try:
            safe = SafeZip(path, limits)
        except PackageError as exc:
            return Report([issue("package-unreadable", file=str(path), reason=exc.issue.message)])
        with safe:
            zview = ZipView(safe)
            report = Report(list(safe.report.issues))
            report.merge(verify_bag(zview, workers=workers, progress=progress))
            return report.merge(run_checks(zview, checks))
    return Report([issue("package-unreadable", file=str(path), reason="not a folder or a zip file")])
