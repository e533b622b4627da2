"""The command line: exit codes 0/1/2, the JSON report shape, and the other report formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from isaprofile.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_validate_exit_codes_and_json_shape(example: Path, tmp_path: Path) -> None:
    ok = run("validate", example, "--format", "json")
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["valid"] is True and doc["issues"] == [] and doc["stats"]["scans"] == 18
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    sex = [c.value for c in wb["Subjects"][1]].index("Sex") + 1
    wb["Subjects"].cell(row=2, column=sex, value="unknown")
    wb.save(example / "metadata.xlsx")
    bad = run("validate", example, "--format", "json")
    assert bad.exit_code == 1
    (found,) = json.loads(bad.output)["issues"]
    assert {k: found[k] for k in ("code", "severity", "file", "line", "column", "path")} == {
        "code": "value-not-allowed", "severity": "error", "file": "metadata.xlsx", "line": 2, "column": sex,
        "path": "sheet 'Subjects', column 'Sex'"}  # fmt: skip
    assert set(found) == {"code", "severity", "message", "file", "line", "column", "path", "value", "hint"}
    assert run("validate", tmp_path / "absent").exit_code == 2
    assert run("validate", example, "--profile", "no-such-profile").exit_code == 2


def test_junit_and_sarif_render_the_same_findings(example: Path, monkeypatch) -> None:
    monkeypatch.chdir(example.parent)  # SARIF URIs are relative to the repository (here: the current folder)
    (example / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    junit = run("validate", example, "--format", "junit")
    assert junit.exit_code == 1
    suite = ET.fromstring(junit.output)
    assert suite.get("failures") == "1" and "data-file-missing" in suite.find("testcase").get("classname")
    sarif = json.loads(run("validate", example, "--format", "sarif").output)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "data-file-missing" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "preclinical-liver/metadata.xlsx", "uriBaseId": "%SRCROOT%"}  # fmt: skip


def test_strict_makes_warnings_fail(example: Path) -> None:
    wb = openpyxl.load_workbook(example / "metadata.xlsx")
    ws = wb["Subjects"]
    ws.cell(row=1, column=ws.max_column + 1, value="Cage colour")
    wb.save(example / "metadata.xlsx")
    assert run("validate", example).exit_code == 0
    assert run("validate", example, "--strict").exit_code == 1


def test_template_profiles_and_isatab(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    assert run("template", "preclinical-imaging", "-o", out).exit_code == 0
    assert "Subjects" in openpyxl.load_workbook(out).sheetnames
    listing = run("profiles")
    assert listing.exit_code == 0 and "preclinical-imaging@1.0" in listing.output
    fields = json.loads(run("profiles", "preclinical-imaging", "--format", "json").output)["fields"]
    assert {"key": "sex", "unit": None, "level": "optional"}.items() <= next(
        f for f in fields if f["key"] == "sex"
    ).items()
    isa = run("isatab", example, "-o", tmp_path / "isa")
    assert isa.exit_code == 0 and (tmp_path / "isa" / "i_investigation.txt").is_file()
    assert run("validate", tmp_path / "isa", "--data-root", example).exit_code == 0


def test_harvest_json_is_one_item_per_line(example: Path) -> None:
    """The harvest's JSON document, each harvested item on a line of its own (written as it is made)."""
    result = run("harvest", str(example / "images"), "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    lines = result.stdout.split("\n")
    start = lines.index('  "items": [') + 1
    assert len(doc["items"]) > 1 and doc["report"]["valid"] is True
    assert [json.loads(line.strip().rstrip(",")) for line in lines[start : start + len(doc["items"])]] == doc["items"]


def test_harvest_of_a_dataset_folder_leaves_its_other_inputs_out(tmp_path: Path) -> None:
    """In a dataset folder the config, its sheets and TCIA's manifest and metadata.csv are not images: no
    ``not-dicom`` finding for them; a stray file still gets one; the images are harvested as before."""
    import shutil

    root = Path(__file__).resolve().parents[1] / "examples" / "crlm-ct"
    dataset = tmp_path / "crlm-ct"
    shutil.copytree(root, dataset)
    (dataset / "notes.txt").write_text("a stray file\n", encoding="utf-8")
    result = run("harvest", str(dataset), "--format", "json", "-q", "--no-cache")
    doc = json.loads(result.stdout)
    stray = sorted(i["file"] for i in doc["report"]["issues"] if i["code"] == "not-dicom")
    assert stray == sorted(p for p in ("notes.txt", "make_example.py") if (dataset / p).exists())
    images = run("harvest", *[str(p) for p in sorted(dataset.glob("CRLM-CT-*"))], "--format", "json", "-q")
    assert [i["files"] for i in doc["items"]] == [i["files"] for i in json.loads(images.stdout)["items"]]
    from isaprofile.harvest.images import harvest_files  # the library call, as the command

    items, report = harvest_files(dataset)
    assert [i.paths for i in items] == [i["files"] for i in doc["items"]]
    assert sorted(i.file for i in report.issues if i.code == "not-dicom") == stray
