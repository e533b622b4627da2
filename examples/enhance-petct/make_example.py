"""Build the small synthetic ENHANCE.PET example: NIfTI CT/PT volumes, 7 label-map groups, detail sheets.

Reproduces the layout and column names of ENHANCE.PET 1.6k (domain.md §1c) with three subjects and tiny
16x16x4 volumes; dcm2niix-style JSON sidecars carry the scanner keys. ``Data-Source`` mixes two CC BY 4.0
sites and the CC BY-NC 4.0 AutoPET part. Nothing is downloaded.
Run: ``python examples/enhance-petct/make_example.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import openpyxl


def _lr(names: list[str]) -> list[str]:
    return [f"{n}_{side}" for n in names for side in ("left", "right")]


GROUPS: dict[str, list[str]] = {
    "Cardiac": ["heart_myocardium", "heart_atrium_left", "heart_ventricle_left", "heart_atrium_right",
                "heart_ventricle_right", "aorta", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",
                "iliac_vena_right", "inferior_vena_cava", "portal_vein_and_splenic_vein", "pulmonary_artery"],
    "Muscles": _lr(["autochthon", "gluteus_maximus", "gluteus_medius", "gluteus_minimus", "iliopsoas"]),
    "Organs": ["adrenal_gland_left", "adrenal_gland_right", "bladder", "brain", "gallbladder", "kidney_left",
               "kidney_right", "liver", "lung_lower_lobe_left", "lung_lower_lobe_right", "lung_middle_lobe_right",
               "lung_upper_lobe_left", "lung_upper_lobe_right", "pancreas", "spleen", "stomach", "thyroid_left",
               "thyroid_right"],
    "Peripheral-Bones": _lr(["carpal", "clavicle", "femur", "fibula", "fingers", "humerus", "metacarpal",
                             "metatarsal", "patella", "radius", "scapula"]) + ["skull"]
    + _lr(["tarsal", "tibia", "toes", "ulna"]),
    "Ribs": [f"rib_left_{i}" for i in range(1, 13)] + [f"rib_right_{i}" for i in range(1, 13)]
    + ["sternum", "costal_cartilages", "xiphoid_process"],
    "Vertebrae": [f"vertebra_C{i}" for i in range(1, 8)] + [f"vertebra_T{i}" for i in range(1, 13)]
    + [f"vertebra_L{i}" for i in range(1, 6)] + ["sacrum", "coccyx", "hip_left", "hip_right"],
    "Body-Composition": ["subcutaneous_adipose_tissue", "visceral_adipose_tissue", "skeletal_muscle"],
}  # fmt: skip
SHAPE = (16, 16, 4)
# id, age, sex, weight kg, height m, source, indication, MBq, uptake min, scanner (manufacturer, model), kVp,
# kernel, slice mm, pixel mm
SUBJECTS = [
    ("0001", 63, "M", 82.0, 1.78, "Site-A", "lymphoma staging", 312.0, 62, ("Siemens", "Biograph mCT"), 120,
     "B31f", 3.0, 1.5),
    ("0002", 57, "F", 64.5, 1.65, "Site-B", "lung cancer staging", 287.5, 71, ("Philips", "Gemini TF"), 140,
     "B", 5.0, 1.2),
    ("0003", 71, "M", 90.2, 1.83, "AutoPET", "melanoma restaging", 351.0, 58, ("GE", "Discovery MI"), 100,
     "STANDARD", 2.5, 1.0),
]  # fmt: skip
CT_COLUMNS = ["Patient", "Manufacturer", "Manufacturer Model", "kVp", "Filter Type", "Convolution Kernel",
              "Axial Pixel Size [mm]", "Slice Thickness [mm]", "Focal Spot [mm]"]  # fmt: skip
PT_COLUMNS = ["Patient", "Age", "Sex", "Weight [kg]", "Height [m]", "Data-Source", "Clinical Indication",
              "Injected Activity [MBq]", "Acquisition Date", "Acquisition Time", "Injection Time", "Uptake Time [min]",
              "Image Units", "Slope", "Intercept", "System Model", "System Manufacturer"]  # fmt: skip


def _volume(path: Path, data: np.ndarray, zooms: tuple[float, float, float]) -> None:
    img = nib.Nifti1Image(data, np.diag([*zooms, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)


def _json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_subject(out: Path, s: tuple) -> None:
    sid, *_r, mbq, _up, (maker, model), kvp, kernel, thick, pixel = s
    rng = np.random.default_rng(int(sid))
    ct = out / "images" / "CT" / f"{sid}.nii.gz"
    _volume(ct, rng.integers(-1000, 1500, SHAPE).astype(np.int16), (pixel, pixel, thick))
    _json(
        ct.with_name(f"{sid}.json"),
        {
            "Modality": "CT",
            "Manufacturer": maker,
            "ManufacturersModelName": model,
            "KVP": kvp,
            "ConvolutionKernel": kernel,
            "SliceThickness": thick,
        },
    )
    pt = out / "images" / "PT" / f"{sid}.nii.gz"
    _volume(pt, rng.random(SHAPE).astype(np.float32) * 20000, (4.0, 4.0, thick))
    _json(
        pt.with_name(f"{sid}.json"),
        {
            "Modality": "PT",
            "Manufacturer": maker,
            "ManufacturersModelName": model,
            "TracerName": "FDG",
            "TracerRadionuclide": "F18",
            "Units": "BQML",
            "InjectedRadioactivity": mbq,
            "InjectedRadioactivityUnits": "MBq",
            "SliceThickness": thick,
        },
    )
    for group, names in GROUPS.items():
        labels = np.zeros(SHAPE, dtype=np.uint8)
        for value in range(1, len(names) + 1):
            labels.flat[value * 7 % labels.size] = value
        _volume(out / "ground-truth" / group / f"{sid}.nii.gz", labels, (pixel, pixel, thick))


def write_sheets(out: Path) -> None:
    ct, pt = openpyxl.Workbook(), openpyxl.Workbook()
    ct.active.append(CT_COLUMNS)
    pt.active.append(PT_COLUMNS)
    for sid, age, sex, kg, m, source, indication, mbq, uptake, (maker, model), kvp, kernel, thick, px in SUBJECTS:
        ct.active.append([sid, maker, model, kvp, "BODY FILTER", kernel, px, thick, 1.2])
        pt.active.append(
            [sid, age, sex, kg, m, source, indication, mbq, "", "", "", uptake, "BQML", 1.0, 0.0, model, maker]
        )
    ct.save(out / "CT-details.xlsx")
    pt.save(out / "PT-details.xlsx")


def build(out: Path) -> None:
    """Write the example dataset (without its isaprofile.yaml) into ``out``."""
    labels = {g: {str(i): n for i, n in enumerate(names, 1)} for g, names in GROUPS.items()}
    _json(out / "labels.json", labels)
    for s in SUBJECTS:
        write_subject(out, s)
    write_sheets(out)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
