"""Build the small synthetic ENHANCE.PET example: NIfTI CT/PT volumes, 7 label-map groups, detail sheets.

Laid out as the ENHANCE.PET 1.6k release (ENHANCE-PET/MOOSE ``DATA_CARD.md``; Science Data Bank,
doi 10.57760/sciencedb.34150): ``CT-details.xlsx``, ``PT-details.xlsx`` and ``labels.json`` at the top,
``imaging-data/images/CT_0001-1000/``, ``imaging-data/images/PT_0001-1683/`` and
``imaging-data/ground-truth/<group>/``, zero-padded ids shared by every file of a case. The release has no JSON
sidecars: scanner, tracer and injected activity come from the two sheets. ``Data-Source`` (in both sheets) holds
the three published values; the AutoPET part is CC BY-NC 4.0, the two other sites CC BY 4.0. The label names are
the released ``labels.json`` (data card §3). Three subjects, tiny 16x16x4 volumes, nothing downloaded, and the
output is the same bytes on every run (gzip and xlsx timestamps fixed).
Run: ``python examples/enhance-petct/make_example.py [OUT]``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import openpyxl


def _lr(names: list[str]) -> list[str]:
    return [f"{n}_{side}" for n in names for side in ("left", "right")]


# labels.json as released (DATA_CARD.md §3; Organs 4 brain and Peripheral-Bones 23 skull from the MOOSE README)
GROUPS: dict[str, list[str]] = {
    "Body-Composition": ["skeletal_muscle", "subcutaneous_fat", "visceral_fat"],
    "Cardiac": ["heart_myocardium", "heart_atrium_left", "heart_atrium_right", "heart_ventricle_left",
                "heart_ventricle_right", "aorta", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",
                "iliac_vena_right", "inferior_vena_cava", "portal_splenic_vein", "pulmonary_artery"],
    "Muscles": _lr(["autochthon", "gluteus_maximus", "gluteus_medius", "gluteus_minimus", "iliopsoas"]),
    "Organs": ["adrenal_gland_left", "adrenal_gland_right", "bladder", "brain", "gallbladder", "kidney_left",
               "kidney_right", "liver", "lung_lower_lobe_left", "lung_lower_lobe_right", "lung_middle_lobe_right",
               "lung_upper_lobe_left", "lung_upper_lobe_right", "pancreas", "spleen", "stomach", "thyroid_left",
               "thyroid_right"],
    "Peripheral-Bones": _lr(["carpal", "clavicle", "femur", "fibula", "fingers", "humerus", "metacarpal",
                             "metatarsal", "patella", "radius", "scapula"]) + ["skull"]
    + _lr(["tarsal", "tibia", "toes", "ulna"]),
    "Ribs": [f"rib_left_{i}" for i in range(1, 14)] + [f"rib_right_{i}" for i in range(1, 14)] + ["sternum"],
    "Vertebrae": [f"vertebra_C{i}" for i in range(1, 8)] + [f"vertebra_T{i}" for i in range(1, 13)]
    + [f"vertebra_L{i}" for i in range(1, 7)] + ["hip_left", "hip_right", "sacrum"],
}  # fmt: skip
SHAPE = (16, 16, 4)
AUTOPET = "AutoPET Challenge"
LEIPZIG = "University Hospital Leipzig (Germany)"
CAREGGI = "Azienda Ospedaliero Universitaria Careggi (IT)"
# id, age, sex, weight kg, height m, source, indication, MBq, uptake min, scanner (manufacturer, model), kVp,
# kernel, slice mm, pixel mm
SUBJECTS = [
    ("0001", 63, "M", 82.0, 1.78, LEIPZIG, "lung cancer staging", 312.0, 62, ("Siemens", "Biograph mCT"), 120,
     "B31f", 3.0, 1.5),
    ("0002", 57, "F", 64.5, 1.65, CAREGGI, "lung cancer staging", 287.5, 71, ("Philips", "Gemini TF"), 140,
     "B", 5.0, 1.2),
    ("0003", 71, "M", 90.2, 1.83, AUTOPET, "melanoma", 351.0, 58, ("Siemens", "Biograph mCT"), 100,
     "B30f", 2.5, 1.0),
]  # fmt: skip
CT_COLUMNS = ["Patient", "Manufacturer", "Manufacturer Model", "kVp", "Filter Type", "Convolution Kernel",
              "Axial Pixel Size [mm]", "Slice Thickness [mm]", "Focal Spot [mm]", "Data-Source"]  # fmt: skip
PT_COLUMNS = ["Patient", "Age", "Sex", "Weight [kg]", "Height [m]", "Data-Source", "Clinical Indication",
              "Radiopharmaceutical", "Radionuclide", "Injected Activity [MBq]", "Acquisition Date",
              "Acquisition Time", "Injection Time", "Uptake Time [min]", "Image Units", "Slope", "Intercept",
              "System Model", "System Manufacturer"]  # fmt: skip
CT_DIR = "imaging-data/images/CT_0001-1000"
PT_DIR = "imaging-data/images/PT_0001-1683"
GT_DIR = "imaging-data/ground-truth"
FIXED = dt.datetime(2026, 11, 23, 0, 0, 0)  # the timestamp written into every workbook
_W3C = "%Y-%m-%dT%H:%M:%SZ"


def _volume(path: Path, data: np.ndarray, zooms: tuple[float, float, float]) -> None:
    img = nib.Nifti1Image(data, np.diag([*zooms, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:  # reproducible bytes
        gz.write(img.to_bytes())
    path.write_bytes(buf.getvalue())


def _json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _save_workbook(wb: openpyxl.Workbook, path: Path) -> None:
    """Save ``wb`` with fixed document dates and fixed zip entry times, so reruns give the same bytes."""
    wb.properties.creator = "isaprofile examples"
    wb.properties.created = FIXED  # openpyxl stamps ``modified`` with the clock on save: fixed below
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + FIXED.strftime(_W3C).encode(), data)
            dst.writestr(entry, data)
    path.write_bytes(out.getvalue())


def write_subject(out: Path, s: tuple) -> None:
    sid, *_r, (_maker, _model), _kvp, _kernel, thick, pixel = s
    rng = np.random.default_rng(int(sid))
    _volume(out / CT_DIR / f"{sid}.nii.gz", rng.integers(-1000, 1500, SHAPE).astype(np.int16), (pixel, pixel, thick))
    _volume(out / PT_DIR / f"{sid}.nii.gz", rng.random(SHAPE).astype(np.float32) * 20000, (4.0, 4.0, thick))
    for group, names in GROUPS.items():
        labels = np.zeros(SHAPE, dtype=np.uint8)
        for value in range(1, len(names) + 1):
            labels.flat[value * 7 % labels.size] = value
        _volume(out / GT_DIR / group / f"{sid}.nii.gz", labels, (pixel, pixel, thick))


def write_sheets(out: Path) -> None:
    ct, pt = openpyxl.Workbook(), openpyxl.Workbook()
    ct.active.append(CT_COLUMNS)
    pt.active.append(PT_COLUMNS)
    for sid, age, sex, kg, m, source, indication, mbq, uptake, (maker, model), kvp, kernel, thick, px in SUBJECTS:
        ct.active.append([sid, maker, model, kvp, "BODY FILTER", kernel, px, thick, 1.2, source])
        pt.active.append(
            [sid, age, sex, kg, m, source, indication, "[18F]FDG", "18F", mbq, "", "", "", uptake, "BQML", 1.0, 0.0,
             model, maker]
        )  # fmt: skip
    _save_workbook(ct, out / "CT-details.xlsx")
    _save_workbook(pt, out / "PT-details.xlsx")


def build(out: Path) -> None:
    """Write the example dataset (without its isaprofile.yaml) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    labels = {g: {str(i): n for i, n in enumerate(names, 1)} for g, names in GROUPS.items()}
    _json(out / "labels.json", labels)
    for s in SUBJECTS:
        write_subject(out, s)
    write_sheets(out)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
