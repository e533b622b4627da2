"""The whole deposit: the example becomes a bag that bagit-python, frictionless and our verify accept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bagit
import pytest
from frictionless import Package

from isaprofile.bagit.verify import verify_package
from isaprofile.package.deposit import package_dataset
from isaprofile.package.metadata_checks import metadata_checks


def test_example_package_is_valid_everywhere(example: Path, tmp_path: Path) -> None:
    result = package_dataset(example, tmp_path / "pkg", workers=1)
    assert result.path == tmp_path / "pkg" and result.report.valid
    bagit.Bag(str(result.path)).validate()
    assert verify_package(result.path, checks=metadata_checks(recheck=True)).issues == []
    assert verify_package(result.path, checks=metadata_checks()).codes() == ["metadata-unchanged"]
    data = result.path / "data"
    for name in ("ro-crate-metadata.json", "datapackage.json", "README.md", "index.html",
                 "metadata/isatab/i_investigation.txt", "metadata/datacite.json", "metadata/zenodo.json"):  # fmt: skip
        assert (data / name).is_file(), name
    assert len(list((data / "previews").glob("*.png"))) == 18
    assert (data / "images/HCC-01/HCC-01-w0-mri.nii.gz").read_bytes() == (
        example / "images/HCC-01/HCC-01-w0-mri.nii.gz").read_bytes()  # fmt: skip
    report = Package(str(data / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])
    assert "HCC-MRI" in (data / "index.html").read_text()


def test_invalid_dataset_is_refused_and_nothing_written(example: Path, tmp_path: Path) -> None:
    (example / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    result = package_dataset(example, tmp_path / "pkg")
    assert result.path is None and result.report.codes() == ["data-file-missing"]
    assert not (tmp_path / "pkg").exists()
    forced = package_dataset(example, tmp_path / "pkg", allow_invalid=True, workers=1)
    assert forced.path is not None
    assert "did not pass validation" in (forced.path / "data/README.md").read_text()
    saved = json.loads((forced.path / "data/metadata/validation-report.json").read_text())
    assert "data-file-missing" in [i["code"] for i in saved["issues"]]


def test_zip_is_reproducible(example: Path, tmp_path: Path) -> None:
    a = package_dataset(example, tmp_path / "a.zip", zip=True, workers=1).path
    b = package_dataset(example, tmp_path / "b.zip", zip=True, workers=2).path
    assert hashlib.sha256(a.read_bytes()).hexdigest() != ""
    # the bag's root folder is named after the zip, so compare two builds to the same name
    c = package_dataset(example, tmp_path / "again" / "a.zip", zip=True, workers=2).path
    assert a.read_bytes() == c.read_bytes()
    assert b.read_bytes() != a.read_bytes()


def test_verify_checks_the_metadata_inside(example: Path, tmp_path: Path) -> None:
    pkg = package_dataset(example, tmp_path / "pkg", workers=1).path
    inside = pkg / "data/metadata/isatab/s_MASH-CT.txt"
    inside.write_text(
        inside.read_text().replace(
            "Mus musculus\tNCBITaxon\tNCBITaxon:10090", "Homo sapiens\tNCBITaxon\tNCBITaxon:9606"
        )
    )
    found = verify_package(pkg, checks=metadata_checks()).flatten(("code", "file", "path"))
    assert ("value-not-allowed", "data/metadata/isatab/s_MASH-CT.txt", "Characteristics[organism]") in found
    assert {f[0] for f in found} == {"value-not-allowed", "fixity-mismatch", "oxum-mismatch"}


def test_split_zenodo_parts_verify_as_a_whole(example: Path, tmp_path: Path) -> None:
    result = package_dataset(example, tmp_path / "dep", split="zenodo", workers=1)
    assert sorted(p.name for p in result.path.iterdir()) == ["part-001", "parts-index.json"]
    bagit.Bag(str(result.path / "part-001")).validate()
    assert verify_package(result.path, checks=metadata_checks()).issues == []


def test_split_parts_each_carry_a_crate_naming_all_parts(example: Path, tmp_path: Path, monkeypatch) -> None:
    from isaprofile.package import deposit

    monkeypatch.setitem(deposit.SPLITS, "zenodo", {"max_files": 50, "max_bytes": 50e9})
    result = package_dataset(example, tmp_path / "dep", split="zenodo", workers=1)
    parts = sorted(p.name for p in result.path.iterdir() if p.is_dir())
    assert len(parts) >= 2 and verify_package(result.path, checks=metadata_checks()).issues == []
    for part in parts:
        bag = result.path / part
        assert len([p for p in bag.rglob("*") if p.is_file()]) <= 50
        bagit.Bag(str(bag)).validate()
        graph = {e["@id"]: e for e in json.loads((bag / "data/ro-crate-metadata.json").read_text())["@graph"]}
        assert graph["./"]["isPartOf"] == {"@id": "#deposit"}
        assert [p["@id"] for p in graph["#deposit"]["hasPart"]] == [f"#{p}" for p in parts]
    second = json.loads((result.path / parts[1] / "data/ro-crate-metadata.json").read_text())
    files = {e["@id"] for e in second["@graph"] if e.get("@type") == "File"}
    assert files and all((result.path / parts[1] / "data" / f).is_file() for f in files)


@pytest.mark.slow
def test_split_part_crates_pass_rocrate_validator(example: Path, tmp_path: Path, monkeypatch) -> None:
    from _roc import required_issues, roc_validate

    from isaprofile.package import deposit

    monkeypatch.setitem(deposit.SPLITS, "zenodo", {"max_files": 50, "max_bytes": 50e9})
    result = package_dataset(example, tmp_path / "dep", split="zenodo", workers=1)
    first = (result.path / "part-001/data/ro-crate-metadata.json").read_text()
    assert deposit.ELSEWHERE in first  # files held by part 2 are named by an absolute URI
    for part in ("part-001", "part-002"):
        result_part = roc_validate(result.path / part / "data", "ro-crate-1.2", tmp_path / "cache")
        assert required_issues(result_part) == [], part
