"""Harvested geometry on vendors' layouts: Siemens mosaic, GE/Philips multi-volume series, enhanced multi-frame.

Expected numbers are worked out from the headers of the files themselves (nibabel's and pydicom's test data).
"""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import nibabel
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from isaprofile.harvest.dicom_attrs import ATTRIBUTES, CODES_IN_RADIOPHARMACEUTICAL, RADIOPHARMACEUTICAL
from isaprofile.harvest.images import harvest_files
from isaprofile.harvest.seg import SEGMENT_ATTRIBUTES, SEGMENT_CODES
from isaprofile.profile.model import list_profiles, load_profile

NICOM = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"


def _gunzip(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(src) as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout)
    return dst


def test_siemens_mosaic_dwi(tmp_path: Path) -> None:
    for name in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        _gunzip(NICOM / name, tmp_path / "dwi" / name.removesuffix(".gz"))
    # from the headers: both files share one Series Instance UID; each is a 896x896 mosaic of
    # NumberOfImagesInMosaic = 48 tiles, ceil(sqrt(48)) = 7 per side, so 128x128 per slice; b = 0 and 1000
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((tmp_path / "dwi").iterdir())]
    assert len({h.SeriesInstanceUID for h in headers}) == 1
    n = int(headers[0].get_private_item(0x0019, 0x0A, "SIEMENS MR HEADER").value)
    side = math.ceil(math.sqrt(n))
    assert (n, headers[0].Rows // side, headers[0].Rows % side) == (48, 128, 0)
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    v = mr.values
    assert v["MatrixSize"].value == f"{headers[0].Rows // side}x{headers[0].Columns // side}x{n}" == "128x128x48"
    assert (v["NumberOfSlices"].value, v["NumberOfVolumes"].value) == (48, 2)
    assert v["DiffusionBValues"].value == "0\\1000"
    assert "NumberOfEchoes" not in v  # one echo


def test_enhanced_multiframe(tmp_path: Path) -> None:
    path = _gunzip(NICOM / "philips_mprage.dcm.gz", tmp_path / "mprage.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    frames = ds.PerFrameFunctionalGroupsSequence
    positions = {tuple(f.PlanePositionSequence[0].ImagePositionPatient) for f in frames}
    assert (ds.Rows, ds.Columns, int(ds.NumberOfFrames), len(positions)) == (256, 256, 176, 176)
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert mr.values["MatrixSize"].value == "256x256x176"
    assert (mr.values["NumberOfSlices"].value, mr.values["NumberOfVolumes"].value) == (176, 1)
    assert mr.values["MatrixSize"].provenance.file == "mprage.dcm"


def _series(folder: Path, slices: int, volumes: int, vendor: str, **per_volume) -> None:
    """A classic one-slice-per-file MR series built from pydicom's MR_small.dcm (64x64)."""
    base = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    base.Manufacturer = vendor
    base.SeriesInstanceUID = generate_uid(entropy_srcs=[str(folder)])
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for vol in range(volumes):
        for z in range(slices):
            n += 1
            ds = base.copy()
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
                entropy_srcs=[str(folder), str(n)]
            )
            ds.InstanceNumber = n
            ds.ImagePositionPatient = [-120.0, -120.0, -30.0 + 4.0 * z]
            for key, values in per_volume.items():
                if key == "philips_b":
                    block = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
                    block.add_new(0x03, "FL", values[vol])
                else:
                    setattr(ds, key, values[vol])
            ds.save_as(folder / f"IM{n:04d}.dcm")


def test_ge_fmri_volumes(tmp_path: Path) -> None:
    # 15 slices x 10 time points, as GE writes fMRI: one file per slice and time point
    _series(tmp_path / "fmri", 15, 10, "GE MEDICAL SYSTEMS", TemporalPositionIdentifier=list(range(1, 11)))
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    v = mr.values
    assert (v["MatrixSize"].value, v["NumberOfInstances"].value) == ("64x64x15", 150)
    assert (v["NumberOfSlices"].value, v["NumberOfVolumes"].value, v["NumberOfTemporalPositions"].value) == (15, 10, 10)


def test_philips_dwi_volumes(tmp_path: Path) -> None:
    # 6 slice positions x 4 volumes (b = 0 and three directions at b = 1000), b-value in Philips' private tag
    _series(tmp_path / "dwi", 6, 4, "Philips Medical Systems", philips_b=[0.0, 1000.0, 1000.0, 1000.0])
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    v = mr.values
    assert (v["MatrixSize"].value, v["NumberOfVolumes"].value, v["DiffusionBValues"].value) == ("64x64x6", 4, "0\\1000")


def test_multi_echo_volumes(tmp_path: Path) -> None:
    _series(tmp_path / "me", 4, 3, "SIEMENS", EchoNumbers=[1, 2, 3], EchoTime=[5.0, 10.0, 15.0])
    [mr], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert (mr.values["NumberOfVolumes"].value, mr.values["NumberOfEchoes"].value) == (3, 3)
    assert mr.values["MatrixSize"].value == "64x64x4"


def test_incomplete_volume(tmp_path: Path) -> None:
    _series(tmp_path / "s", 5, 2, "GE MEDICAL SYSTEMS")
    (tmp_path / "s" / "IM0010.dcm").unlink()
    [mr], report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        ("series-volumes-irregular", "s/IM0001.dcm", "distinct (0020,0032) ImagePositionPatient")
    ]
    assert "NumberOfVolumes" not in mr.values and mr.values["NumberOfSlices"].value == 5


def test_focal_spots_harvested(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.FocalSpots = [0.7, 1.2]
    ds.save_as(tmp_path / "ct.dcm")
    [ct], _report = harvest_files(tmp_path)
    assert ct.values["FocalSpots"].value == "0.7\\1.2"
    assert ct.values["FocalSpots"].provenance.path == "(0018,1190) FocalSpots"


HARVESTED_DICOM = {*ATTRIBUTES, *RADIOPHARMACEUTICAL, *CODES_IN_RADIOPHARMACEUTICAL, *SEGMENT_ATTRIBUTES,
                   *SEGMENT_CODES}  # fmt: skip


@pytest.mark.parametrize("name", [f"{n}@{v}" for n, v in list_profiles()])
def test_every_profile_dicom_harvest_key_is_read(name: str) -> None:
    """Every ``harvest: {dicom: ...}`` key of every built-in profile is an attribute the harvest reads."""
    profile = load_profile(name)
    keys = {(f.key, k) for f in profile.fields for kind, k in f.harvest if kind == "dicom"}
    assert keys
    assert sorted((fkey, k) for fkey, k in keys if k not in HARVESTED_DICOM) == []


@pytest.mark.parametrize("name", [f"{n}@{v}" for n, v in list_profiles()])
def test_every_profile_sidecar_and_nifti_harvest_key_is_read(name: str, tmp_path: Path) -> None:
    """Sidecar keys are among the keys the sidecar reader keeps; NIfTI keys appear on a real NIfTI file."""
    from isaprofile.harvest.sidecar import KEYS

    profile = load_profile(name)
    sidecar = {(f.key, k) for f in profile.fields for kind, k in f.harvest if kind == "sidecar"}
    assert sorted((fkey, k) for fkey, k in sidecar if k not in KEYS) == []
    nifti = {(f.key, k) for f in profile.fields for kind, k in f.harvest if kind == "nifti"}
    shutil.copy(Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz", tmp_path / "x.nii.gz")
    [item], _report = harvest_files(tmp_path)
    assert sorted((fkey, k) for fkey, k in nifti if k not in item.values) == []


def test_per_frame_values_known_absent_are_absent_from_every_frame(tmp_path: Path) -> None:
    """``dicom_flat.absent_from`` (which the frame walk uses to skip looking) names only values no frame holds,
    on a real enhanced MR object, checked against pydicom's own walk of every frame at every depth."""
    from isaprofile.harvest.dicom_flat import absent_from

    path = _gunzip(NICOM / "philips_mprage.dcm.gz", tmp_path / "mprage.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)

    def defined(items: object) -> None:  # written again with defined lengths, pydicom keeps it as raw bytes
        for item in items:  # type: ignore[attr-defined]
            item.is_undefined_length_sequence_item = False
            for elem in item:
                if elem.VR == "SQ":
                    elem.is_undefined_length = False
                    defined(elem.value)

    defined([ds])
    ds.save_as(tmp_path / "defined.dcm")
    ds = pydicom.dcmread(tmp_path / "defined.dcm", stop_before_pixels=True)
    assert ds.get_item(0x52009230).length != 0xFFFFFFFF
    asked = ("ImagePositionPatient", "EffectiveEchoTime", "TemporalPositionIndex", "DiffusionBValue",
             "RadionuclideTotalDose", "ReferencedSegmentNumber")  # fmt: skip
    absent = absent_from(ds, "PerFrameFunctionalGroupsSequence", asked)
    held: set[str] = set()

    def walk(items: object) -> None:
        for item in items:  # type: ignore[attr-defined]
            for elem in item:
                held.add(elem.keyword)
                if elem.VR == "SQ":
                    walk(elem.value)

    walk(ds.PerFrameFunctionalGroupsSequence)  # converts the sequence: absent_from now proves nothing
    assert "ImagePositionPatient" in held and "ImagePositionPatient" not in absent
    assert absent and not absent & held
    assert {"RadionuclideTotalDose", "ReferencedSegmentNumber"} <= absent
    assert absent_from(ds, "PerFrameFunctionalGroupsSequence", asked) == frozenset()
