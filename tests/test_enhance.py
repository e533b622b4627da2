"""ENHANCE.PET as released: the published labels.json of all 7 groups, their SNOMED CT codes, the release layout.

The facts below are copied from the public record, not from the profile, so the profile is tested against them:
label names and indices from the ENHANCE.PET data card (github.com/ENHANCE-PET/MOOSE, ``DATA_CARD.md`` §3; Organs
4 ``brain`` and Peripheral-Bones 23 ``skull``, which the card's excerpts skip, from the MOOSE README model table),
codes from MOOSE's label mapping (``moosez/mappings/moose_snomed_mapping.csv``, SegmentedPropertyTypeCodeSequence).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl

from isaprofile.dataset import load_dataset
from isaprofile.model import Provenance
from isaprofile.profile.model import load_profile

ROOT = Path(__file__).resolve().parents[1]
ENHANCE = ROOT / "examples" / "enhance-petct"


def _lr(*names: str) -> list[str]:
    return [f"{n}_{side}" for n in names for side in ("left", "right")]


PUBLISHED: dict[str, list[str]] = {
    "Cardiac": ["heart_myocardium", "heart_atrium_left", "heart_atrium_right", "heart_ventricle_left",
                "heart_ventricle_right", "aorta", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",
                "iliac_vena_right", "inferior_vena_cava", "portal_splenic_vein", "pulmonary_artery"],
    "Muscles": _lr("autochthon", "gluteus_maximus", "gluteus_medius", "gluteus_minimus", "iliopsoas"),
    "Organs": [*_lr("adrenal_gland"), "bladder", "brain", "gallbladder", *_lr("kidney"), "liver",
               *_lr("lung_lower_lobe"), "lung_middle_lobe_right", *_lr("lung_upper_lobe"), "pancreas", "spleen",
               "stomach", *_lr("thyroid")],
    "Peripheral-Bones": [*_lr("carpal", "clavicle", "femur", "fibula", "fingers", "humerus", "metacarpal",
                              "metatarsal", "patella", "radius", "scapula"), "skull",
                         *_lr("tarsal", "tibia", "toes", "ulna")],
    "Ribs": [*(f"rib_left_{i}" for i in range(1, 14)), *(f"rib_right_{i}" for i in range(1, 14)), "sternum"],
    "Vertebrae": [*(f"vertebra_C{i}" for i in range(1, 8)), *(f"vertebra_T{i}" for i in range(1, 13)),
                  *(f"vertebra_L{i}" for i in range(1, 7)), "hip_left", "hip_right", "sacrum"],
    "Body-Composition": ["skeletal_muscle", "subcutaneous_fat", "visceral_fat"],
}  # fmt: skip

# A sample of MOOSE's mapping, one or more per group (label -> SNOMED CT code of the structure).
SNOMED = {
    "heart_atrium_right": "73829009", "portal_splenic_vein": "110765007", "iliac_vena_left": "46027005",
    "iliopsoas_right": "68455001", "lung_middle_lobe_right": "72481006", "kidney_left": "64033007",
    "toes_right": "785709003", "skull": "89546000", "rib_left_13": "1193560003", "sternum": "56873002",
    "vertebra_L6": "1156198008", "vertebra_T3": "1626008", "skeletal_muscle": "127954009",
    "subcutaneous_fat": "67769002", "visceral_fat": "725273006",
}  # fmt: skip


def _labels_json() -> dict[str, dict[str, str]]:
    return {g: {str(i): n for i, n in enumerate(names, 1)} for g, names in PUBLISHED.items()}


def test_published_counts() -> None:
    counts = {g: len(v) for g, v in PUBLISHED.items()}
    assert counts == {"Cardiac": 13, "Muscles": 10, "Organs": 18, "Peripheral-Bones": 31, "Ribs": 27,
                      "Vertebrae": 28, "Body-Composition": 3}  # fmt: skip
    assert sum(counts.values()) == 130


def test_profile_labels_are_the_published_ones_each_with_a_snomed_code() -> None:
    terms = load_profile("pet-ct").field("segmented_structure").terms
    assert [t.label for t in terms] == [n for names in PUBLISHED.values() for n in names]
    assert [t.label for t in terms if not (t.accession or "").startswith("SNOMED:")] == []
    by_label = {t.label: t.accession for t in terms}
    assert {k: by_label[k] for k in SNOMED} == {k: f"SNOMED:{v}" for k, v in SNOMED.items()}


def test_published_labels_json_validates_with_no_findings(enhance: Path) -> None:
    (enhance / "labels.json").write_text(json.dumps(_labels_json(), indent=2), encoding="utf-8")
    checked = load_dataset(enhance)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert report.flatten() == []
    ct = next(s for s in inv.studies[0].scans if s.id == "0001-CT")
    got: dict[str, list[str]] = {}
    for seg in ct.segmentations:
        got.setdefault(seg.values["segmentation group"].value.label, []).append(
            seg.values["segmented structure"].value.label
        )
    assert got == PUBLISHED
    values = [seg.values["label value"].value for seg in ct.segmentations if "/Ribs/" in (seg.path or "")]
    assert values == list(range(1, 28))


def test_old_invented_label_is_refused_at_its_labels_json_entry(enhance: Path) -> None:
    data = _labels_json()
    data["Cardiac"]["12"] = "portal_vein_and_splenic_vein"  # the name the profile used to invent
    (enhance / "labels.json").write_text(json.dumps(data), encoding="utf-8")
    checked = load_dataset(enhance)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    found = {(i.code, i.file, i.path) for i in report.issues}
    assert found == {("value-not-allowed", "labels.json", "$.Cardiac.12")}


def test_every_subjects_map_shares_one_dict_of_values_per_label_and_a_wrong_label_is_one_finding(enhance: Path) -> None:
    """A label's values are the same for every subject's map: one dict, coerced once (ENHANCE: 130 dicts for
    207,610 segmentations). A wrong label is in each subject's segmentations, but it is one entry of labels.json
    to fix: one finding there, not one per subject."""
    data = _labels_json()
    data["Cardiac"]["12"] = "portal_vein_and_splenic_vein"
    (enhance / "labels.json").write_text(json.dumps(data), encoding="utf-8")
    checked = load_dataset(enhance)
    scans = [s for s in checked.investigation.studies[0].scans if s.modality == "CT"]
    segs = [seg for scan in scans for seg in scan.segmentations]
    assert len(scans) > 1 and len({id(seg.values) for seg in segs}) == len(segs) // len(scans)
    wrong = [seg for seg in segs if seg.values["segmented structure"].value == "portal_vein_and_splenic_vein"]
    assert len(wrong) == len(scans)
    assert len({seg.path for seg in wrong}) == len(scans)  # each subject's map its own file
    # and every one located where the label is defined (one Provenance for the label, not one per subject)
    assert {id(seg.provenance) for seg in wrong} == {id(wrong[0].provenance)}
    assert wrong[0].provenance == Provenance("labels.json", path="$.Cardiac.12")
    assert checked.report.flatten(("code", "file", "path")) == [("value-not-allowed", "labels.json", "$.Cardiac.12")]


def test_release_layout_has_no_sidecars_and_the_published_sources() -> None:
    files = sorted(p.relative_to(ENHANCE).as_posix() for p in ENHANCE.rglob("*") if p.is_file())
    assert [f for f in files if f.endswith(".json")] == ["labels.json"]
    images = [f for f in files if f.startswith("imaging-data/images/")]
    assert images == [f"imaging-data/images/{d}/{i:04d}.nii.gz" for d in ("CT_0001-1000", "PT_0001-1683")
                      for i in (1, 2, 3)]  # fmt: skip
    for sheet in ("CT-details.xlsx", "PT-details.xlsx"):
        ws = openpyxl.load_workbook(ENHANCE / sheet).active
        header = [c.value for c in ws[1]]
        col = header.index("Data-Source")
        assert {r[col] for r in ws.iter_rows(min_row=2, values_only=True)} == {
            "AutoPET Challenge", "University Hospital Leipzig (Germany)",
            "Azienda Ospedaliero Universitaria Careggi (IT)",
        }  # fmt: skip


def test_pet_parameters_come_from_pt_details() -> None:
    checked = load_dataset(ENHANCE)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert report.flatten() == []
    for scan in (s for s in inv.studies[0].scans if s.modality == "PET"):
        for name in ("radiopharmaceutical", "injected activity", "uptake time"):
            assert scan.parameters[name].provenance.file == "PT-details.xlsx", (scan.id, name)


def test_make_example_is_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "rebuilt"
    subprocess.run([sys.executable, str(ENHANCE / "make_example.py"), str(out)], check=True)
    shipped = sorted(p.relative_to(ENHANCE) for p in ENHANCE.rglob("*") if p.is_file()
                     if p.name not in ("isaprofile.yaml", "make_example.py"))  # fmt: skip
    rebuilt = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert shipped == rebuilt
    differ = [str(p) for p in shipped if (ENHANCE / p).read_bytes() != (out / p).read_bytes()]
    assert differ == []
