"""Build the small synthetic CRLM example: TCIA layout, CT series + DICOM SEG per patient, NBIA metadata.

Reproduces the layout and column names of TCIA Colorectal-Liver-Metastases (domain.md §1b) with three
patients and tiny 16x16x4 CT volumes. Nothing is downloaded; no names are written (PatientID is the
pseudonym, PatientIdentityRemoved is YES). Run: ``python examples/crlm-ct/make_example.py [OUT]``.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import openpyxl
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
ROWS = COLS = 16
SLICES = 4
MANIFEST = "manifest-1669817128730"
CLINICAL = "Colorectal Liver Metastases Clinical data April 2023.xlsx"
CLINICAL_SHEET = "TCIA_n=197"
COLUMNS = [
    "Patient-ID", "De-identify Scout Name", "age", "sex", "major_comorbidity", "body_mass_index",
    "node_positive_primary", "synchronous_crlm", "multiple_metastases", "clinrisk_score", "clinrisk_stratified",
    "carcinoembryonic_antigen", "max_tumor_size", "bilobar_disease", "extrahep_disease",
    "chemo_before_liver_resection", "preoperative_pve", "steatosis_yesno", "presence_sinusoidal_dilata",
    "NASH_score", "NASH_yesno", "NASH_greater_4", "total_response_percent", "necrosis_percent", "fibrosis_percent",
    "Fibrosis_greater_40_percent", "mucin_percent", "overall_survival_months", "vital_status",
    "progression_or_recurrence", "months_to_DFS_progression", "vital_status_DFS",
    "progression_or_recurrence_liveronly", "months_to_liver_DFS_progression", "vital_status_liver_DFS",
    "relevant_notes",
]  # fmt: skip
NBIA = [
    "Series UID", "Collection", "3rd Party Analysis", "Data Description URI", "Subject ID", "Study UID",
    "Study Description", "Study Date", "Series Description", "Manufacturer", "Modality", "SOP Class Name",
    "SOP Class UID", "Number of Images", "File Size", "File Location", "Download Timestamp",
]  # fmt: skip
# pseudonym, study folder, CT series folder, SEG series folder, slice thickness, pixel spacing, kVp, tumours
PATIENTS = [
    ("CRLM-CT-1001", "06-06-1992-NA-CT ANGIO ABD WITH PEL-75163", "101.000000-NA-71548",
     "100.000000-Segmentation-46600", 2.5, 0.703125, 120, 2),
    ("CRLM-CT-1002", "01-19-1991-NA-CT ABDOMEN W CONT-02311", "2.000000-PORTAL VENOUS-33291",
     "100.000000-Segmentation-81524", 5.0, 0.78125, 120, 1),
    ("CRLM-CT-1003", "11-02-1993-NA-CT CHEST ABD PELVIS W CONT-40563", "3.000000-ABD PEL VEN-11874",
     "100.000000-Segmentation-90712", 1.25, 0.976562, 100, 3),
]  # fmt: skip
# age, sex (1/2), ... one value per clinical column after the ID and scout name; -999 = missing
CLINICAL_ROWS = [
    [61, 1, 0, 27.4, 1, 1, 1, 3, 1, 12.5, 4.2, 1, 0, 1, 0, 1, 0, 2, 0, 0, 60, 20, 30, 0, 0,
     48.2, 0, 1, 17.3, 1, 1, 22.1, 1, "none"],
    [54, 2, 1, -999, 0, 0, 0, 1, 0, 3.1, 2.0, 0, 0, 0, 0, 0, 1, 1, 0, 0, -999, -999, 10, 0, 5,
     75.0, 1, 0, 75.0, 1, 0, 75.0, 1, ""],
    [70, 1, 0, 31.2, 1, 1, 1, 4, 1, 48.0, 6.8, 1, 1, 1, 1, 1, 1, 5, 1, 1, 30, 50, 45, 1, 0,
     20.4, 0, 1, 8.9, 0, 1, 12.0, 0, "-999"],
]  # fmt: skip


def _uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=["isaprofile-crlm-example", *map(str, parts)])


def _base(pid: str, modality: str, sop_class: str, sop_uid: str, study: str, series: str, number: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.Modality = modality
    ds.PatientID = pid
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic example (isaprofile)"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SeriesNumber = number
    ds.Manufacturer = "SIEMENS" if pid.endswith(("1", "3")) else "GE MEDICAL SYSTEMS"
    return ds


def write_ct(folder: Path, patient: tuple) -> tuple[str, str]:
    pid, _study_dir, _ct_dir, _seg_dir, thickness, spacing, kvp, _n = patient
    study, series = _uid(pid, "study"), _uid(pid, "ct")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int(pid[-4:]))
    for i in range(SLICES):
        ds = _base(pid, "CT", CT_IMAGE, _uid(pid, "ct", i), study, series, 2)
        ds.ManufacturerModelName = "SOMATOM Definition AS" if ds.Manufacturer == "SIEMENS" else "LightSpeed VCT"
        ds.SeriesDescription = "PORTAL VENOUS"
        ds.KVP, ds.SliceThickness, ds.PixelSpacing = kvp, thickness, [spacing, spacing]
        ds.XRayTubeCurrent, ds.ConvolutionKernel, ds.ContrastBolusAgent = 250, "B30f", "IV contrast"
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, i * thickness], [1, 0, 0, 0, 1, 0]
        ds.InstanceNumber = i + 1
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = rng.integers(900, 1200, (ROWS, COLS), dtype=np.uint16).tobytes()
        ds.save_as(folder / f"1-{i + 1:03d}.dcm", enforce_file_format=True)
    return study, series


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def write_seg(folder: Path, patient: tuple, study: str, ct_series: str) -> None:
    pid, *_rest, n_tumours = patient
    ds = _base(pid, "SEG", SEG_STORAGE, _uid(pid, "seg", 0), study, _uid(pid, "seg"), 100)
    ds.ManufacturerModelName, ds.SeriesDescription = "isaprofile example", "Segmentation"
    labels = [("Liver", "10200004", "Liver"), ("Liver Remnant", "10200004", "Liver"),
              ("Hepatic", "8993003", "Hepatic vein"), ("Portal", "32764006", "Portal vein")]  # fmt: skip
    labels += [(f"Tumor_{k}", "4147007", "Mass") for k in range(1, n_tumours + 1)]
    segments = []
    for number, (label, code, meaning) in enumerate(labels, 1):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel, item.SegmentAlgorithmType = number, label, "MANUAL"
        category = ("49755003", "Morphologically Altered Structure") if meaning == "Mass" else \
            ("91723000", "Anatomical Structure")  # fmt: skip
        item.SegmentedPropertyCategoryCodeSequence = Sequence([_code(category[0], "SCT", category[1])])
        item.SegmentedPropertyTypeCodeSequence = Sequence([_code(code, "SCT", meaning)])
        segments.append(item)
    ds.SegmentSequence = Sequence(segments)
    ref = Dataset()
    ref.SeriesInstanceUID = ct_series
    ref.ReferencedInstanceSequence = Sequence()
    ds.ReferencedSeriesSequence = Sequence([ref])
    ds.SegmentationType = "BINARY"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.NumberOfFrames = len(labels)
    mask = np.zeros((len(labels), ROWS, COLS), dtype=np.uint8)
    for k in range(len(labels)):
        mask[k, 4 + k % 8 : 8 + k % 8, 4:10] = 1
    ds.PixelData = np.packbits(mask.reshape(-1), bitorder="little").tobytes()
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "1-1.dcm", enforce_file_format=True)


def write_metadata(out: Path, rows: list[list[object]]) -> None:
    folder = out / MANIFEST / "Colorectal-Liver-Metastases"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "metadata.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(NBIA)
        writer.writerows(rows)


def write_clinical(out: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = CLINICAL_SHEET
    ws.append(COLUMNS)
    for patient, values in zip(PATIENTS, CLINICAL_ROWS, strict=True):
        ws.append([patient[0], "", *values])
    wb.save(out / CLINICAL)


def write_manifest(out: Path, series: list[str]) -> None:
    lines = ["downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet",
             "includeAnnotation=true", "noOfrRetry=4", "databasketId=manifest-1669817128730.tcia",
             "manifestVersion=3.0", "ListOfSeriesToDownload=", *series]  # fmt: skip
    (out / "Colorectal Liver Metastases November 2022 manifest.tcia").write_text("\n".join(lines) + "\n")


def build(out: Path) -> None:
    """Write the example dataset (without its isaprofile.yaml) into ``out``."""
    for old in out.glob("CRLM-CT-*"):
        shutil.rmtree(old)
    meta_rows, series = [], []
    for patient in PATIENTS:
        pid, study_dir, ct_dir, seg_dir, *_ = patient
        base = out / pid / study_dir
        study, ct_series = write_ct(base / ct_dir, patient)
        write_seg(base / seg_dir, patient, study, ct_series)
        for uid, folder, desc, modality, sop, name, count in (
            (ct_series, ct_dir, "PORTAL VENOUS", "CT", CT_IMAGE, "CT Image Storage", SLICES),
            (_uid(pid, "seg"), seg_dir, "Segmentation", "SEG", SEG_STORAGE, "Segmentation Storage", 1),
        ):
            files = sorted((base / folder).iterdir())
            size = sum(f.stat().st_size for f in files)
            manufacturer = "SIEMENS" if pid.endswith(("1", "3")) else "GE MEDICAL SYSTEMS"
            meta_rows.append([uid, "Colorectal-Liver-Metastases", "NO", "https://doi.org/10.7937/QXK2-QG03", pid,
                              study, study_dir.split("-NA-")[1].rsplit("-", 1)[0], study_dir[:10], desc,
                              manufacturer, modality, name, sop, count, f"{size / 1e6:.2f} MB",
                              f"./{pid}/{study_dir}/{folder}", "2023-04-20T10:00:00.000"])  # fmt: skip
            series.append(uid)
    write_metadata(out, meta_rows)
    write_clinical(out)
    write_manifest(out, series)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
