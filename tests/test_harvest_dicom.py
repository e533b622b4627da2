"""DICOM header harvest on pydicom's and nibabel's real test files, plus files made here."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import nibabel
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from isaprofile.harvest.images import harvest_files, to_profile_values
from isaprofile.model import Provenance, Term
from isaprofile.profile.model import load_profile

NICOM = Path(os.path.dirname(nibabel.__file__)) / "nicom" / "tests" / "data"
MM = Term("millimetre", "UO", "UO:0000016")
MS = Term("millisecond", "UO", "UO:0000028")


def copy(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(get_testdata_file(name), dest)
    return dest


def plain(item) -> dict:
    """Values as (value, unit label) pairs, provenance left out."""
    return {k: (v.value, v.unit.label if v.unit else None) for k, v in item.values.items()}


def test_ct_small(tmp_path: Path) -> None:
    copy("CT_small.dcm", tmp_path / "ct" / "1-001.dcm")
    items, report = harvest_files(tmp_path)
    assert report.flatten() == []
    [ct] = items
    assert (ct.kind, ct.modality, ct.paths, ct.folder) == ("dicom-series", "CT", ["ct/1-001.dcm"], "ct")
    assert ct.uid == "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
    assert ct.subject == "1CT1"
    kvp = ct.values["KVP"]
    assert (kvp.value, kvp.unit) == (120.0, Term("kilovolt", "UO", "UO:0000248"))
    assert kvp.provenance == Provenance(file="ct/1-001.dcm", path="(0018,0060) KVP")
    st = ct.values["SliceThickness"]
    assert (st.value, st.unit) == (5.0, MM)
    assert st.provenance == Provenance(file="ct/1-001.dcm", path="(0018,0050) SliceThickness")
    assert (ct.values["Rows"].value, ct.values["Columns"].value) == (128, 128)
    assert ct.values["MatrixSize"].value == "128x128x1"
    assert ct.values["PixelSpacing"].provenance.path == "(0028,0030) PixelSpacing[0]"
    assert plain(ct)["Exposure"] == (170, "milliampere second")
    assert plain(ct)["ConvolutionKernel"] == ("STANDARD", None)


def test_ct_to_profile_values(tmp_path: Path) -> None:
    copy("CT_small.dcm", tmp_path / "CT_small.dcm")
    [ct], _ = harvest_files(tmp_path)
    got = to_profile_values(ct, load_profile("preclinical-imaging"))
    assert {k: v.value for k, v in got.items()} == {
        "device_name": "RHAPSODE", "brand": "GE MEDICAL SYSTEMS", "contrast_agent": "ISOVUE300/100",
        "slice_thickness": 5.0, "pixel_spacing": 0.661468, "matrix_size": "128x128x1", "software_version": "05",
        "kvp": 120.0, "tube_current": 170, "exposure": 170, "exposure_time": 1601,
        "reconstruction_kernel": "STANDARD", "filter_type": "LARGE BOWTIE FIL", "reconstruction_diameter": 338.6716,
    }  # fmt: skip
    assert got["kvp"].provenance == Provenance(file="CT_small.dcm", path="(0018,0060) KVP")


@pytest.mark.parametrize(
    "variant", ["MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm"]
)
def test_mr_small_variants(tmp_path: Path, variant: str) -> None:
    copy(variant, tmp_path / variant)
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    values = plain(mr)
    expected = {
        "Modality": ("MR", None), "Manufacturer": ("TOSHIBA_MEC", None), "ManufacturerModelName": ("MRT50H1", None),
        "Rows": (64, None), "Columns": (64, None), "PixelSpacing": (0.3125, "millimetre"),
        "SliceThickness": (0.8, "millimetre"), "RepetitionTime": (4000.0, "millisecond"),
        "EchoTime": (240.0, "millisecond"), "FlipAngle": (90.0, "degree"), "ScanningSequence": ("SE", None),
        "MRAcquisitionType": ("3D", None), "MatrixSize": ("64x64x1", None),
    }  # fmt: skip
    assert {k: values[k] for k in expected} == expected
    assert mr.values["EchoTime"].provenance == Provenance(file=variant, path="(0018,0081) EchoTime")


def test_mr_variants_harvest_the_same(tmp_path: Path) -> None:
    seen = []
    for variant in ("MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm"):
        folder = tmp_path / variant
        copy(variant, folder / "x.dcm")
        [mr], _ = harvest_files(folder)
        seen.append(plain(mr))
    assert all(s == seen[0] for s in seen)


def test_mr_to_profile_values_mri_fields_only(tmp_path: Path) -> None:
    copy("MR_small.dcm", tmp_path / "mr.dcm")
    [mr], _ = harvest_files(tmp_path)
    got = to_profile_values(mr, load_profile("preclinical-imaging"))
    assert "kvp" not in got
    assert (got["echo_time"].value, got["echo_time"].unit) == (240.0, MS)
    assert got["scanning_sequence"].value == "SE"
    assert "body_weight" not in got  # a sample field, not a scan field
    sample = to_profile_values(mr, load_profile("preclinical-imaging"), entity="sample")
    assert (sample["body_weight"].value, sample["body_weight"].unit.label) == (80000.0, "gram")


def test_truncated_pixel_data(tmp_path: Path) -> None:
    copy("MR_truncated.dcm", tmp_path / "MR_truncated.dcm")
    items, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        ("pixel-data-truncated", "MR_truncated.dcm", "(7FE0,0010) PixelData")
    ]
    assert report.issues[0].message == (
        "MR_truncated.dcm: the pixel data holds 8130 bytes, the header promises 8192 bytes"
    )
    assert not report.valid
    assert [i.values["EchoTime"].value for i in items] == [240.0]  # the header is still harvested


def test_truncated_encapsulated_pixel_data(tmp_path: Path) -> None:
    data = Path(get_testdata_file("MR_small_RLE.dcm")).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:-1000])
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [("pixel-data-truncated", "cut.dcm", "(7FE0,0010) PixelData")]


def test_missing_pixel_data(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "nopix.dcm")
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file")) == [("pixel-data-missing", "nopix.dcm")]
    assert report.issues[0].message == "nopix.dcm describes an image (128 x 128) but has no pixel data"


def test_no_meta_and_not_dicom(tmp_path: Path) -> None:
    copy("no_meta.dcm", tmp_path / "no_meta.dcm")
    copy("CT_small.dcm", tmp_path / "ok.dcm")
    (tmp_path / "notes.txt").write_text("scanned on Monday\n")
    items, report = harvest_files(tmp_path)
    assert [i.path for i in items] == ["ok.dcm"]
    # pydicom's no_meta.dcm starts one byte into CT_small's dataset: nothing usable can be read from it
    assert report.flatten(("code", "severity", "file")) == [
        ("dicom-no-meta", "warning", "no_meta.dcm"),
        ("dicom-unreadable", "error", "no_meta.dcm"),
        ("not-dicom", "warning", "notes.txt"),
    ]


def test_valid_dataset_without_meta_is_read_with_a_warning(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    with open(tmp_path / "bare.dcm", "wb") as fh:  # implicit VR little endian, no preamble, no meta
        out = DicomFileLike(fh)
        out.is_little_endian, out.is_implicit_VR = True, True
        write_dataset(out, ds)
    [ct], report = harvest_files(tmp_path)
    assert report.flatten(("code", "severity", "file")) == [("dicom-no-meta", "warning", "bare.dcm")]
    assert (ct.values["KVP"].value, ct.values["SliceThickness"].value) == (120.0, 5.0)


def _slices(folder: Path, n: int) -> list[Path]:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    out = []
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-158.1, -179.0, -75.7 - 5 * i]  # one slice position per file, 5 mm apart
        path = folder / f"1-{i + 1:03d}.dcm"
        folder.mkdir(parents=True, exist_ok=True)
        ds.save_as(path)
        out.append(path)
    return out


def test_instances_grouped_into_one_series(tmp_path: Path) -> None:
    _slices(tmp_path / "series", 3)
    [ct], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert ct.paths == ["series/1-001.dcm", "series/1-002.dcm", "series/1-003.dcm"]
    assert (ct.values["NumberOfSlices"].value, ct.values["MatrixSize"].value) == (3, "128x128x3")
    assert ct.values["NumberOfSlices"].provenance == Provenance(
        file="series", path="distinct (0020,0032) ImagePositionPatient"
    )
    assert (ct.values["NumberOfInstances"].value, ct.values["NumberOfVolumes"].value) == (3, 1)


def test_series_inconsistent(tmp_path: Path) -> None:
    paths = _slices(tmp_path / "s", 3)
    ds = pydicom.dcmread(paths[2])
    ds.SliceThickness = "2.5"
    ds.PatientID = "OTHER"
    ds.save_as(paths[2])
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        ("series-inconsistent", "s/1-003.dcm", "(0018,0050) SliceThickness"),
        ("series-inconsistent", "s/1-003.dcm", "(0010,0020) PatientID"),
    ]
    assert report.issues[0].message == (
        "instances of one series disagree on SliceThickness: 5.0 mm in s/1-001.dcm, 2.5 mm in s/1-003.dcm"
    )
    assert "OTHER" not in report.issues[1].message and "1CT1" not in report.issues[1].message


def test_series_uid_missing(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.SeriesInstanceUID
    ds.save_as(tmp_path / "x.dcm")
    [ct], report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [("dicom-tag-missing", "x.dcm", "(0020,000E) SeriesInstanceUID")]
    assert ct.uid is None and ct.values["KVP"].value == 120.0


def test_siemens_mr(tmp_path: Path) -> None:
    shutil.copy(NICOM / "0.dcm", tmp_path / "0.dcm")
    [mr], report = harvest_files(tmp_path)
    # nibabel ships 0.dcm cut down to 256x256 while its header still says 48 mosaic images (7 per side)
    assert report.flatten(("code", "file", "severity")) == [("dicom-mosaic-inconsistent", "0.dcm", "warning")]
    ds = pydicom.dcmread(NICOM / "0.dcm", stop_before_pixels=True)
    assert mr.values["MagneticFieldStrength"].value == float(ds.MagneticFieldStrength) == 3.0
    assert mr.values["RepetitionTime"].value == float(ds.RepetitionTime)
    assert mr.values["EchoTime"].value == float(ds.EchoTime)
    assert mr.values["SequenceName"].value == ds.SequenceName == "ep_b0"
    assert mr.values["SequenceVariant"].value == "SK\\SP"
    assert mr.values["TransmitCoilName"].value == ds.TransmitCoilName


def test_enhanced_mr_functional_groups(tmp_path: Path) -> None:
    with gzip.open(NICOM / "philips_mprage.dcm.gz") as src, open(tmp_path / "mprage.dcm", "wb") as dst:
        shutil.copyfileobj(src, dst)
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    ds = pydicom.dcmread(tmp_path / "mprage.dcm", stop_before_pixels=True)
    shared = ds.SharedFunctionalGroupsSequence[0]
    timing = shared.MRTimingAndRelatedParametersSequence[0]
    frame = ds.PerFrameFunctionalGroupsSequence[0]
    assert mr.values["RepetitionTime"].value == float(timing.RepetitionTime)
    assert mr.values["RepetitionTime"].unit == MS
    assert mr.values["RepetitionTime"].provenance.path == (
        "(5200,9229) SharedFunctionalGroupsSequence[0]>(0018,9112) MRTimingAndRelatedParametersSequence[0]>"
        "(0018,0080) RepetitionTime"
    )
    assert mr.values["FlipAngle"].value == float(timing.FlipAngle) == 7.0
    assert mr.values["EffectiveEchoTime"].value == frame.MREchoSequence[0].EffectiveEchoTime == 3.513
    assert mr.values["EffectiveEchoTime"].provenance.path.startswith("(5200,9230) PerFrameFunctionalGroupsSequence[0]>")
    assert mr.values["SliceThickness"].value == float(frame.PixelMeasuresSequence[0].SliceThickness)
    assert mr.values["ReceiveCoilName"].value == shared.MRReceiveCoilSequence[0].ReceiveCoilName
    assert (mr.values["NumberOfSlices"].value, mr.values["MagneticFieldStrength"].value) == (176, 3.0)
    got = to_profile_values(mr, load_profile("preclinical-imaging"))
    assert (got["echo_time"].value, got["repetition_time"].value) == (3.513, float(timing.RepetitionTime))
    assert got["sequence_name"].value == "T1TFE"


def _pet(path: Path) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID, ds.Manufacturer = "PT", "PET-0001", "SIEMENS"
    ds.Units, ds.DecayCorrection = "BQML", "START"
    ds.ReconstructionMethod, ds.AttenuationCorrectionMethod = "OSEM3D 4i21s", "CT-based"
    nuclide = Dataset()
    nuclide.CodeValue, nuclide.CodingSchemeDesignator, nuclide.CodeMeaning = "C-111A1", "SRT", "^18^Fluorine"
    info = Dataset()
    info.Radiopharmaceutical = "Fluorodeoxyglucose"
    info.RadionuclideTotalDose = "314000000"
    info.RadionuclideHalfLife = "6586.2"
    info.RadiopharmaceuticalStartTime = "101500.00"
    info.RadionuclideCodeSequence = Sequence([nuclide])
    ds.RadiopharmaceuticalInformationSequence = Sequence([info])
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
    ds.PixelRepresentation, ds.PhotometricInterpretation = 0, "MONOCHROME2"
    ds.PixelData = bytes(32)
    ds.save_as(path, enforce_file_format=True)


def test_pet_radiopharmaceutical(tmp_path: Path) -> None:
    _pet(tmp_path / "pet.dcm")
    [pt], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert pt.modality == "PT"
    dose = pt.values["RadionuclideTotalDose"]
    assert (dose.value, dose.unit) == (314000000.0, Term("becquerel", "UO", "UO:0000132"))
    assert dose.provenance == Provenance(
        file="pet.dcm", path="(0054,0016) RadiopharmaceuticalInformationSequence[0]>(0018,1074) RadionuclideTotalDose"
    )
    assert pt.values["RadionuclideCodeSequence"].value == Term(
        "^18^Fluorine", "SNOMED", "SNOMED:77004003"
    )  # SRT C-111A1 mapped to SCT
    assert plain(pt)["Radiopharmaceutical"] == ("Fluorodeoxyglucose", None)
    assert plain(pt)["RadiopharmaceuticalStartTime"] == ("101500.00", None)
    assert plain(pt)["RadionuclideHalfLife"] == (6586.2, "second")
    assert {k: plain(pt)[k][0] for k in ("Units", "DecayCorrection", "AttenuationCorrectionMethod")} == {
        "Units": "BQML", "DecayCorrection": "START", "AttenuationCorrectionMethod": "CT-based",
    }  # fmt: skip


def test_two_workers_give_the_same_result(tmp_path: Path) -> None:
    _slices(tmp_path / "a", 4)
    copy("MR_small.dcm", tmp_path / "b" / "mr.dcm")
    copy("MR_truncated.dcm", tmp_path / "c" / "t.dcm")
    (tmp_path / "c" / "readme.txt").write_text("x")
    serial = harvest_files(tmp_path)
    pooled = harvest_files(tmp_path, workers=2)
    assert serial[0] == pooled[0]
    assert serial[1].flatten() == pooled[1].flatten()
    assert serial[1].flatten(("code", "file")) == [
        ("not-dicom", "c/readme.txt"), ("pixel-data-truncated", "c/t.dcm"),
    ]  # fmt: skip


def test_relative_names_are_taken_as_they_are_and_kept(tmp_path: Path) -> None:
    _slices(tmp_path / "a", 3)
    copy("MR_small.dcm", tmp_path / "b" / "mr.dcm")
    names = ["b/mr.dcm", "a/1-003.dcm", "a/1-001.dcm", "a/1-002.dcm"]
    walked = harvest_files(tmp_path)
    for workers in (1, 2):
        items, report = harvest_files(names, root=str(tmp_path), relative=True, workers=workers)
        assert (items, report.flatten()) == (walked[0], walked[1].flatten())
        # the items name their files with the caller's strings, also when a worker read them (a copy each)
        assert all(any(p is n for n in names) for item in items for p in item.paths)


def test_explicit_file_list_and_progress(tmp_path: Path) -> None:
    a = copy("CT_small.dcm", tmp_path / "x" / "ct.dcm")
    b = copy("MR_small.dcm", tmp_path / "y" / "mr.dcm")
    seen = []

    def progress(results, total):
        seen.append(total)
        yield from results

    items, _ = harvest_files([a, b], progress=progress)
    assert [i.path for i in items] == ["x/ct.dcm", "y/mr.dcm"]
    assert seen == [2]
    with pytest.raises(FileNotFoundError):
        harvest_files(tmp_path / "nope")


def test_cli_harvest(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from isaprofile.cli.harvest import command

    copy("CT_small.dcm", tmp_path / "ct.dcm")
    copy("MR_truncated.dcm", tmp_path / "t" / "mr.dcm")
    runner = CliRunner()
    result = runner.invoke(command, [str(tmp_path), "--format", "json", "--quiet"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [i["files"] for i in doc["items"]] == [["ct.dcm"], ["t/mr.dcm"]]
    assert doc["items"][0]["values"]["KVP"] == {
        "value": 120.0, "unit": "kilovolt", "unit_accession": "UO:0000248", "file": "ct.dcm", "path": "(0018,0060) KVP",
    }  # fmt: skip
    assert [(i["code"], i["file"]) for i in doc["report"]["issues"]] == [("pixel-data-truncated", "t/mr.dcm")]
    assert "[pixel-data-truncated]" in result.stderr
    table = runner.invoke(command, [str(tmp_path / "ct.dcm")])
    assert table.exit_code == 0
    assert "KVP" in table.stdout and "ct.dcm ((0018,0060) KVP)" in table.stdout
    assert runner.invoke(command, [str(tmp_path / "missing")]).exit_code == 2


def test_series_groups_take_records_in_any_order(tmp_path: Path) -> None:
    """Workers hand records back in any order: the series, its first instance and its findings stay the same."""
    from isaprofile.harvest.dicom import read_dicom_file
    from isaprofile.harvest.series import SeriesGroups, group_series

    paths = _slices(tmp_path / "s", 4)
    ds = pydicom.dcmread(paths[0])
    ds.SliceThickness = "2.5"
    ds.save_as(paths[0])
    records = [read_dicom_file(str(p), f"s/{p.name}") for p in paths]
    in_order = group_series(records)
    groups = SeriesGroups()
    for rec in reversed(records):
        groups.add(rec)
    shuffled = groups.finish()
    assert shuffled == in_order
    [ct], found = shuffled
    assert ct.paths == [f"s/{p.name}" for p in paths]
    assert ct.values["SliceThickness"].value == 2.5  # the first file's, however late it came
    assert [(i.code, i.file) for i in found] == [("series-inconsistent", "s/1-002.dcm")]


def test_the_series_modules_tags_are_those_of_the_dicom_dictionary() -> None:
    """``harvest.series`` names tags without pydicom; its table must agree with pydicom's dictionary."""
    from isaprofile.harvest import dicom_attrs, series

    assert set(series.CONSISTENT) <= set(series.TAGS)
    for keyword in series.TAGS:
        assert series.tag_path(keyword) == dicom_attrs.tag_path(keyword), keyword
