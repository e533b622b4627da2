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
    inv, _prof, _report = load_dataset(root)
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


def test_relative_profile_path_resolves_against_the_dataset(crlm: Path, tmp_path: Path, monkeypatch) -> None:
    (crlm / "profiles").mkdir()
    (crlm / "profiles" / "crlm.yaml").write_text(
        "name: crlm-custom\nversion: '1.0'\nextends: clinical-ct@1.0\ntitle: CRLM (custom)\n", encoding="utf-8"
    )
    config = crlm / "isaprofile.yaml"
    config.write_text(config.read_text().replace("profile: clinical-ct@1.0", "profile: profiles/crlm.yaml"))
    monkeypatch.chdir(tmp_path)  # a current directory without profiles/crlm.yaml
    inv, prof, report = load_dataset(crlm)
    assert prof is not None and prof.id == "crlm-custom@1.0"
    assert report.flatten() == []
    assert main(["validate", str(crlm)]) == 0
