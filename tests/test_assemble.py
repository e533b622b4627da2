"""Bad input in a dataset folder: each a located finding, the rest of the dataset still assembled."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import yaml

from isaprofile.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]
ENHANCE = ROOT / "examples" / "enhance-petct"
CRLM = ROOT / "examples" / "crlm-ct"
CLINICAL = "Colorectal Liver Metastases Clinical data April 2023.xlsx"


def _found(path: Path) -> list[tuple]:
    checked = load_dataset(path)
    _inv, _prof, report = checked.investigation, checked.profile, checked.report
    return [(i.code, i.file, i.line, i.column, i.path) for i in report.sorted().issues]


def _config(root: Path, change) -> None:
    data = yaml.safe_load((root / "isaprofile.yaml").read_text())
    change(data)
    (root / "isaprofile.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_value_outside_value_map(crlm: Path) -> None:
    wb = openpyxl.load_workbook(crlm / CLINICAL)
    wb["TCIA_n=197"]["D3"] = 3  # sex of CRLM-CT-1002: the map knows 1 and 2
    wb.save(crlm / CLINICAL)
    assert _found(crlm) == [("value-unmapped", CLINICAL, 3, 4, "sheet 'TCIA_n=197', column 'sex'")]
    checked = load_dataset(crlm)
    inv, _prof, _rep = checked.investigation, checked.profile, checked.report
    assert "sex" not in inv.studies[0].subjects[1].characteristics
    assert inv.studies[0].subjects[1].characteristics["age"].value == 54


def test_unknown_column(crlm: Path) -> None:
    wb = openpyxl.load_workbook(crlm / CLINICAL)
    wb["TCIA_n=197"]["AK1"] = "favourite colour"
    wb["TCIA_n=197"]["AK2"] = "blue"
    wb.save(crlm / CLINICAL)
    assert _found(crlm) == [("unknown-column", CLINICAL, 1, 37, "sheet 'TCIA_n=197', column 'favourite colour'")]


def test_corrupt_xlsx(crlm: Path) -> None:
    (crlm / CLINICAL).write_bytes(b"PK\x03\x04 not really a workbook")
    assert _found(crlm) == [("sheet-unreadable", CLINICAL, None, None, None)]
    checked = load_dataset(crlm)  # the subjects still come from the images
    inv, _prof, _rep = checked.investigation, checked.profile, checked.report
    assert [s.id for s in inv.studies[0].subjects] == ["CRLM-CT-1001", "CRLM-CT-1002", "CRLM-CT-1003"]


def test_file_matching_no_subject(enhance: Path) -> None:
    ct = enhance / "imaging-data" / "images" / "CT_0001-1000"
    shutil.copy(ct / "0001.nii.gz", ct / "extra-scan.nii.gz")
    assert _found(enhance) == [
        ("file-unmatched", "imaging-data/images/CT_0001-1000/extra-scan.nii.gz", None, None, "files[0].pattern")
    ]


def test_file_of_unlisted_subject(crlm: Path) -> None:
    (crlm / "CRLM-CT-1003").rename(crlm / "CRLM-CT-1004")
    found = _found(crlm)
    ct = next((crlm / "CRLM-CT-1004").glob("*/3.000000-*/1-001.dcm")).relative_to(crlm).as_posix()
    seg = next((crlm / "CRLM-CT-1004").glob("*/100.000000-*/1-1.dcm")).relative_to(crlm).as_posix()
    nbia = "manifest-1669817128730/Colorectal-Liver-Metastases/metadata.csv"
    assert found == [
        ("file-subject-unknown", seg, None, None, "files[0]"),
        ("file-subject-unknown", ct, None, None, "files[0]"),
        ("subject-without-sample", CLINICAL, 4, None, "sheet 'TCIA_n=197'"),
        ("sheet-row-unmatched", nbia, 6, None, None),  # the CT series row
        ("tcia-location-mismatch", nbia, 6, 16, "column 'File Location'"),  # its folder was renamed
        ("sheet-row-unmatched", nbia, 7, None, None),  # the SEG row
        ("tcia-location-mismatch", nbia, 7, 16, "column 'File Location'"),
    ]


def test_configured_column_missing(enhance: Path) -> None:
    _config(enhance, lambda d: d["sheets"][0]["columns"].update({"Tracer Name": "radiopharmaceutical"}))
    assert _found(enhance) == [("sheet-column-missing", "PT-details.xlsx", 1, None, "sheets[0].columns.Tracer Name")]


def test_sheet_row_without_scan(enhance: Path) -> None:
    wb = openpyxl.load_workbook(enhance / "CT-details.xlsx")
    row = ["0009", "Siemens", "Biograph mCT", 120, "BODY FILTER", "B31f", 1.5, 3.0, 1.2, "AutoPET Challenge"]
    wb.active.append(row)
    wb.save(enhance / "CT-details.xlsx")
    assert _found(enhance) == [("sheet-row-unmatched", "CT-details.xlsx", 5, None, "sheet 'Sheet'")]


def test_glob_matching_nothing(enhance: Path) -> None:
    _config(enhance, lambda d: d["files"].append({"glob": "masks/*.nii.gz"}))
    assert _found(enhance) == [("files-none", "isaprofile.yaml", None, None, "files[2].glob")]


def test_segmentation_without_source_scan(enhance: Path) -> None:
    (enhance / "imaging-data" / "images" / "CT_0001-1000" / "0002.nii.gz").unlink()  # no sidecar in the release
    found = _found(enhance)
    assert {(c, f) for c, f, *_ in found} == {
        ("segmentation-source-unknown", f"imaging-data/ground-truth/{g}/0002.nii.gz")
        for g in ("Body-Composition", "Cardiac", "Muscles", "Organs", "Peripheral-Bones", "Ribs", "Vertebrae")
    } | {("sheet-row-unmatched", "CT-details.xlsx")}


def test_truncated_nifti_is_a_finding_and_the_rest_goes_on(enhance: Path) -> None:
    path = enhance / "imaging-data" / "images" / "PT_0001-1683" / "0003.nii.gz"
    path.write_bytes(path.read_bytes()[:200])
    checked = load_dataset(enhance)
    inv, report = checked.investigation, checked.report
    found = [(i.code, i.file) for i in report.issues]
    # the gzip stream ends inside the image data: the header is read, the missing bytes are the finding
    assert ("nifti-truncated", "imaging-data/images/PT_0001-1683/0003.nii.gz") in found
    assert not report.valid
    assert {s.id for s in inv.studies[0].scans} >= {"0001-PET", "0002-PET", "0001-CT", "0003-CT"}


def test_each_harvested_item_is_let_go_once_in_the_model(enhance: Path, monkeypatch) -> None:
    # the memory of a large dataset: a file's header values are not held after its scan or segmentation is made
    import gc

    from isaprofile.harvest import assemble as assembling
    from isaprofile.harvest.types import HarvestedImage

    live: list[int] = []
    real = assembling._add_segmentations

    def counting(state, item, *args) -> None:
        gc.collect()
        live.append(sum(isinstance(o, HarvestedImage) for o in gc.get_objects()))
        real(state, item, *args)

    monkeypatch.setattr(assembling, "_add_segmentations", counting)
    checked = load_dataset(enhance)
    assert checked.investigation.studies[0].scans[0].segmentations
    assert len(live) > 2
    assert live == list(range(len(live), 0, -1))  # the scans' items gone, then one segmentation's after another
