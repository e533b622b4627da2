"""One pipeline: validate, isatab, jsonld, package and verify agree on the same broken datasets."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel
import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

import isaprofile
from isaprofile.cli.main import cli
from isaprofile.pipeline import check

ROOT = Path(__file__).resolve().parents[1]
LOC = ("code", "file", "line", "column", "path")
CANARY = "CANARY-PATIENT"


def _sheet(name: str, header: str, row: int, value: object) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        wb = openpyxl.load_workbook(root / "metadata.xlsx")
        ws = wb[name]
        col = [c.value for c in ws[1]].index(header) + 1
        ws.cell(row=row, column=col, value=value)
        wb.save(root / "metadata.xlsx")

    return edit


def _config(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        cfg = root / "isaprofile.yaml"
        text = cfg.read_text()
        assert old in text
        cfg.write_text(text.replace(old, new))

    return edit


def _phi(root: Path) -> None:
    """A NIfTI with a comment extension naming the patient (the gate reads NIfTI extension text)."""
    path = root / "images" / "HCC-01" / "HCC-01-w0-mri.nii.gz"
    img = nibabel.load(path)
    header = img.header.copy()
    header.extensions.append(nibabel.nifti1.Nifti1Extension("comment", f"Patient name: {CANARY}".encode()))
    nibabel.save(nibabel.Nifti1Image(np.asanyarray(img.dataobj), img.affine, header), path)


def _missing_file(root: Path) -> None:
    (root / "images" / "HCC-02" / "HCC-02-w4-mri.nii.gz").unlink()


def _custom_profile(root: Path) -> None:
    (root / "lab-profile.yaml").write_text(
        "name: lab-liver\nversion: '2.1'\nextends: preclinical-imaging@1.0\ntitle: Our lab's liver profile\n"
    )
    _config("profile: preclinical-imaging@1.0", "profile: lab-profile.yaml")(root)


BROKEN: dict[str, Callable[[Path], None]] = {
    "licence": _config("- CC-BY-4.0", "- NOT-A-LICENCE"),
    "orcid": _config("0000-0002-1825-0097", "0000-0002-1825-0098"),
    "phi": _phi,
    "missing-file": _missing_file,
    "bad-term": _sheet("Subjects", "Sex", 4, "hermaphrodite"),
    "duplicate-id": _sheet("Subjects", "Animal ID", 3, "HCC-01"),
    "wrong-type": _sheet("Subjects", "Age [d]", 3, "six weeks"),
    "unknown-profile": _config("profile: preclinical-imaging@1.0", "profile: no-such-profile@9"),
    "no-creators": _config("  creators:\n", "  former_creators:\n"),
    "bad-date": _config("public_release_date: '2026-11-23'", "public_release_date: '2026-13-45'"),
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "examples" / "preclinical-liver", tmp_path / "ds"))


def _errors(report_json: str) -> list[tuple]:
    doc, _end = json.JSONDecoder().raw_decode(report_json)  # the CLI's one-line verdict may follow
    return sorted(tuple(i[k] for k in LOC) for i in doc["issues"] if i["severity"] == "error")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_command_refuses_the_same_dataset_with_the_same_findings(name: str, dataset: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    BROKEN[name](dataset)
    code, out, _ = _run("validate", str(dataset), "--format", "json")
    assert code == 1, out
    expected = _errors(out)
    assert expected, "a broken dataset has errors"
    assert CANARY not in out
    for command, target in (("package", tmp_path / "pkg"), ("jsonld", tmp_path / "crate.json"),
                            ("isatab", tmp_path / "isa")):  # fmt: skip
        code, _out, err = _run(command, str(dataset), "-o", str(target), "--format", "json")
        assert code == 1, (command, err)
        assert _errors(err) == expected, command
        assert not target.exists(), f"{command} wrote output for a dataset validate refuses"
        assert CANARY not in err


def test_the_report_in_a_package_is_the_validate_report(dataset: Path, tmp_path: Path) -> None:
    code, out, _ = _run("validate", str(dataset), "--format", "json")
    assert code == 0
    result = isaprofile.package_dataset(dataset, tmp_path / "pkg")
    assert result.path is not None
    inside = json.loads((result.path / "data" / "metadata" / "validation-report.json").read_text())
    assert inside == json.loads(out)
    assert inside["stats"]["layers"] == ["structure", "profile", "files", "linked", "phi"]


def test_an_allowed_invalid_package_records_the_findings_and_verify_finds_them(dataset: Path, tmp_path: Path) -> None:
    BROKEN["bad-term"](dataset)
    BROKEN["orcid"](dataset)
    result = isaprofile.package_dataset(dataset, tmp_path / "pkg", allow_invalid=True)
    assert result.path is not None
    inside = json.loads((result.path / "data" / "metadata" / "validation-report.json").read_text())
    assert {i["code"] for i in inside["issues"]} == {"value-not-allowed", "orcid-invalid"}
    codes = set(isaprofile.verify_package(result.path).codes())
    assert {"value-not-allowed", "orcid-invalid"} <= codes  # the same layers, re-run on what the package holds


def test_a_custom_profile_travels_with_the_package(dataset: Path, tmp_path: Path) -> None:
    _custom_profile(dataset)
    checked = check(dataset)
    assert checked.valid and checked.profile is not None and checked.profile.id == "lab-liver@2.1"
    result = isaprofile.package_dataset(dataset, tmp_path / "pkg")
    assert result.path is not None
    copied = result.path / "data" / "metadata" / "profile" / "lab-profile.yaml"
    assert copied.read_bytes() == (dataset / "lab-profile.yaml").read_bytes()
    shutil.rmtree(dataset)  # verify needs nothing outside the package
    report = isaprofile.verify_package(result.path)
    assert report.valid, report.flatten(LOC)
    assert "profile-unknown" not in report.codes()


def test_isatab_without_a_profile_validates_structurally_and_is_not_packaged(dataset: Path, tmp_path: Path) -> None:
    checked = check(dataset)
    isa = tmp_path / "isa"
    isaprofile.write_isatab(dataclasses.replace(checked.investigation, profile=None), isa, None)  # names none
    shutil.copytree(dataset / "images", isa / "images")
    shutil.copytree(dataset / "masks", isa / "masks")
    plain = check(isa)
    assert plain.profile is None and plain.valid, plain.report.flatten(LOC)
    assert plain.layers == ("structure", "files", "phi")
    result = isaprofile.package_dataset(isa, tmp_path / "pkg")
    assert result.path is None
    assert result.report.flatten(LOC) == [("deposit-profile-missing", "i_investigation.txt", None, None, None)]
    named = isaprofile.package_dataset(isa, tmp_path / "pkg", profile="preclinical-imaging")
    assert named.path is not None, named.report.flatten(LOC)


def test_validate_runs_the_phi_gate_and_says_which_layers_ran(dataset: Path) -> None:
    _phi(dataset)
    report = isaprofile.validate(dataset)
    assert not report.valid and report.stats["layers"][-1] == "phi"
    skipped = isaprofile.validate(dataset, skip=("phi",))
    assert skipped.valid and "phi" not in skipped.stats["layers"]
    with pytest.raises(ValueError):
        isaprofile.validate(dataset, skip=("profile",))


def test_an_isatab_without_its_data_files_checked_with_files_skipped(dataset: Path, tmp_path: Path) -> None:
    """verify's reading of a package's ISA-Tab: no file is looked for (so none is missing) and none gated,
    every other layer runs and finds nothing."""
    from isaprofile.isatab.write import write_isatab

    isa = tmp_path / "isa"
    checked = check(dataset)
    write_isatab(checked.investigation, isa, checked.profile)
    looked = check(isa, skip=("phi",)).report
    assert "data-file-missing" in looked.codes()
    skipped = check(isa, skip=("files", "phi")).report
    assert skipped.issues == [] and skipped.stats["layers"] == ["structure", "profile", "linked"]


def test_validate_stays_the_function_after_submodules_are_imported() -> None:
    import isaprofile.findings.issues  # noqa: F401  (used to shadow isaprofile.validate)

    assert callable(isaprofile.validate) and callable(isaprofile.check)
    assert issubclass(isaprofile.DatasetError, isaprofile.IsaprofileError)
    assert issubclass(isaprofile.ProfileError, isaprofile.IsaprofileError)


_AUDIT = """
import collections, os, sys
from pathlib import Path
import isaprofile
src, out = Path(sys.argv[1]).resolve(), sys.argv[2]
opens = collections.Counter()
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path.startswith(str(src) + os.sep):
            opens[os.path.relpath(path, src)] += 1
sys.addaudithook(hook)
result = isaprofile.package_dataset(src, out, workers=1)  # one process: every open is seen
assert result.path is not None, result.report.flatten()
images = {k: v for k, v in opens.items() if k.endswith((".dcm", ".nii", ".nii.gz"))}
print(len(images), max(images.values()))
"""


@pytest.mark.parametrize("name", ["preclinical-liver", "crlm-ct", "enhance-petct"])
def test_package_opens_each_image_at_most_three_times(name: str, tmp_path: Path) -> None:
    """Header pass (harvest and PHI gate together), copy + hash, preview: no other read of an image."""
    import subprocess
    import sys

    src = shutil.copytree(ROOT / "examples" / name, tmp_path / name)
    proc = subprocess.run([sys.executable, "-c", _AUDIT, str(src), str(tmp_path / "pkg")], capture_output=True,
                          text=True, check=True)  # fmt: skip
    count, most = (int(x) for x in proc.stdout.split())
    assert count >= 15 and most <= 3


def test_a_mixed_licence_deposit_is_split_into_one_record_per_licence(tmp_path: Path) -> None:
    """ENHANCE.PET: the AutoPET subjects are CC BY-NC 4.0, the others CC BY 4.0 (the release's data card)."""
    src = shutil.copytree(ROOT / "examples" / "enhance-petct", tmp_path / "enhance")
    plain = isaprofile.package_dataset(src, tmp_path / "plain")
    assert plain.path is not None
    assert ("licence-split-required", "warning") in [(i.code, i.severity.value) for i in plain.report]
    crate = json.loads((plain.path / "data" / "ro-crate-metadata.json").read_text())
    file_licences = {json.dumps(e["license"], sort_keys=True) for e in crate["@graph"]
                     if e.get("@type") == "File" and "license" in e}  # fmt: skip
    assert len(file_licences) == 2
    datacite = json.loads((plain.path / "data" / "metadata" / "datacite.json").read_text())
    assert {r["rightsIdentifier"] for r in datacite["rightsList"]} == {"cc-by-4.0", "cc-by-nc-4.0"}
    for_zenodo = isaprofile.package_dataset(src, tmp_path / "zen", split="zenodo")  # by size only: refused
    assert for_zenodo.path is None and "licence-split-required" in for_zenodo.report.codes()
    split = isaprofile.package_dataset(src, tmp_path / "split", split="licence")
    assert split.path is not None
    records = sorted(json.loads((p / "data" / "metadata" / "zenodo.json").read_text())["metadata"]["license"]
                     for p in split.path.glob("part-*"))  # fmt: skip
    assert records == ["cc-by-4.0", "cc-by-nc-4.0"]
    assert isaprofile.verify_package(split.path).valid


def test_header_pass_on_a_process_pool_gives_the_same_report(tmp_path: Path, monkeypatch) -> None:
    """The harvest + PHI header pass on two worker processes: the same findings, model and PHI results."""
    from isaprofile.harvest import assemble

    src = shutil.copytree(ROOT / "examples" / "crlm-ct", tmp_path / "crlm")
    serial = check(src, workers=1)
    monkeypatch.setattr(assemble, "PARALLEL_MIN_FILES", 1)  # the example is small: force the pool
    pooled = check(src, workers=2)
    assert pooled.report.flatten(LOC) == serial.report.flatten(LOC) and serial.report.issues
    assert [s.id for s in pooled.investigation.studies[0].scans] == [
        s.id for s in serial.investigation.studies[0].scans
    ]
    assert pooled.phi is not None and serial.phi is not None
    assert pooled.phi.exceptions == serial.phi.exceptions


def test_a_check_parses_each_workbook_once_and_the_next_check_reads_it_again(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's seven sheets are read (a header, then the rows) from one parse of metadata.xlsx; an
    edit between two checks is seen by the second, and no workbook stays open after a check."""
    from isaprofile.harvest import sheets

    opened: list[object] = []
    real = sheets._parse

    def counted(source, display):  # type: ignore[no-untyped-def]
        opened.append(source)
        return real(source, display)

    monkeypatch.setattr(sheets, "_parse", counted)
    first = check(example, cache=False)
    assert len(opened) == 1 and first.report.is_valid(False)
    assert first.investigation.studies[0].subjects[0].characteristics["strain"].value == "C57BL/6J"
    assert sheets._KEPT.get() is None  # closed with the check
    _sheet("Subjects", "Animal strain", 2, "BALB/c")(example)  # (opens it too)
    opened.clear()
    second = check(example, cache=False)
    assert len(opened) == 1
    assert second.investigation.studies[0].subjects[0].characteristics["strain"].value == "BALB/c"


def test_workbooks_kept_in_one_thread_are_that_threads_own(example: Path) -> None:
    """Two checks in two threads: one's kept workbooks are neither used nor closed by the other."""
    import threading

    from isaprofile.harvest import sheets

    book = example / "metadata.xlsx"
    seen: dict[str, object] = {}
    with sheets.workbooks_read_once():
        first = sheets._open_workbook(book, "metadata.xlsx")

        def other() -> None:
            seen["kept"] = sheets._KEPT.get()
            with sheets.workbooks_read_once():
                seen["own"] = sheets._open_workbook(book, "metadata.xlsx")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert sheets._open_workbook(book, "metadata.xlsx") is first  # still open, still kept
        assert list(sheets.read_table(book, "Subjects").rows())
    assert seen["kept"] is None and seen["own"] is not first


def test_on_model_is_given_the_model_before_the_later_layers_run(dataset: Path, monkeypatch) -> None:
    """The package command begins its previews from here: once, on the model the checks then run on."""
    import isaprofile.pipeline as pipeline

    events: list[tuple[str, int]] = []
    real = pipeline.apply_profile  # the first of the later layers

    def profile_rules(inv, prof):
        events.append(("profile", id(inv)))
        return real(inv, prof)

    monkeypatch.setattr(pipeline, "apply_profile", profile_rules)
    checked = check(dataset, on_model=lambda inv: events.append(("model", id(inv))))
    model = id(checked.investigation)
    assert events == [("model", model), ("profile", model)]
    assert checked.layers[-1] == "phi" and checked.valid


def test_the_paths_the_metadata_names_are_each_given_once_in_the_order_first_named() -> None:
    """ENHANCE names each label map once per label; the payload selection and the PHI gate get each once."""
    from isaprofile.pipeline import _referenced

    inv = check(ROOT / "examples" / "enhance-petct", skip=("linked", "phi")).investigation
    scans = [sc for st in inv.studies for sc in st.scans]
    named = [f.path for sc in scans for f in sc.files] + [g.path for sc in scans for g in sc.segmentations if g.path]
    assert len(named) > len(set(named))  # a map named by each of its labels' segmentations
    assert _referenced(inv) == list(dict.fromkeys(named))
