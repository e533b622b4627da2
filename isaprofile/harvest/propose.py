"""Propose a dataset config for a folder: which sheets, headers → fields, file globs, DICOM vs NIfTI.

Used by ``isaprofile init``. The proposal is a starting point for a curator: sheets are matched to profile
fields by labels and aliases, files are grouped into globs by folder shape, segmentation folders are told
apart by their names; what cannot be guessed (creators, licences) is left for the curator to add.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from isaprofile.harvest.mapping import MODALITY_KEYS
from isaprofile.harvest.sheets import SheetError, read_table, sheet_names
from isaprofile.profile.coerce import split_header
from isaprofile.profile.model import Profile, list_profiles, load_profile

SHEET_SUFFIXES = (".xlsx", ".csv", ".tsv")
_SEG_WORDS = re.compile(r"seg|mask|label|ground[-_ ]?truth", re.IGNORECASE)
_MAX_FILES = 20000
# a path component naming a modality (ENHANCE's images/CT, images/PT; CT_0001-1000; a "-ct"/"_mri" suffix)
_MODALITY_TOKEN = re.compile(r"(?:^|[^A-Za-z])(CT|PT|PET|MR|MRI)(?:[^A-Za-z]|$)", re.IGNORECASE)
# an identifier: letters/dashes then digits (0001, sub-01, CRLM-CT-1001, MASH-02)
_ID_LIKE = re.compile(r"^(?:[A-Za-z]+[-_]?)*\d+$")
# widely used "missing" codes of clinical sheets (TCIA CRLM uses -999 and 999)
_SENTINELS = ("-999", "999", "-9999", "9999", "-99")
# ISO/IEC 5218 codes for sex (also DICOM-adjacent registries): 1 male, 2 female
_ISO_5218 = {"1": "male", "2": "female"}
# software that writes NIfTI descrip and processes MR series (a hint, stated as one in the proposal)
_MR_TOOLS = re.compile(r"\b(spm|fsl|freesurfer|dcm2niix|mrtrix|afni)\b", re.IGNORECASE)
PROFILE_FILE = "isaprofile-profile.yaml"


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


@dataclass
class Proposal:
    """What ``init`` proposes: the config document, files to write beside it, and notes for the curator."""

    config: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def dicom_modalities(root: Path, dicom: list[str]) -> dict[str, tuple[str, bool]]:
    """Per DICOM folder: (profile modality key, whether it holds a PatientID), from its first file's header."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    out: dict[str, tuple[str, bool]] = {}
    for rel in dicom:
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if folder in out:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(root / rel, stop_before_pixels=True, force=True,
                             specific_tags=["Modality", "PatientID"])  # fmt: skip
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            del exc  # an unreadable file is the harvest's finding, not the proposal's
            continue
        modality = str(ds.get("Modality") or "").upper()
        out[folder] = (MODALITY_KEYS.get(modality, modality or "unknown"), bool(str(ds.get("PatientID") or "")))
    return out


def nifti_modality(root: Path, rel: str) -> tuple[str | None, str]:
    """The modality of a NIfTI file and why: a path component naming it, its sidecar's Modality, or a hint."""
    for part in reversed(rel.split("/")):
        m = _MODALITY_TOKEN.search(part.removesuffix(".gz").removesuffix(".nii"))
        if m:
            return MODALITY_KEYS.get(m.group(1).upper().replace("PET", "PT"), m.group(1).upper()), "path"
    sidecar = root / (rel.removesuffix(".gz").removesuffix(".nii") + ".json")
    if sidecar.is_file():
        try:
            import json

            mod = json.loads(sidecar.read_text(encoding="utf-8")).get("Modality")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            mod = None
        if isinstance(mod, str) and mod:
            return MODALITY_KEYS.get(mod.upper(), mod.upper()), "sidecar"
    try:
        import nibabel

        header: Any = nibabel.load(root / rel).header  # a Nifti1Header for .nii / .nii.gz
        descrip = bytes(header["descrip"]).split(b"\0", 1)[0].decode("latin-1")
        shape = header.get_data_shape()
    except (OSError, ValueError, KeyError, TypeError, EOFError, nibabel.filebasedimages.ImageFileError) as exc:
        del exc  # an unreadable NIfTI is the harvest's finding, not the proposal's
        return None, "unknown"
    if _MR_TOOLS.search(descrip) or (len(shape) == 4 and shape[3] > 1):
        return "MRI", "hint"
    return None, "unknown"


def guess_profile(dicom: list[str], nifti: list[str]) -> str:
    """``clinical-ct`` for DICOM, ``pet-ct`` for NIfTI with a PET folder, else ``preclinical-imaging``."""
    if dicom:
        return "clinical-ct"
    if any(re.search(r"(^|/)(PT|PET)(/|$)", p) for p in nifti):
        return "pet-ct"
    return "preclinical-imaging"


def _builtin_yaml(name: str, version: str) -> dict[str, Any]:
    text = (resources.files("isaprofile") / "profiles" / name / version / "profile.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


_ATTRIBUTE_ISA = ("characteristic", "comment", "parameter", "factor")


def burden(profile: Profile, kinds: set[str]) -> int:
    """How many required attributes of ``profile`` neither a header of ``kinds`` nor a default would fill."""
    return sum(
        1
        for f in profile.fields
        if f.level == "required" and f.isa in _ATTRIBUTE_ISA and f.default is None
        and not any(kind in kinds for kind, _k in f.harvest)
    )  # fmt: skip


def choose_profile(modalities: set[str], kinds: set[str], ident: str) -> tuple[str, str | None, list[str]]:
    """The profile for ``modalities`` (profile assay keys) found in files of ``kinds`` (``dicom``, ``nifti``):
    the built-in covering all of them that asks least of the curator (fewest required attributes no header
    fills), or, when none covers all, that least demanding profile composed with the assays and
    modality-specific fields of the profiles that have the others. Returns (profile reference, composed
    YAML text or None, notes)."""
    wanted = {m for m in modalities if m not in ("SEG", "unknown")} or {"CT"}
    builtins = [(n, v, load_profile(f"{n}@{v}")) for n, v in list_profiles()]
    covering = [b for b in builtins if wanted <= set(b[2].assays)]
    if covering:
        best = min(covering, key=lambda b: burden(b[2], kinds))
        return best[2].id, None, []
    useful = [b for b in builtins if wanted & set(b[2].assays)] or builtins
    best = min(useful, key=lambda b: (burden(b[2], kinds), -len(wanted & set(b[2].assays))))
    missing = sorted(wanted - set(best[2].assays))
    if not missing:
        return best[2].id, None, []
    data = _builtin_yaml(best[0], best[1])
    data["name"], data["version"] = f"{ident}-composed", "1.0"
    data["title"] = f"{best[2].title or best[0]} with {', '.join(missing)} (composed by isaprofile init)"
    keys = {f["key"]: f for f in data["fields"]}
    notes = []
    for modality in missing:
        donor = next((b for b in builtins if modality in b[2].assays), None)
        if donor is None:
            notes.append(f"no built-in profile has a {modality} assay: its files are left out")
            continue
        other = _builtin_yaml(donor[0], donor[1])
        data["assays"][modality] = other["assays"][modality]
        data.setdefault("ontologies", {}).update(
            {k: v for k, v in (other.get("ontologies") or {}).items() if k not in data.get("ontologies", {})}
        )
        for fld in other["fields"]:
            mods = fld.get("modalities") or []
            if fld["key"] in keys:
                base = keys[fld["key"]]
                if mods and modality in mods and base.get("modalities"):
                    base["modalities"] = list(dict.fromkeys([*base["modalities"], modality]))
                if base.get("isa") == "modality" and base.get("terms") is not None:
                    have = {str(t.get("label")).upper() for t in base["terms"]}
                    for term in fld.get("terms") or []:
                        names = {str(term.get("label")).upper(), *(str(x).upper() for x in term.get("synonyms") or [])}
                        if modality.upper() in names and str(term.get("label")).upper() not in have:
                            base["terms"].append(term)
                harvest = dict(base.get("harvest") or {})
                for kind, k in (fld.get("harvest") or {}).items():
                    harvest.setdefault(kind, k)
                if harvest:
                    base["harvest"] = harvest
            elif modality in mods:
                new = {**fld, "modalities": [modality]}
                data["fields"].append(new)
                keys[fld["key"]] = new
        notes.append(f"{modality}: assay and {modality}-only fields taken from {donor[2].id}")
    header = f"# Composed by `isaprofile init`: {best[2].id} does not cover {', '.join(missing)}; check its fields.\n"
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return (
        PROFILE_FILE,
        text,
        [
            f"profile {best[2].id} covers {', '.join(sorted(wanted & set(best[2].assays)))}"
            f"; composed {PROFILE_FILE} for {', '.join(missing)}",
            *notes,
        ],
    )


def _shape(rel: str, keep: int = 1) -> str:
    """The glob of files shaped like ``rel``: its ``keep`` top folders kept (a wrapper folder every file
    shares, such as ENHANCE.PET's ``imaging-data/``, plus the next one), deeper folders and the stem as ``*``."""
    parts = rel.split("/")
    ext = ".nii.gz" if parts[-1].lower().endswith(".nii.gz") else Path(parts[-1]).suffix
    if len(parts) == 1:
        return f"*{ext}"
    keep = min(keep, len(parts) - 1)
    return "/".join([*parts[:keep], *(["*"] * (len(parts) - 1 - keep)), f"*{ext}"])


def _wrapper_depth(paths: list[str]) -> int:
    """How many leading folders every path shares while still having two levels below them."""
    split = [p.split("/") for p in paths]
    depth = 0
    while all(len(s) > depth + 2 for s in split) and len({s[depth] for s in split}) == 1:
        depth += 1
    return depth


def _id_like_tops(paths: list[str]) -> str | None:
    """The common prefix of the top folders when they look like subject identifiers (CRLM-CT-1001 …)."""
    tops = sorted({p.split("/")[0] for p in paths if "/" in p})
    if len(tops) < 2 or not all(_ID_LIKE.match(t) for t in tops):
        return None
    return _common_prefix(tops)


def propose_dicom(dicom: list[str], folders: dict[str, tuple[str, bool]], covered: set[str]) -> list[dict[str, Any]]:
    """``files:`` entries for DICOM: one glob when the top folders are subject IDs (TCIA: ``CRLM-CT-*``),
    else one per folder, the subject taken from the header's PatientID and the modality from Modality."""
    if not dicom:
        return []
    prefix = _id_like_tops(dicom)
    if prefix is not None:
        depth = Counter(p.count("/") for p in dicom).most_common(1)[0][0]
        glob = "/".join([f"{prefix}*", *(["*"] * (depth - 1)), "*.dcm"])
        return [{"glob": glob, "segments": "CT", "pattern": rf"(?P<subject>{re.escape(prefix)}[^/]*)/.*"}]
    out: list[dict[str, Any]] = []
    for folder in sorted({p.rsplit("/", 1)[0] if "/" in p else "" for p in dicom}):
        modality, _has_id = folders.get(folder, ("unknown", False))
        if modality not in covered and modality != "SEG":
            continue
        glob = f"{folder}/*.dcm" if folder else "*.dcm"
        entry: dict[str, Any] = {"glob": glob}
        if modality == "SEG":
            entry["segments"] = "CT"
        out.append(entry)
    return out


def _nifti_pattern(glob: str, modality_folder: int | None, subject_at: str) -> str:
    parts = glob.split("/")
    out = []
    for i, part in enumerate(parts[:-1]):
        if part != "*":
            out.append(re.escape(part))
        elif subject_at == f"folder{i}":
            out.append("(?P<subject>[^/]+)")
        elif modality_folder == i:  # CT, PT … as the folder's name or its start (ENHANCE: CT_0001-1000)
            out.append("(?P<modality>CT|PT|PET|MRI|MR)(?:[^A-Za-z/][^/]*)?")
        else:
            out.append("[^/]+")
    stem = "(?P<subject>[^/]+?)" if subject_at == "stem" else "[^/]+?"
    out.append(stem + r"\.nii(\.gz)?")
    return "/".join(out)


def propose_nifti(root: Path, nifti: list[str], labels: str | None, covered: set[str],
                  notes: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """``files:`` entries for NIfTI, one per folder shape. The subject is the nearest path part that looks
    like an identifier (a folder, or the file stem as in ENHANCE's ``0001.nii.gz``); a modality comes
    from a path part naming one (``CT``, ``PT``), the sidecar or, stated as a guess, the header."""
    out: list[dict[str, Any]] = []
    by_glob: dict[str, list[str]] = {}
    keep = _wrapper_depth(nifti) + 1 if nifti else 1
    for rel in nifti:
        by_glob.setdefault(_shape(rel, keep), []).append(rel)
    for glob, files in sorted(by_glob.items()):
        is_seg = bool(_SEG_WORDS.search(glob))
        parts = [f.split("/") for f in files]
        depth = len(parts[0]) - 1
        stems = [p[-1].removesuffix(".gz").removesuffix(".nii") for p in parts]
        subject_at = "stem" if all(_ID_LIKE.match(st) for st in stems) else ""
        if not subject_at:
            for i in range(depth - 1, 0, -1):
                if all(_ID_LIKE.match(p[i]) for p in parts):
                    subject_at = f"folder{i}"
                    break
        if not subject_at:
            subject_at = "stem"
            notes.append(f"{glob}: no identifier in the paths; each file stem is taken as a subject")
        modalities = {nifti_modality(root, f) for f in files}
        entry: dict[str, Any] = {"glob": glob}
        modality_folder = None
        tokens = [i for i in range(1, depth) if all(_MODALITY_TOKEN.match(p[i]) for p in parts)]
        if is_seg:
            entry["pattern"] = _nifti_pattern(glob, None, subject_at).replace(
                "[^/]+", "(?P<group>[^/]+)", 1) if depth > 1 else _nifti_pattern(glob, None, subject_at)  # fmt: skip
            entry.update(role="segmentation", segments="CT")
            if labels:
                entry["labels"] = labels
            out.append(entry)
            continue
        if tokens:
            modality_folder = tokens[0]
        elif len({m for m, _why in modalities}) == 1:
            mod, why = next(iter(modalities))
            if mod is None:
                notes.append(f"{glob}: modality unknown (no path part, sidecar or header names it): files left out")
                continue
            entry["modality"] = mod
            if why == "hint":
                notes.append(f"{glob}: modality {mod} guessed from the NIfTI header (4-D, or written by SPM/FSL)")
        entry["pattern"] = _nifti_pattern(glob, modality_folder, subject_at)
        mods = {m for m, _w in modalities if m}
        if mods and not mods & covered:
            notes.append(f"{glob}: {', '.join(sorted(mods))} not covered by the profile: files left out")
            continue
        out.append(entry)
    return out


def propose_files(dicom: list[str], nifti: list[str], labels: str | None = None) -> list[dict[str, Any]]:
    """``files:`` entries for DICOM and NIfTI paths (without reading headers; see :func:`propose`)."""
    return propose_dicom(dicom, {}, {"CT"}) + propose_nifti(Path("."), nifti, labels, {"CT", "PET", "MRI"}, [])


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


def _sentinels_and_maps(root: Path, entry: dict[str, Any], profile: Profile) -> None:
    """Add the ``missing:`` sentinels and ``values:`` maps the sheet's data show (ISO/IEC 5218 for sex)."""
    try:
        table = read_table(root / entry["file"], entry.get("sheet"), display=entry["file"])
    except SheetError:
        return
    columns: dict[str, list[str]] = {h: [] for h in table.headers}
    for n, (_line, cells) in enumerate(table.rows()):
        if n >= 5000:
            break
        for header, cell in zip(table.headers, cells, strict=False):
            if cell is not None and str(cell).strip():
                text = str(cell).strip()
                columns[header].append(text[:-2] if text.endswith(".0") else text)
    sentinels = sorted({v for vals in columns.values() for v in vals if v in _SENTINELS}, key=float)
    if sentinels:
        entry["missing"] = [int(v) for v in sentinels]
    for header, vals in columns.items():
        fld = profile.by_header(entry.get("entity", "subject"), split_header(header)[0])
        if fld is None or fld.type != "term" or fld.key != "sex":
            continue
        codes = {v for v in vals if v not in _SENTINELS}
        labels = {t.label for t in fld.terms}
        if codes and codes <= set(_ISO_5218) and {_ISO_5218[c] for c in codes} <= labels:
            entry.setdefault("values", {})[fld.key] = {int(c): _ISO_5218[c] for c in sorted(codes)}


def propose(root: Path, profile: str | None = None) -> Proposal:
    """What ``init`` proposes for the folder ``root`` (see :class:`Proposal`)."""
    sheets, dicom, nifti = scan_files(root)
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", root.resolve().name).strip("-") or "dataset"
    folders = dicom_modalities(root, dicom)
    modalities = {m for m, _id in folders.values()}
    modalities |= {m for rel in nifti if (m := nifti_modality(root, rel)[0])}
    notes: list[str] = []
    extra: dict[str, str] = {}
    if profile is not None:
        prof = load_profile(profile)
        ref = profile
    else:
        kinds = {"dicom"} if dicom else set()
        kinds |= {"nifti", "sidecar"} if nifti else set()
        ref, composed, notes = choose_profile(modalities, kinds, ident)
        if composed is not None:
            extra[PROFILE_FILE] = composed
            prof = _composed(composed)
        else:
            prof = load_profile(ref)
    doc: dict[str, Any] = {
        "profile": ref if ref == PROFILE_FILE else prof.id,
        "investigation": {
            "identifier": ident,
            "title": root.resolve().name,
            "licences": [],
            "creators": [],
            "submission_date": dt.date.today().isoformat(),
        },  # fmt: skip
    }
    notes.append("submission_date is the day init ran; set public_release_date when the data are published")
    proposed_sheets = propose_sheets(root, sheets, prof)
    for entry in proposed_sheets:
        _sentinels_and_maps(root, entry, prof)
    if proposed_sheets:
        doc["sheets"] = proposed_sheets
    labels = next((p for p in ("labels.json", "dataset.json") if (root / p).is_file()), None)
    covered = set(prof.assays)
    left = sorted(m for m in modalities - covered - {"SEG", "unknown"})
    if left:
        notes.append(f"not covered by {prof.id}: {', '.join(left)} (their files are left out)")
    files = propose_dicom(dicom, folders, covered) + propose_nifti(root, nifti, labels, covered, notes)
    if files:
        doc["files"] = files
    return Proposal(doc, extra, notes)


def _composed(text: str) -> Profile:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PROFILE_FILE
        path.write_text(text, encoding="utf-8")
        return load_profile(path)


def propose_config(root: Path, profile: str | None = None) -> dict[str, Any]:
    """The proposed ``isaprofile.yaml`` document for the folder ``root`` (see :func:`propose`)."""
    return propose(root, profile).config
