"""ISA-Tab written by others: header capitalisation, IRI accessions, data-file cells no file system takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from isaprofile.cli.main import main
from isaprofile.pipeline import check

ROOT = Path(__file__).resolve().parents[1]
PRECLINICAL = ROOT / "examples" / "preclinical-liver"


@pytest.fixture
def isatab(tmp_path: Path) -> Path:
    out = tmp_path / "isa"
    assert main(["isatab", str(PRECLINICAL), "-o", str(out)]) == 0
    return out


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _codes(report, *codes: str) -> list[tuple]:
    return [(i.code, i.file, i.line, i.column) for i in report.sorted().issues if i.code in codes]


def test_capitalised_characteristic_is_the_profile_field(isatab: Path) -> None:
    for study in isatab.glob("s_*.txt"):
        _edit(study, "Characteristics[organism]", "Characteristics[Organism]")
    checked = check(isatab, data_root=PRECLINICAL)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert prof is not None
    assert _codes(report, "required-missing") == []
    subject = inv.studies[0].subjects[0]
    assert subject.characteristics["organism"].value.accession == "NCBITaxon:10090"
    assert subject.characteristics["organism"].provenance.path == "Characteristics[Organism]"


@pytest.mark.parametrize("iri", ["http://purl.obolibrary.org/obo/NCBITaxon_10090",
                                 "https://purl.obolibrary.org/obo/NCBITaxon_10090"])  # fmt: skip
def test_iri_and_curie_of_one_term_agree(isatab: Path, iri: str) -> None:
    for study in isatab.glob("s_*.txt"):
        _edit(study, "\tNCBITaxon:10090", f"\t{iri}")
    checked = check(isatab, data_root=PRECLINICAL)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert _codes(report, "term-accession-mismatch", "term-label-mismatch") == []


def test_other_accession_still_a_mismatch(isatab: Path) -> None:
    study = sorted(isatab.glob("s_*.txt"))[0]
    _edit(study, "\tNCBITaxon:10090", "\thttp://purl.obolibrary.org/obo/NCBITaxon_10116")  # rat
    checked = check(isatab, data_root=PRECLINICAL)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    found = _codes(report, "term-accession-mismatch", "term-label-mismatch")
    assert found and {(c, f) for c, f, _l, _c in found} == {("term-accession-mismatch", study.name)}


def test_data_file_cell_longer_than_a_file_name(isatab: Path) -> None:
    assay = sorted(isatab.glob("a_*.txt"))[0]
    lines = assay.read_text(encoding="utf-8").split("\n")
    head = lines[0].split("\t")
    col = head.index("Raw Data File")
    cells = lines[1].split("\t")
    cells[col] = ";".join(f"SRR{1000000 + n}" for n in range(150))  # 150 accessions in one cell
    lines[1] = "\t".join(cells)
    assay.write_text("\n".join(lines), encoding="utf-8")
    checked = check(isatab, data_root=PRECLINICAL)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert _codes(report, "isatab-file-name-too-long") == [("isatab-file-name-too-long", assay.name, 2, col + 1)]
    assert main(["validate", str(isatab)]) == 1  # a finding, not an OSError


def test_table_file_name_longer_than_a_file_name(isatab: Path) -> None:
    inv = isatab / "i_investigation.txt"
    study = sorted(isatab.glob("s_*.txt"))[0].name
    long_name = "s_" + "x" * 300 + ".txt"
    _edit(inv, f"\t{study}", f"\t{long_name}")
    checked = check(isatab, data_root=PRECLINICAL)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    line = next(n for n, text in enumerate(inv.read_text().splitlines(), 1) if long_name in text)
    assert _codes(report, "isatab-file-name-too-long") == [("isatab-file-name-too-long", inv.name, line, 2)]
