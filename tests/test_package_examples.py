"""Every bundled example packages into a deposit that the third-party validators accept, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import bagit
import pydicom
import pytest
from _roc import required_issues, roc_validate
from frictionless import Package

from isaprofile.bagit.verify import verify_package
from isaprofile.findings.render import render
from isaprofile.package.deposit import package_dataset
from isaprofile.package.metadata_checks import metadata_checks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["preclinical-liver", "crlm-ct", "enhance-petct"]


@pytest.fixture(scope="module", params=EXAMPLES)
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param) / "pkg"
    result = package_dataset(ROOT / "examples" / request.param, out, workers=1)
    assert result.path == out, render(result.report)
    # ENHANCE mixes CC BY and CC BY-NC: a plain bag is built, with a warning that Zenodo needs --split licence
    expected = {"phi-exception-applied"} | ({"licence-split-required"} if request.param == "enhance-petct" else set())
    assert {i.code for i in result.report.issues} <= expected
    return out


def test_bagit_frictionless_and_verify_accept(package: Path) -> None:
    bagit.Bag(str(package)).validate()
    report = Package(str(package / "data" / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])
    assert verify_package(package, checks=metadata_checks(recheck=True)).issues == []
    assert verify_package(package, checks=metadata_checks()).codes() == ["metadata-unchanged"]


@pytest.mark.slow
@pytest.mark.parametrize("profile_id", ["ro-crate-1.2", "isa-ro-crate"])
def test_roc_validator_offline(package: Path, tmp_path: Path, profile_id: str) -> None:
    result = roc_validate(package / "data", profile_id, tmp_path / "cache")
    assert required_issues(result) == []


def test_phi_exceptions_are_recorded_with_their_reason(tmp_path: Path) -> None:
    result = package_dataset(ROOT / "examples" / "crlm-ct", tmp_path / "pkg", workers=1)
    text = (result.path / "phi-exceptions.json").read_text()
    assert "SeriesDescription" in text and "reviewed to hold no identifiers" in text
    assert "phi-exceptions.json" in (result.path / "tagmanifest-sha256.txt").read_text()


def test_phi_in_a_header_stops_the_package_and_never_shows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "crlm"
    shutil.copytree(ROOT / "examples" / "crlm-ct", data)
    victim = sorted(data.glob("CRLM-CT-1001/*/101*/1-001.dcm"))[0]
    ds = pydicom.dcmread(victim)
    ds.PatientName = "CANARY^SMITH7Q2"
    ds.InstitutionName = "CANARY General 7Q2"
    ds.save_as(victim)
    result = package_dataset(data, tmp_path / "pkg", workers=1)
    assert result.path is None and not (tmp_path / "pkg").exists()
    rel = victim.relative_to(data).as_posix()
    found = {(i.code, i.file, i.path) for i in result.report.issues if i.code not in ("phi-exception-applied",)}
    assert found == {("phi-attribute", rel, "(0010,0010) PatientName"),
                     ("phi-attribute", rel, "(0008,0080) InstitutionName")}  # fmt: skip
    for fmt in ("text", "json", "junit", "sarif"):
        assert "7Q2" not in render(result.report, fmt)
    out = capsys.readouterr()
    assert "7Q2" not in out.out + out.err


def test_the_crate_isa_tab_and_isa_json_name_the_same_protocols(package: Path) -> None:
    """The protocol between subjects and samples is the profile's own in all three (a patient "at
    examination" in pet-ct, "at time point" in clinical-ct), never the preclinical "animal at time point"
    for patients."""
    import json

    metadata = package / "data" / "metadata"
    investigation = next((metadata / "isatab").glob("i_*.txt")).read_text(encoding="utf-8")
    lines = [row for row in investigation.splitlines() if row.startswith("Study Protocol Name\t")]
    isa_tab = {cell.strip('"') for line in lines for cell in line.split("\t")[1:]}
    studies = json.loads((metadata / "isa.json").read_text(encoding="utf-8"))["studies"]
    isa_json = {p["name"] for study in studies for p in study["protocols"]}
    crate = json.loads((package / "data" / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    in_crate = {e["name"] for e in crate["@graph"] if e.get("@type") == "LabProtocol"}
    assert in_crate == isa_tab == isa_json
    patients = "patient" in investigation.lower()
    assert ("animal at time point" in in_crate) is not patients
