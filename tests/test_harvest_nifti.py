"""NIfTI header harvest on nibabel's bundled files, JSON sidecars, and truncated files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import nibabel
import pytest

from isaprofile.harvest.images import harvest_files, to_profile_values
from isaprofile.model import Provenance, Term, Value
from isaprofile.profile.model import load_profile

DATA = Path(os.path.dirname(nibabel.__file__)) / "tests" / "data"
MM = Term("millimetre", "UO", "UO:0000016")
SECOND = Term("second", "UO", "UO:0000010")


def _copy(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / name, dest)
    return dest


def plain(item) -> dict:
    return {k: (v.value, v.unit.label if v.unit else None) for k, v in item.values.items()}


def test_anatomical(tmp_path: Path) -> None:
    _copy("anatomical.nii", tmp_path / "anatomical.nii")
    [img], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert (img.kind, img.path, img.subject, img.sidecar) == ("nifti", "anatomical.nii", "anatomical", None)
    assert plain(img) == {
        "nifti_version": ("NIfTI-1", None), "dim": ("33x41x25", None),
        "dim[1]": (33, None), "dim[2]": (41, None), "dim[3]": (25, None),
        "pixdim[1]": (2.0, "millimetre"), "pixdim[2]": (2.0, "millimetre"), "pixdim[3]": (2.0, "millimetre"),
        "pixdim": (2.0, "millimetre"), "datatype": ("int16", None), "bitpix": (16, None),
        "qform_code": (2, None), "sform_code": (2, None),
    }  # fmt: skip
    assert img.values["pixdim[3]"].provenance == Provenance(file="anatomical.nii", path="pixdim[3]")


@pytest.mark.parametrize(
    ("name", "version", "dim"),
    [("example4d.nii.gz", "NIfTI-1", "128x96x24x2"), ("example_nifti2.nii.gz", "NIfTI-2", "32x20x12x2")],
)
def test_4d(tmp_path: Path, name: str, version: str, dim: str) -> None:
    _copy(name, tmp_path / name)
    [img], report = harvest_files(tmp_path)
    assert report.flatten() == []
    header = nibabel.load(DATA / name).header
    assert (img.values["nifti_version"].value, img.values["dim"].value) == (version, dim)
    # the header says seconds (xyzt_units) and stores 2000: the harvest reports what the header states
    assert header.get_xyzt_units() == ("mm", "sec")
    step = img.values["pixdim[4]"]
    assert (step.value, step.unit) == (float(header["pixdim"][4]), SECOND)
    assert step.provenance == Provenance(file=name, path="pixdim[4]")
    assert (img.values["pixdim[3]"].value, img.values["pixdim[3]"].unit) == (2.199999, MM)


def test_truncated_nii(tmp_path: Path) -> None:
    data = (DATA / "anatomical.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(data[:50000])
    [img], report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [("nifti-truncated", "cut.nii", "vox_offset + dim * bitpix")]
    assert report.issues[0].message == "cut.nii holds 50000 bytes, the header promises 68002"
    assert img.values["dim"].value == "33x41x25"  # the header is still harvested


def test_truncated_nii_gz(tmp_path: Path) -> None:
    raw = gzip.decompress((DATA / "example4d.nii.gz").read_bytes())
    (tmp_path / "short.nii.gz").write_bytes(gzip.compress(raw[:300000]))  # a complete stream, too short
    (tmp_path / "cut.nii.gz").write_bytes((DATA / "example4d.nii.gz").read_bytes()[:200000])  # a cut stream
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file")) == [("nifti-truncated", "cut.nii.gz"), ("nifti-truncated", "short.nii.gz")]
    assert report.issues[1].message == f"short.nii.gz holds 300000 bytes, the header promises {len(raw)}"


def test_unreadable_nifti(tmp_path: Path) -> None:
    (tmp_path / "junk.nii").write_bytes(b"not a nifti header")
    items, report = harvest_files(tmp_path)
    assert items == []
    assert report.flatten(("code", "file")) == [("nifti-unreadable", "junk.nii")]


def test_sidecar_merged(tmp_path: Path) -> None:
    _copy("example4d.nii.gz", tmp_path / "sub-01_bold.nii.gz")
    sidecar = {
        "MagneticFieldStrength": 3, "EchoTime": 0.03, "RepetitionTime": 2.0, "FlipAngle": 90,
        "Manufacturer": "Siemens", "ManufacturersModelName": "Prisma", "SliceThickness": 2.2,
        "InstitutionName": "Some Hospital", "AcquisitionDateTime": "2020-01-01T10:00:00",
    }  # fmt: skip
    (tmp_path / "sub-01_bold.json").write_text(json.dumps(sidecar))
    (tmp_path / "labels.json").write_text("{}")  # a JSON file that is not a sidecar: left alone
    [img], report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert img.sidecar == "sub-01_bold.json"
    assert img.values["EchoTime"].value == 0.03 and img.values["EchoTime"].unit == SECOND
    assert img.values["EchoTime"].provenance == Provenance(file="sub-01_bold.json", path="$.EchoTime")
    assert "InstitutionName" not in img.values and "AcquisitionDateTime" not in img.values
    got = to_profile_values(img, load_profile("preclinical-imaging"), modality="MRI")
    assert (got["echo_time"].value, got["echo_time"].unit.label) == (30.0, "millisecond")
    assert got["echo_time"].provenance == Provenance(file="sub-01_bold.json", path="$.EchoTime")
    assert (got["repetition_time"].value, got["field_strength"].value) == (2000.0, 3)
    assert (got["pixel_spacing"].value, got["pixel_spacing"].provenance.path) == (2.0, "pixdim[1]")
    assert (got["device_name"].value, got["brand"].value) == ("Prisma", "Siemens")
    assert got["matrix_size"].value == "128x96x24x2"


def test_pet_sidecar_units(tmp_path: Path) -> None:
    _copy("anatomical.nii", tmp_path / "0001.nii")
    (tmp_path / "0001.json").write_text(json.dumps({
        "Modality": "PT", "TracerName": "FDG", "InjectedRadioactivity": 314.2,
        "InjectedRadioactivityUnits": "MBq", "Units": "Bq/mL",
    }))  # fmt: skip
    [img], _ = harvest_files(tmp_path)
    assert img.modality == "PT"
    assert plain(img)["InjectedRadioactivity"] == (314.2, "megabecquerel")
    assert plain(img)["TracerName"] == ("FDG", None)


def test_unreadable_sidecar(tmp_path: Path) -> None:
    _copy("anatomical.nii", tmp_path / "a.nii")
    (tmp_path / "a.json").write_text("{not json")
    [img], report = harvest_files(tmp_path)
    assert report.flatten(("code", "file")) == [("sidecar-unreadable", "a.json")]
    assert img.values["dim"].value == "33x41x25"


def test_values_kept_compact_survive_a_pool_and_share_one_layout(tmp_path: Path) -> None:
    # the header pass's items come back from workers (and the cache) pickled: what arrives must be the same
    # values, and files of one shape share one layout instead of 13 Values with their own provenance each
    import pickle

    from isaprofile.harvest.types import HeaderValues

    for n in range(3):
        _copy("example4d.nii.gz", tmp_path / f"sub-0{n}.nii.gz")
    (tmp_path / "sub-00.json").write_text(json.dumps({"RepetitionTime": 2.0}))
    serial, _ = harvest_files(tmp_path, workers=1)
    pooled, _ = harvest_files(tmp_path, workers=2)
    assert [plain(i) for i in pooled] == [plain(i) for i in serial]
    assert all(isinstance(i.values, HeaderValues) for i in pooled)
    first, second, third = (pickle.loads(pickle.dumps(i)) for i in pooled)
    assert first.values == serial[0].values  # a Mapping equals the dict of Values it stands for
    assert second.values._layout is third.values._layout  # one copy of the shape, however many files
    assert first.values._layout is not second.values._layout  # the sidecar's keys make another
    assert first.values["RepetitionTime"].provenance == Provenance(file="sub-00.json", path="$.RepetitionTime")
    assert second.values["dim"].provenance == Provenance(file="sub-01.nii.gz", path="dim[1:5]")
    assert second.values["pixdim[1]"].unit == MM and len(second.values) == len(list(second.values))
    assert "RepetitionTime" in first.values and "RepetitionTime" not in second.values


def test_values_drop_what_no_value_can_be_and_a_later_file_wins() -> None:
    from isaprofile.harvest.types import HeaderValues

    values = HeaderValues(("a.nii", {"bad": (float("nan"), None, "pixdim[1]"), "text": ("ab\x00c", None, "descrip"),
                                     "ok": (1.5, "mm", "pixdim[2]")}),
                          ("a.json", {"ok": (2.5, "mm", "$.ok")}))  # fmt: skip
    assert list(values) == ["text", "ok"]
    assert values["text"].value == "abc"
    assert values["ok"] == Value(2.5, MM) and values["ok"].provenance == Provenance(file="a.json", path="$.ok")
    with pytest.raises(KeyError):
        values["bad"]
