"""Replicas of the three reference collections at their published sizes, built with the examples' generators.

* ``crlm``: TCIA Colorectal-Liver-Metastases — 197 patients, one CT series each (17,639 slices in all, 89–90
  per patient) plus one multi-frame DICOM SEG (Liver, Liver Remnant, Hepatic, Portal, Tumor_1..k), NBIA
  ``metadata.csv``, the ``.tcia`` manifest and the clinical sheet (``TCIA_n=197``). New UIDs per patient
  (``examples/crlm-ct/make_example.py`` derives them from the pseudonym).
* ``enhance``: ENHANCE.PET 1.6k — 1,597 subjects × CT, PT and 7 label-map groups (14,373 NIfTI files),
  ``CT-details.xlsx``, ``PT-details.xlsx``, ``labels.json``; CT under ``CT_0001-1000`` / ``CT_1001-1683`` as
  released.
* ``preclinical``: 222 scans over 60 mice — 54 mice with longitudinal MRI at weeks 0, 4, 8, 12 (216 scans)
  and 6 MASH mice with one CT each, one liver mask per mouse, the profile's xlsx template.

Sizes (domain.md §1d): CRLM 197 patients / 17,639 CT slices + 197 SEG; ENHANCE 1,597 subjects; preclinical
222 scans. ``scale`` builds that fraction of the subjects (at least one). Pixel matrices are small (16×16,
``matrix=512`` for the I/O-bound CRLM variant); everything else follows the examples, so a replica validates
like the example it grows from.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLES = REPO / "examples"
CRLM_PATIENTS, CRLM_SLICES = 197, 17_639
ENHANCE_SUBJECTS = 1_597
PRECLINICAL_HCC, PRECLINICAL_MASH, PRECLINICAL_WEEKS = 54, 6, (0, 4, 8, 12)
NAMES = ("crlm", "enhance", "preclinical")


def _module(example: str) -> ModuleType:
    """Import ``examples/<example>/make_example.py`` under a private name (a fresh copy each time)."""
    path = EXAMPLES / example / "make_example.py"
    spec = importlib.util.spec_from_file_location(f"_replica_{example.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _count(full: int, scale: float) -> int:
    return max(1, round(full * scale))


def build_crlm(out: Path, scale: float = 1.0, matrix: int = 16) -> None:
    mod = _module("crlm-ct")
    mod.ROWS = mod.COLS = matrix
    n = _count(CRLM_PATIENTS, scale)
    base, extra = divmod(CRLM_SLICES, CRLM_PATIENTS)  # 89 slices each, 106 patients with 90
    studies = ["CT ANGIO ABD WITH PEL", "CT ABDOMEN W CONT", "CT CHEST ABD PELVIS W CONT"]
    series = ["NA", "PORTAL VENOUS", "ABD PEL VEN"]
    patients, rows = [], []
    for i in range(n):
        pid = f"CRLM-CT-{1001 + i}"
        t = mod.PATIENTS[i % 3]
        study = f"{1 + i % 12:02d}-{1 + i % 28:02d}-{1985 + i % 20}-NA-{studies[i % 3]}-{10000 + i * 37 % 89999:05d}"
        ct = f"{[101, 2, 3][i % 3]}.000000-{series[i % 3]}-{20000 + i * 53 % 79999:05d}"
        seg = f"100.000000-Segmentation-{30000 + i * 71 % 69999:05d}"
        patients.append(((pid, study, ct, seg, *t[4:7], 1 + i % 4), base + (1 if i < extra else 0)))
        rows.append(mod.CLINICAL_ROWS[i % 3])
    mod.PATIENTS = [p for p, _ in patients]
    mod.CLINICAL_ROWS = rows
    out.mkdir(parents=True, exist_ok=True)
    meta_rows, uids = [], []
    for patient, slices in patients:
        mod.SLICES = slices
        pid, study_dir, ct_dir, seg_dir, *_ = patient
        folder = out / pid / study_dir
        ct_uids = mod.write_ct(folder / ct_dir, patient)
        mod.write_seg(folder / seg_dir, patient, ct_uids)
        date, study_desc = mod.study_folder(study_dir)
        for uid, sub, modality, sop, name, count in (
            (mod._uid(pid, "ct"), ct_dir, "CT", mod.CT_IMAGE, "CT Image Storage", slices),
            (mod._uid(pid, "seg"), seg_dir, "SEG", mod.SEG_STORAGE, "Segmentation Storage", 1),
        ):
            size = sum(f.stat().st_size for f in (folder / sub).iterdir())
            meta_rows.append([uid, "Colorectal-Liver-Metastases", "NO", "https://doi.org/10.7937/QXK2-QG03", pid,
                              mod._uid(pid, "study"), study_desc, study_dir[:10], mod.series_folder(sub)[1] or "",
                              mod.manufacturer(pid), modality, name, sop, count, f"{size / 1e6:.2f} MB",
                              f"./{pid}/{study_dir}/{sub}", "2023-04-20T10:00:00.000"])  # fmt: skip
            uids.append(uid)
    mod.write_metadata(out, meta_rows)
    mod.write_clinical(out)
    mod.write_manifest(out, uids)
    shutil.copy(EXAMPLES / "crlm-ct" / "isaprofile.yaml", out / "isaprofile.yaml")


def build_enhance(out: Path, scale: float = 1.0) -> None:
    mod = _module("enhance-petct")
    n = _count(ENHANCE_SUBJECTS, scale)
    subjects = [(f"{i + 1:04d}", *mod.SUBJECTS[i % 3][1:]) for i in range(n)]
    mod.SUBJECTS = subjects
    out.mkdir(parents=True, exist_ok=True)
    labels = {g: {str(i): name for i, name in enumerate(names, 1)} for g, names in mod.GROUPS.items()}
    mod._json(out / "labels.json", labels)
    for s in subjects:
        mod.CT_DIR = "imaging-data/images/" + ("CT_0001-1000" if int(s[0]) <= 1000 else "CT_1001-1683")
        mod.write_subject(out, s)
    mod.write_sheets(out)
    shutil.copy(EXAMPLES / "enhance-petct" / "isaprofile.yaml", out / "isaprofile.yaml")


def build_preclinical(out: Path, scale: float = 1.0) -> None:
    import yaml

    from isaprofile.profile import load_profile
    from isaprofile.profile.template import write_template

    mod = _module("preclinical-liver")
    hcc, mash = _count(PRECLINICAL_HCC, scale), _count(PRECLINICAL_MASH, scale)
    mice = [(f"HCC-{i + 1:02d}", "HCC-MRI", "healthy" if i % 5 == 0 else "HCC", ("male", "female")[i % 2],
             "C57BL/6J", 14 if i % 5 else 42) for i in range(hcc)]  # fmt: skip
    mice += [(f"MASH-{i + 1:02d}", "MASH-CT", "MASH", ("male", "female")[i % 2],
              "Icam1-/- on C57BL/6J" if i % 3 == 2 else "C57BL/6J", 56) for i in range(mash)]  # fmt: skip
    rec: dict[str, list[dict]] = {"study": [{"study_id": "HCC-MRI", "longitudinal": "yes"},
                                            {"study_id": "MASH-CT", "longitudinal": "no"}],
                                  "subject": [], "sample": [], "scan": [], "segmentation": []}  # fmt: skip
    seed = 0
    for mid, study, group, sex, strain, age in mice:
        healthy = group == "healthy"
        rec["subject"].append({
            "animal_id": mid, "subject_study": study, "organism": "Mus musculus",
            "animal_strain": strain.split(" on ")[-1],
            "genotype": "Icam1-/-" if "Icam1" in strain else "wild type", "supplier": "Charles River",
            "health_status": "healthy" if healthy else "not healthy",
            "disease_model": {"healthy": "none", "HCC": "HCC", "MASH": "MASH"}[group],
            "disease_induction": {"healthy": "none", "HCC": "DEN", "MASH": "diet"}[group],
            "diet": "western diet (fat, fructose, cholesterol)" if group == "MASH" else "standard chow",
            "age": age, "sex": sex,
        })  # fmt: skip
        weeks = list(PRECLINICAL_WEEKS) if study == "HCC-MRI" else [12]
        for week in weeks:
            sample = f"{mid}-w{week}"
            rec["sample"].append({"sample_id": sample, "sample_animal": mid, "study_week": week,
                                  "body_weight": round(22.0 + 0.4 * week + (seed % 3), 1)})  # fmt: skip
            modality = "MRI" if study == "HCC-MRI" else "CT"
            scan = f"{sample}-{modality.lower()}"
            seed += 1
            image = f"images/{mid}/{scan}.nii.gz"
            spacing = (0.1, 0.1, 0.5) if modality == "MRI" else (0.08, 0.08, 0.08)
            mod.save_nifti(mod.volume(seed), spacing, out / image)
            contrast = modality == "MRI" and week == 8
            row = mod.scan_row(scan, sample, modality, image, spacing, contrast=contrast)
            rec["scan"].append(row)
            if week == weeks[-1]:
                mask = f"masks/{mid}/{scan}_liver.nii.gz"
                mod.save_nifti(mod.volume(seed, mask=True), spacing, out / mask)
                rec["segmentation"].append({"segmentation_scan": scan, "organ": "liver", "mask_file": mask,
                                            "diseased_status": "healthy" if healthy else "diseased",
                                            "segmentation_method": "semi-automatic",
                                            "segmentation_software": "Imalytics Preclinical"})  # fmt: skip
                if group == "HCC":
                    rec["segmentation"].append(
                        {"segmentation_scan": scan, "organ": "tumor", "diseased_status": "diseased"}
                    )
    write_template(load_profile("preclinical-imaging@1.0"), out / "metadata.xlsx", rec)
    config = yaml.safe_load((EXAMPLES / "preclinical-liver" / "isaprofile.yaml").read_text(encoding="utf-8"))
    config["investigation"]["identifier"] = "preclinical-liver-replica"
    (out / "isaprofile.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")


def replica(name: str, root: Path, scale: float = 1.0, matrix: int = 16) -> Path:
    """The replica folder ``name`` at ``scale`` under ``root``, built once and reused (``<tag>.complete``)."""
    tag = f"{name}-s{scale:g}" + (f"-m{matrix}" if name == "crlm" and matrix != 16 else "")
    out, done = root / tag, root / f"{tag}.complete"
    if done.exists() and out.is_dir():
        return out
    if out.exists():
        shutil.rmtree(out)
    if name == "crlm":
        build_crlm(out, scale, matrix)
    elif name == "enhance":
        build_enhance(out, scale)
    elif name == "preclinical":
        build_preclinical(out, scale)
    else:
        raise ValueError(f"unknown replica {name!r} (one of {', '.join(NAMES)})")
    # outside the dataset's content: the pipeline refuses hidden files, so the marker lives beside it
    done.touch()
    return out
