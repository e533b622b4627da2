"""Build the small synthetic CRLM example: TCIA layout, CT series + DICOM SEG per patient, NBIA metadata.

Reproduces the layout and column names of TCIA Colorectal-Liver-Metastases (domain.md §1b) with three
patients and tiny 16x16x4 CT volumes. Nothing is downloaded; no names are written (PatientID is the
pseudonym, PatientIdentityRemoved is YES). Run: ``python examples/crlm-ct/make_example.py [OUT]``.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from isaprofile.profile.template import fixed_zip_times

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


def series_folder(name: str) -> tuple[int, str | None]:
    """(SeriesNumber, SeriesDescription or None) from an NBIA series folder name such as
    ``101.000000-NA-71548`` (NBIA writes ``NA`` for an empty description)."""
    number, rest = name.split("-", 1)
    desc = rest.rsplit("-", 1)[0]
    return int(float(number)), None if desc == "NA" else desc


def study_folder(name: str) -> tuple[str, str]:
    """(StudyDate as DICOM DA, StudyDescription) from ``06-06-1992-NA-CT ANGIO ABD WITH PEL-75163``."""
    month, day, year = name[:10].split("-")
    return f"{year}{month}{day}", name[11:].split("-", 1)[1].rsplit("-", 1)[0]


def manufacturer(pid: str) -> str:
    return "SIEMENS" if pid.endswith(("1", "3")) else "GE MEDICAL SYSTEMS"


def _base(patient: tuple, modality: str, sop_class: str, sop_uid: str, series: str, folder: str) -> Dataset:
    pid, study_dir = patient[0], patient[1]
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
    ds.StudyDate, ds.StudyDescription = study_folder(study_dir)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(pid, "study"), series
    ds.FrameOfReferenceUID = _uid(pid, "frame of reference")
    number, description = series_folder(folder)
    ds.SeriesNumber = number
    if description is not None:
        ds.SeriesDescription = description
    ds.Manufacturer = manufacturer(pid)
    return ds


def _position(thickness: float, i: int) -> list[float]:
    return [0.0, 0.0, round(i * thickness, 4)]


def write_ct(folder: Path, patient: tuple) -> list[str]:
    """The CT slices of ``patient``; returns their SOP Instance UIDs in slice order."""
    pid, _study_dir, ct_dir, _seg_dir, thickness, spacing, kvp, _n = patient
    series = _uid(pid, "ct")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int(pid[-4:]))
    uids = []
    for i in range(SLICES):
        ds = _base(patient, "CT", CT_IMAGE, _uid(pid, "ct", i), series, ct_dir)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ManufacturerModelName = "SOMATOM Definition AS" if ds.Manufacturer == "SIEMENS" else "LightSpeed VCT"
        ds.KVP, ds.SliceThickness, ds.PixelSpacing = kvp, thickness, [spacing, spacing]
        ds.XRayTubeCurrent, ds.ConvolutionKernel, ds.ContrastBolusAgent = 250, "B30f", "IV contrast"
        ds.ImagePositionPatient, ds.ImageOrientationPatient = _position(thickness, i), [1, 0, 0, 0, 1, 0]
        ds.InstanceNumber = i + 1
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = rng.integers(900, 1200, (ROWS, COLS), dtype=np.uint16).tobytes()
        ds.save_as(folder / f"1-{i + 1:03d}.dcm", enforce_file_format=True)
        uids.append(ds.SOPInstanceUID)
    return uids


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _item(**attrs: object) -> Dataset:
    item = Dataset()
    for key, value in attrs.items():
        setattr(item, key, value)
    return item


# Segments as the collection's expert DSOs have them (labels: domain.md §1b; property-type meanings as read from
# the IDC copies of CRLM-CT-1001..1006 and recorded in a public fetch script: Liver → "Liver", Liver Remnant →
# "Liver", Hepatic and Portal → "Vein", Tumor_k → "Mass"). Codes are SNOMED CT, as in DICOM PS3.16 (CID 7150
# Segmentation Property Categories; CID 7151 / 7166 types): Anatomical Structure 91723000, Morphologically Altered
# Structure 49755003, Liver 10200004, Vein 29092000, Mass 4147007.
ANATOMY = ("91723000", "Anatomical Structure")
ALTERED = ("49755003", "Morphologically Altered Structure")
SEGMENTS = [
    ("Liver", ANATOMY, ("10200004", "Liver")),
    ("Liver Remnant", ANATOMY, ("10200004", "Liver")),
    ("Hepatic", ANATOMY, ("29092000", "Vein")),
    ("Portal", ANATOMY, ("29092000", "Vein")),
]
TUMOUR = (ALTERED, ("4147007", "Mass"))
# DICOM PS3.16 CID 7202 / CID 7203: why the CT slice is referenced and how the frame was derived
SOURCE_PURPOSE = ("121322", "Source image for image processing operation")
DERIVATION = ("113076", "Segmentation")


def segments_of(patient: tuple) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    return [*SEGMENTS, *((f"Tumor_{k}", *TUMOUR) for k in range(1, patient[-1] + 1))]


def write_seg(folder: Path, patient: tuple, ct_uids: list[str]) -> None:
    """A multi-frame binary SEG like the collection's: one frame per segment and CT slice."""
    pid, _study_dir, _ct_dir, seg_dir, thickness, spacing, *_ = patient
    ds = _base(patient, "SEG", SEG_STORAGE, _uid(pid, "seg", 0), _uid(pid, "seg"), seg_dir)
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ManufacturerModelName, ds.SoftwareVersions = "Scout Liver", "isaprofile example"
    ds.InstanceNumber = 1
    ds.ContentLabel, ds.ContentDescription = "SEGMENTATION", "Liver, remnant, vessels and tumours"
    segments = []
    for number, (label, category, kind) in enumerate(segments_of(patient), 1):
        segments.append(_item(
            SegmentNumber=number, SegmentLabel=label, SegmentAlgorithmType="SEMIAUTOMATIC",
            SegmentAlgorithmName="Scout Liver",
            SegmentedPropertyCategoryCodeSequence=Sequence([_code(category[0], "SCT", category[1])]),
            SegmentedPropertyTypeCodeSequence=Sequence([_code(kind[0], "SCT", kind[1])]),
        ))  # fmt: skip
    ds.SegmentSequence = Sequence(segments)
    ds.ReferencedSeriesSequence = Sequence([_item(
        SeriesInstanceUID=_uid(pid, "ct"),
        ReferencedInstanceSequence=Sequence([
            _item(ReferencedSOPClassUID=CT_IMAGE, ReferencedSOPInstanceUID=uid) for uid in ct_uids
        ]),
    )])  # fmt: skip
    dimension = _uid(pid, "seg", "dimensions")
    ds.DimensionOrganizationSequence = Sequence([_item(DimensionOrganizationUID=dimension)])
    ds.DimensionIndexSequence = Sequence([
        _item(DimensionOrganizationUID=dimension, DimensionIndexPointer=0x0062000B,
              FunctionalGroupPointer=0x0062000A),  # ReferencedSegmentNumber in SegmentIdentificationSequence
        _item(DimensionOrganizationUID=dimension, DimensionIndexPointer=0x00200032,
              FunctionalGroupPointer=0x00209113),  # ImagePositionPatient in PlanePositionSequence
    ])  # fmt: skip
    ds.SharedFunctionalGroupsSequence = Sequence([_item(
        PlaneOrientationSequence=Sequence([_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelMeasuresSequence=Sequence([_item(
            PixelSpacing=[spacing, spacing], SliceThickness=thickness, SpacingBetweenSlices=thickness,
        )]),
    )])  # fmt: skip
    frames = []
    for number in range(1, len(segments) + 1):
        for i, uid in enumerate(ct_uids):
            source = _item(ReferencedSOPClassUID=CT_IMAGE, ReferencedSOPInstanceUID=uid,
                           PurposeOfReferenceCodeSequence=Sequence([_code(*SOURCE_PURPOSE[:1], "DCM",
                                                                          SOURCE_PURPOSE[1])]))  # fmt: skip
            frames.append(_item(
                DerivationImageSequence=Sequence([_item(
                    SourceImageSequence=Sequence([source]),
                    DerivationCodeSequence=Sequence([_code(DERIVATION[0], "DCM", DERIVATION[1])]),
                )]),
                FrameContentSequence=Sequence([_item(DimensionIndexValues=[number, i + 1])]),
                PlanePositionSequence=Sequence([_item(ImagePositionPatient=_position(thickness, i))]),
                SegmentIdentificationSequence=Sequence([_item(ReferencedSegmentNumber=number)]),
            ))  # fmt: skip
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.SegmentationType = "BINARY"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.LossyImageCompression = "00"
    ds.NumberOfFrames = len(frames)
    mask = np.zeros((len(frames), ROWS, COLS), dtype=np.uint8)
    for k in range(len(frames)):
        segment = k // SLICES
        mask[k, 4 + segment % 8 : 8 + segment % 8, 4:10] = 1
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
    stamp = datetime(2023, 4, 20, 10, 0, 0)  # fixed, so that the generator is reproducible byte for byte
    wb.properties.created = wb.properties.modified = stamp
    ws.append(COLUMNS)
    for patient, values in zip(PATIENTS, CLINICAL_ROWS, strict=True):
        ws.append([patient[0], "", *values])
    buffer = io.BytesIO()
    wb.save(buffer)
    (out / CLINICAL).write_bytes(fixed_zip_times(buffer.getvalue(), stamp))


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
        ct_uids = write_ct(base / ct_dir, patient)
        write_seg(base / seg_dir, patient, ct_uids)
        date, study_desc = study_folder(study_dir)
        for uid, folder, modality, sop, name, count in (
            (_uid(pid, "ct"), ct_dir, "CT", CT_IMAGE, "CT Image Storage", SLICES),
            (_uid(pid, "seg"), seg_dir, "SEG", SEG_STORAGE, "Segmentation Storage", 1),
        ):
            files = sorted((base / folder).iterdir())
            size = sum(f.stat().st_size for f in files)
            meta_rows.append([uid, "Colorectal-Liver-Metastases", "NO", "https://doi.org/10.7937/QXK2-QG03", pid,
                              _uid(pid, "study"), study_desc, study_dir[:10], series_folder(folder)[1] or "",
                              manufacturer(pid), modality, name, sop, count, f"{size / 1e6:.2f} MB",
                              f"./{pid}/{study_dir}/{folder}", "2023-04-20T10:00:00.000"])  # fmt: skip
            series.append(uid)
    write_metadata(out, meta_rows)
    write_clinical(out)
    write_manifest(out, series)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
