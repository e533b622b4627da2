"""Propose a dataset config for a folder: which sheets, headers → fields, file globs, DICOM vs NIfTI.

Used by ``isaprofile init``. The proposal is a starting point for a curator: sheets are matched to profile
fields by labels and aliases, files are grouped into globs by folder shape, segmentation folders are told
apart by their names; what cannot be guessed (creators, licences) is left for the curator to add.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from isaprofile.harvest.sheets import SheetError, read_table, sheet_names
from isaprofile.profile.coerce import split_header
from isaprofile.profile.model import Profile, load_profile

SHEET_SUFFIXES = (".xlsx", ".csv", ".tsv")
_SEG_WORDS = re.compile(r"seg|mask|label|ground[-_ ]?truth", re.IGNORECASE)
_MAX_FILES = 20000


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def scan_files(root: Path) -> tuple[list[str], list[str], list[str]]:
    """Relative paths of the sheets, DICOM files and NIfTI files under ``root`` (hidden entries skipped)."""
    sheets, dicom, nifti = [], [], []
    for n, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
        if n > _MAX_FILES:
            break
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        low = rel.lower()
        if low.endswith(SHEET_SUFFIXES):
            sheets.append(rel)
        elif low.endswith((".nii", ".nii.gz")):
            nifti.append(rel)
        elif not low.endswith((".json", ".yaml", ".yml", ".py", ".md", ".txt", ".tcia")) and _is_dicom(path):
            dicom.append(rel)
    return sheets, dicom, nifti


def guess_profile(dicom: list[str], nifti: list[str]) -> str:
    """``clinical-ct`` for DICOM, ``pet-ct`` for NIfTI with a PET folder, else ``preclinical-imaging``."""
    if dicom:
        return "clinical-ct"
    if any(re.search(r"(^|/)(PT|PET)(/|$)", p) for p in nifti):
        return "pet-ct"
    return "preclinical-imaging"


def _shape(rel: str) -> str:
    """The glob of files shaped like ``rel``: its top folder kept, deeper folders and the stem as ``*``."""
    parts = rel.split("/")
    ext = ".nii.gz" if parts[-1].lower().endswith(".nii.gz") else Path(parts[-1]).suffix
    if len(parts) == 1:
        return f"*{ext}"
    return "/".join([parts[0], *(["*"] * (len(parts) - 2)), f"*{ext}"])


def propose_files(dicom: list[str], nifti: list[str], labels: str | None = None) -> list[dict[str, Any]]:
    """One ``files:`` entry per folder shape; the subject is the top folder (DICOM) or the file stem (NIfTI)."""
    out: list[dict[str, Any]] = []
    if dicom:
        top = Counter(p.split("/")[0] for p in dicom)
        prefix = _common_prefix(list(top))
        depth = Counter(p.count("/") for p in dicom).most_common(1)[0][0]
        glob = "/".join([f"{prefix}*", *(["*"] * (depth - 1)), "*.dcm"]) if depth else "*.dcm"
        entry: dict[str, Any] = {"glob": glob, "segments": "CT"}
        if depth:
            entry["pattern"] = rf"(?P<subject>{re.escape(prefix)}[^/]*)/.*"
        out.append(entry)
    for glob in sorted({_shape(p) for p in nifti}):
        is_seg = bool(_SEG_WORDS.search(glob))
        parts = glob.split("/")
        pattern_parts = [re.escape(parts[0])]
        for i, _part in enumerate(parts[1:-1]):
            pattern_parts.append("(?P<group>[^/]+)" if is_seg and i == 0 else
                                 "(?P<modality>[^/]+)" if i == 0 else "[^/]+")  # fmt: skip
        pattern_parts.append(r"(?P<subject>[^/]+?)\.nii(\.gz)?")
        entry = {"glob": glob, "pattern": "/".join(pattern_parts)}
        if is_seg:
            entry.update(role="segmentation", segments="CT")
            if labels:
                entry["labels"] = labels
        out.append(entry)
    return out


def _common_prefix(names: list[str]) -> str:
    prefix = names[0] if names else ""
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rstrip("0123456789")


def propose_sheets(root: Path, sheets: list[str], profile: Profile) -> list[dict[str, Any]]:
    """A ``sheets:`` entry for every sheet with at least one header that maps to a profile field."""
    out: list[dict[str, Any]] = []
    for rel in sheets:
        try:
            names = sheet_names(root / rel)
        except SheetError:
            continue
        for name in names:
            try:
                table = read_table(root / rel, name or None, display=rel)
            except SheetError:
                continue
            entry = _sheet_entry(rel, name, table.headers, profile)
            if entry is not None:
                out.append(entry)
    return out


def _sheet_entry(rel: str, sheet: str, headers: list[str], profile: Profile) -> dict[str, Any] | None:
    entities: Counter[str] = Counter()
    subject_col = None
    for header in headers:
        name = split_header(header)[0]
        for entity in ("subject", "sample", "scan"):
            fld = profile.by_header(entity, name) or profile.by_header(entity, header)
            if fld is None:
                continue
            if fld.isa == "source-name" and subject_col is None:
                subject_col = header
            else:
                entities[entity] += 1
            break
    if not entities:
        return None
    entry: dict[str, Any] = {"file": rel}
    if sheet:
        entry["sheet"] = sheet
    entry["entity"] = entities.most_common(1)[0][0]
    if subject_col:
        entry["link"] = {"subject": subject_col}
    token = re.search(r"(?:^|[^A-Za-z])(CT|PT|PET|MR|MRI)(?:[^A-Za-z]|$)", Path(rel).name)
    if entry["entity"] == "scan" and token:
        entry["modality"] = token.group(1)
    return entry


def propose_config(root: Path, profile: str | None = None) -> dict[str, Any]:
    """The proposed ``isaprofile.yaml`` document for the folder ``root``."""
    sheets, dicom, nifti = scan_files(root)
    name = profile or guess_profile(dicom, nifti)
    prof = load_profile(name)
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", root.resolve().name).strip("-") or "dataset"
    doc: dict[str, Any] = {
        "profile": prof.id,
        "investigation": {"identifier": ident, "title": root.resolve().name, "licences": [], "creators": []},
    }
    proposed_sheets = propose_sheets(root, sheets, prof)
    if proposed_sheets:
        doc["sheets"] = proposed_sheets
    labels = next((p for p in ("labels.json", "dataset.json") if (root / p).is_file()), None)
    files = propose_files(dicom, nifti, labels)
    if files:
        doc["files"] = files
    return doc
