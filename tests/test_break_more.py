"""Break-one-thing tests for the remaining codes: unusual ISA-Tab, terms and units, configs, deposits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from isaprofile.bagit.verify import verify_package
from isaprofile.dataset import DatasetError, load_dataset, validate
from isaprofile.isatab.write import write_isatab
from isaprofile.linked.context import read_document, to_graph
from isaprofile.linked.metadata import check_crate, check_metadata
from isaprofile.model import Term, Value
from isaprofile.package.deposit import package_dataset
from isaprofile.package.metadata_checks import metadata_checks
from isaprofile.pipeline import check
from isaprofile.profile.coerce import coerce
from isaprofile.profile.model import load_profile

LOC = ("code", "file", "line", "column", "path")


@pytest.fixture
def isa(example: Path, tmp_path: Path) -> Path:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    write_isatab(inv, tmp_path / "isa", prof)
    return tmp_path / "isa"


def _isa(folder: Path, example: Path | None = None, profile="auto") -> list[tuple]:
    return check(folder, profile, data_root=example).report.sorted().flatten(LOC)


def test_unreadable_and_several_investigation_files(tmp_path: Path) -> None:
    (tmp_path / "i_a.txt").mkdir()
    (tmp_path / "i_b.txt").write_text("INVESTIGATION\n")
    found = _isa(tmp_path, profile=None)
    assert ("isatab-several-investigations", str(tmp_path), None, None, None) in found
    assert ("isatab-unreadable", "i_a.txt", None, None, None) in found


def test_missing_sections_and_rows_before_a_section(tmp_path: Path) -> None:
    (tmp_path / "i_inv.txt").write_text("Study Identifier\tS1\nINVESTIGATION\nInvestigation Identifier\tI1\n")
    found = check(tmp_path, None).report
    assert found.flatten(LOC)[0] == ("isatab-section-order", "i_inv.txt", 1, 1, None)
    assert [i.message for i in found if i.code == "isatab-missing-section"] == [
        "the investigation file has no ONTOLOGY SOURCE REFERENCE section",
        "the investigation file has no STUDY section",
    ]


def test_missing_node_column_and_empty_table(isa: Path, example: Path) -> None:
    s = isa / "s_MASH-CT.txt"
    s.write_text(s.read_text().replace("Source Name", "Source", 1))
    a = isa / "a_MASH-CT_CT.txt"
    a.write_text(a.read_text().split("\n")[0] + "\n")
    found = _isa(isa, example)
    assert ("isatab-missing-column", "s_MASH-CT.txt", 1, None, None) in found
    assert ("isatab-unknown-header", "s_MASH-CT.txt", 1, 1, "Source") in found
    assert ("isatab-empty-table", "a_MASH-CT_CT.txt", 1, None, None) in found


def test_empty_and_unusable_names(isa: Path, example: Path) -> None:
    s = isa / "s_MASH-CT.txt"
    lines = s.read_text().split("\n")
    cells = lines[1].split("\t")
    cells[0] = ""  # a source without a name, whose characteristics are still there
    lines[1] = "\t".join(cells)
    cells = lines[2].split("\t")
    cells[25] = '"MASH\x01bad"'  # a sample name with a control character
    lines[2] = "\t".join(cells)
    s.write_text("\n".join(lines))
    cells = lines[3].split("\t")
    cells[4] = '"C57\x02BL"'  # a characteristic with a control character
    lines[3] = "\t".join(cells)
    s.write_text("\n".join(lines))
    found = _isa(isa, example)
    assert ("isatab-empty-name", "s_MASH-CT.txt", 2, 1, "Source Name") in found
    assert ("isatab-bad-name", "s_MASH-CT.txt", 3, None, None) in found
    assert ("isatab-bad-name", "s_MASH-CT.txt", 4, None, None) in found


def test_term_label_accession_and_unit_problems() -> None:
    prof = load_profile("preclinical-imaging")
    sex = prof.field("sex")
    value, problems = coerce(sex, Term("male", "PATO", "PATO:0000383"))
    assert value.value.label == "male" and problems[0][0] == "term-accession-mismatch"
    value, problems = coerce(sex, Term("boy", "PATO", "PATO:0000384"))
    assert value.value.label == "male" and problems[0][0] == "term-label-mismatch"
    assert coerce(prof.field("body_weight"), 3, unit="mm")[1] == [
        ("unit-mismatch", {"field": "Body weight", "expected": "gram", "unit": "millimetre"})]  # fmt: skip
    assert coerce(prof.field("body_weight"), 0.025, unit="kg")[0] == Value(25.0, Term("gram", "UO", "UO:0000021"))


def test_no_config_and_no_isatab(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="neither a dataset folder"):
        load_dataset(tmp_path)
    from isaprofile.harvest.config import load_config

    config, report = load_config(tmp_path)
    assert config is None and report.flatten(LOC) == [("config-missing", str(tmp_path), None, None, None)]


def test_deposit_metadata_findings(example: Path) -> None:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    inv.title, inv.description, inv.public_release_date, inv.submission_date = "", " ", "", ""
    del inv.comments["publisher"]
    assert [(i.code, i.path) for i in check_metadata(inv, prof)] == [
        ("title-missing", "title"), ("description-missing", "description"),
        ("publisher-missing", "comments.publisher"), ("date-missing", "public_release_date"),
    ]  # fmt: skip


def test_linked_data_documents_that_cannot_be_used(tmp_path: Path) -> None:
    assert read_document(b"[1, 2]", file="x.json")[1].flatten(("code", "path")) == [("jsonld-not-object", "$")]
    assert read_document(tmp_path / "absent.json", file="absent.json")[1].codes() == ["jsonld-unreadable"]
    assert check_crate({"@context": {}}, file="c.json").flatten(("code", "path")) == [("jsonld-no-root", "$")]
    assert to_graph({"@context": "https://example.org/unshipped.jsonld"}, file="c.json")[1].codes() == [
        "jsonld-context-remote"]  # fmt: skip


def test_dataset_level_validate_runs_the_linked_layer(example: Path) -> None:
    cfg = example / "isaprofile.yaml"
    cfg.write_text(cfg.read_text().replace("0000-0002-1825-0097", "0000-0002-1825-0098"))
    assert [(i.code, i.file, i.path) for i in validate(example)] == [
        ("orcid-invalid", "isaprofile.yaml", "investigation.creators[0].orcid")]  # fmt: skip
    assert validate(example, skip=("linked",)).issues == []


def test_preview_failure_is_a_warning_and_missing_metadata_is_found(example: Path, tmp_path: Path) -> None:
    image = example / "images/HCC-01/HCC-01-w0-mri.nii.gz"
    image.write_bytes(gzip.compress(gzip.decompress(image.read_bytes())[:600]))  # header intact, voxels cut
    result = package_dataset(example, tmp_path / "pkg", workers=1)
    assert [(i.code, i.file) for i in result.report.issues] == [
        ("preview-failed", "images/HCC-01/HCC-01-w0-mri.nii.gz")
    ]
    assert result.path is not None and result.report.valid
    (result.path / "data/ro-crate-metadata.json").unlink()
    found = verify_package(result.path, checks=metadata_checks()).flatten(("code", "path"))
    assert ("package-metadata-missing", "data/ro-crate-metadata.json") in found
    assert json.loads((result.path / "data/metadata/validation-report.json").read_text())["valid"] is True


def test_control_character_in_a_csv_cell_is_a_finding(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "crlm"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "crlm-ct", data)
    csv = next(data.glob("manifest-*/Colorectal-Liver-Metastases/metadata.csv"))
    csv.write_text(csv.read_text().replace("SIEMENS", "SIEM\x01ENS", 1))
    rel = csv.relative_to(data).as_posix()
    found = [f for f in validate(data).flatten(LOC) if f[0] != "phi-exception-applied"]
    assert found == [("sheet-bad-character", rel, 2, 10, "column 'Manufacturer'")]
