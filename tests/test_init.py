"""``isaprofile init``: a proposed config for the examples' folders, refusing to overwrite."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from isaprofile.cli.main import main
from isaprofile.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def _copy(name: str, tmp_path: Path) -> Path:
    dest = Path(shutil.copytree(ROOT / "examples" / name, tmp_path / name))
    (dest / "isaprofile.yaml").unlink()
    return dest


def test_init_enhance_proposal(tmp_path: Path) -> None:
    root = _copy("enhance-petct", tmp_path)
    assert main(["init", str(root)]) == 0
    doc = yaml.safe_load((root / "isaprofile.yaml").read_text())
    assert doc["profile"] == "pet-ct@1.0"
    assert [(s["file"], s["entity"], s["link"], s["modality"]) for s in doc["sheets"]] == [
        ("CT-details.xlsx", "scan", {"subject": "Patient"}, "CT"),
        ("PT-details.xlsx", "scan", {"subject": "Patient"}, "PT"),
    ]
    assert [(f["glob"], f.get("role", "image")) for f in doc["files"]] == [
        ("ground-truth/*/*.nii.gz", "segmentation"),
        ("images/*/*.nii.gz", "image"),
    ]
    assert doc["files"][0]["labels"] == "labels.json"
    checked = load_dataset(root)
    inv, _prof, _report = checked.investigation, checked.profile, checked.report
    assert len(inv.studies[0].scans) == 6  # the proposal assembles every CT and PET volume
    assert main(["init", str(root)]) == 2  # no overwrite without --force
    assert main(["init", "--force", str(root)]) == 0


def test_init_crlm_proposal(tmp_path: Path) -> None:
    root = _copy("crlm-ct", tmp_path)
    assert main(["init", str(root)]) == 0
    doc = yaml.safe_load((root / "isaprofile.yaml").read_text())
    assert doc["profile"] == "clinical-ct@1.0"
    assert doc["sheets"][0] == {
        "file": "Colorectal Liver Metastases Clinical data April 2023.xlsx",
        "sheet": "TCIA_n=197",
        "entity": "subject",
        "link": {"subject": "Patient-ID"},
    }
    assert doc["files"] == [
        {"glob": "CRLM-CT-*/*/*/*.dcm", "segments": "CT", "pattern": r"(?P<subject>CRLM\-CT\-[^/]*)/.*"}
    ]
