"""Build the preclinical liver example: 8 mice, 2 studies, longitudinal MRI, CT, liver masks.

Shaped like the Schraven et al. dataset (healthy controls, DEN-induced HCC followed by MRI over
weeks, MASH mice on a western diet imaged by CT). Images are tiny synthetic NIfTI volumes (an
ellipsoid "liver" in noise); masks are the ellipsoid. Run from anywhere:

    python examples/preclinical-liver/make_example.py
"""

from __future__ import annotations

import datetime
import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np
import yaml

from isaprofile.profile import load_profile
from isaprofile.profile.template import write_template

HERE = Path(__file__).resolve().parent
SHAPE = (24, 24, 8)


def volume(seed: int, mask: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    inside = ((z - 12) / 8) ** 2 + ((y - 11) / 6) ** 2 + ((x - 4) / 3) ** 2 <= 1
    if mask:
        return inside.astype(np.uint8)
    return (rng.normal(100, 10, SHAPE) + 200 * inside).astype(np.int16)


def save_nifti(data: np.ndarray, spacing: tuple[float, float, float], path: Path) -> None:
    img = nib.Nifti1Image(data, np.diag([*spacing, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    raw = img.to_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:  # reproducible bytes
        gz.write(raw)
    path.write_bytes(buf.getvalue())


def scan_row(
    scan: str, sample: str, modality: str, image: str, spacing: tuple[float, float, float], *, contrast: bool
) -> dict:
    """One row of the Scans sheet: the acquisition of ``image`` as the published protocol describes it
    (Bruker 9.4 T T2 TurboRARE MRI; MILabs U-CT); shared with benchmarks/_replicas.py."""
    row = {
        "scan_id": scan, "scan_sample": sample, "image_modality": modality, "image_file": image,
        "data_format": "NIfTI-1", "data_type": "reconstructed", "anaesthesia": "isoflurane",
        "anaesthesia_concentration": 2, "slice_thickness": spacing[2], "pixel_spacing": spacing[0],
        "matrix_size": "x".join(str(s) for s in SHAPE),
        "source": "contrast-enhanced" if contrast else "native",
        "contrast_agent": "gadoxetic acid" if contrast else "none",
    }  # fmt: skip
    if contrast:
        row.update(contrast_dose=0.025, contrast_route="intravenous", time_point=20)
    if modality == "MRI":
        row.update(brand="Bruker", device_name="BioSpec 94/20", field_strength=9.4, repetition_time=2500,
                   echo_time=33, flip_angle=90, scanning_sequence="spin echo", sequence_name="T2_TurboRARE",
                   mr_acquisition_type="2D", coil="RF Res 300 1H 112/086 QSN TO AD volume coil",
                   number_of_averages=2)  # fmt: skip
    else:
        row.update(brand="MILabs", device_name="U-CT", kvp=50, tube_current=0.24, exposure_time=75,
                   reconstruction_kernel="FDK")  # fmt: skip
    return row


def main() -> None:
    mice = [
        # id, study, group, sex, strain, age days
        ("HCC-01", "HCC-MRI", "healthy", "male", "C57BL/6J", 42),
        ("HCC-02", "HCC-MRI", "healthy", "female", "C57BL/6J", 42),
        ("HCC-03", "HCC-MRI", "HCC", "male", "C57BL/6J", 14),
        ("HCC-04", "HCC-MRI", "HCC", "male", "C57BL/6J", 14),
        ("HCC-05", "HCC-MRI", "HCC", "female", "C57BL/6J", 14),
        ("MASH-01", "MASH-CT", "MASH", "male", "C57BL/6J", 56),
        ("MASH-02", "MASH-CT", "MASH", "male", "C57BL/6J", 56),
        ("MASH-03", "MASH-CT", "MASH", "female", "Icam1-/- on C57BL/6J", 56),
    ]
    rec: dict[str, list[dict]] = {"study": [], "subject": [], "sample": [], "scan": [], "segmentation": []}
    rec["study"] = [
        {"study_id": "HCC-MRI", "longitudinal": "yes"},
        {"study_id": "MASH-CT", "longitudinal": "no"},
    ]
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
        weeks = [0, 4, 8] if study == "HCC-MRI" else [12]
        for week in weeks:
            sample = f"{mid}-w{week}"
            rec["sample"].append({"sample_id": sample, "sample_animal": mid, "study_week": week,
                                  "body_weight": round(22.0 + 0.4 * week + (seed % 3), 1)})  # fmt: skip
            modality = "MRI" if study == "HCC-MRI" else "CT"
            scan = f"{sample}-{modality.lower()}"
            seed += 1
            image = f"images/{mid}/{scan}.nii.gz"
            spacing = (0.1, 0.1, 0.5) if modality == "MRI" else (0.08, 0.08, 0.08)
            save_nifti(volume(seed), spacing, HERE / image)
            contrast = modality == "MRI" and week == 8
            row = scan_row(scan, sample, modality, image, spacing, contrast=contrast)
            rec["scan"].append(row)
            if week == weeks[-1]:
                mask = f"masks/{mid}/{scan}_liver.nii.gz"
                save_nifti(volume(seed, mask=True), spacing, HERE / mask)
                rec["segmentation"].append({"segmentation_scan": scan, "organ": "liver", "mask_file": mask,
                                            "diseased_status": "healthy" if healthy else "diseased",
                                            "segmentation_method": "semi-automatic",
                                            "segmentation_software": "Imalytics Preclinical"})  # fmt: skip
                if group == "HCC":  # the tumour's status is stated without a mask
                    rec["segmentation"].append(
                        {"segmentation_scan": scan, "organ": "tumor", "diseased_status": "diseased"}
                    )
    # a fixed stamp: the generator rewrites the committed workbook byte for byte
    write_template(load_profile("preclinical-imaging@1.0"), HERE / "metadata.xlsx", rec,
                   stamp=datetime.datetime(2026, 11, 23))  # fmt: skip
    config = {
        "profile": "preclinical-imaging@1.0",
        "template": "metadata.xlsx",
        "investigation": {
            "identifier": "preclinical-liver-example",
            "title": "Preclinical liver CT and MRI (example)",
            "description": "A small synthetic dataset shaped like the preclinical CT/MRI liver imaging dataset "
            "of Schraven et al. (Sci Data 2026): healthy controls, DEN-induced HCC followed by MRI at weeks 0, 4 "
            "and 8, and MASH mice imaged by CT, with liver segmentations.",
            "submission_date": "2026-11-23",
            "public_release_date": "2026-11-23",
            "licences": ["CC-BY-4.0"],
            "keywords": ["liver", "mouse", "MRI", "CT", "hepatocellular carcinoma", "MASH"],
            "publisher": "isaprofile examples",
            "creators": [
                {
                    "first_name": "Ada",
                    "last_name": "Example",
                    "orcid": "0000-0002-1825-0097",
                    "affiliation": "Institute for Experimental Imaging",
                    "email": "ada@example.org",
                },
            ],  # fmt: skip
            "funding": [{"funder": "Example Research Foundation", "award": "EX-1234"}],
            "publications": [
                {
                    "doi": "10.1038/s41597-026-07003-x",
                    "title": "A preclinical CT and MRI liver "
                    "imaging dataset with anatomical, functional and segmentation data",
                }
            ],  # fmt: skip
            "studies": {
                "HCC-MRI": {"title": "Longitudinal MRI of DEN-induced HCC", "description": "T2-weighted MRI at 9.4 T."},
                "MASH-CT": {"title": "Micro-CT of MASH mice", "description": "Native micro-CT after 12 weeks of diet."},
            },
        },
    }
    (HERE / "isaprofile.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


if __name__ == "__main__":
    main()
