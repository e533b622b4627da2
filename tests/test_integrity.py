"""Integrity of every image (issue 10 item 6): a DICOM image without Pixel Data, pixel data short by one
byte, a DICOM cut anywhere in its header, and NIfTI headers that contradict themselves are errors with
their codes and locations."""

from __future__ import annotations

import copy
import io
import struct
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from isaprofile.harvest.nifti import read_nifti_file
from isaprofile.harvest.pixels import check_image_integrity, is_image_sop_class

EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _bytes(ds: pydicom.Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def integrity(data: bytes):
    """What the harvest's read does: header with ``stop_before_pixels``, then the integrity check."""
    from pydicom.errors import BytesLengthException

    from isaprofile.harvest.dicom import READ_ERRORS

    fh = io.BytesIO(data)
    try:
        ds = pydicom.dcmread(fh, stop_before_pixels=True)
    except (*READ_ERRORS, BytesLengthException) as exc:  # the harvest's dicom-unreadable
        return "unreadable", {"path": "(0002,0000)", "reason": type(exc).__name__}
    syntax = ds.file_meta.get("TransferSyntaxUID")
    implicit = syntax == "1.2.840.10008.1.2"
    return check_image_integrity(fh, len(data), ds, implicit=implicit, little=syntax != "1.2.840.10008.1.2.2",
                                 syntax=str(syntax) if syntax else None)  # fmt: skip


@pytest.fixture(scope="module")
def mr() -> pydicom.Dataset:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del ds.DataSetTrailingPadding  # pixel data last, as in most files
    return ds


def test_complete_files_pass(mr) -> None:
    assert integrity(_bytes(mr)) is None
    assert integrity(Path(get_testdata_file("CT_small.dcm")).read_bytes()) is None  # trailing padding too


def test_an_image_without_pixel_data_is_an_error(mr) -> None:
    ds = copy.deepcopy(mr)
    del ds.PixelData
    assert integrity(_bytes(ds)) == ("pixel-data-missing", {"rows": 64, "columns": 64})
    del ds.Rows, ds.Columns  # an image SOP class needs pixel data even without Rows / Columns
    assert integrity(_bytes(ds)) == ("pixel-data-missing", {"rows": 0, "columns": 0})
    assert is_image_sop_class(ds.SOPClassUID) and not is_image_sop_class("1.2.840.10008.5.1.4.1.1.88.11")


def test_pixel_data_short_by_one_byte_is_an_error(mr) -> None:
    data = _bytes(mr)
    assert integrity(data[:-1]) == ("pixel-data-truncated", {"found": "8191 bytes", "expected": "8192 bytes"})


def test_a_cut_after_the_pixel_data_is_an_error() -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    code, params = integrity(data[:-1])
    assert code == "dicom-header-truncated" and params["path"] == "(FFFC,FFFC)"


def _element_offsets(data: bytes) -> list[tuple[int, int, int]]:
    """``(tag, start, end)`` of every top-level element before the pixel data (explicit VR LE)."""
    out, pos = [], 132
    long_vrs = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"}
    while pos < len(data):
        group, elem = struct.unpack("<HH", data[pos : pos + 4])
        vr = data[pos + 4 : pos + 6]
        if vr in long_vrs:
            (length,) = struct.unpack("<L", data[pos + 8 : pos + 12])
            head = 12
        else:
            (length,) = struct.unpack("<H", data[pos + 6 : pos + 8])
            head = 8
        tag = group << 16 | elem
        if tag == 0x7FE00010:
            break
        out.append((tag, pos, pos + head + length))
        pos += head + length
    return out


def test_a_cut_anywhere_in_the_header_is_an_error(mr) -> None:
    data = _bytes(mr)
    offsets = _element_offsets(data)
    assert len(offsets) > 40
    sop_end = next(end for tag, _, end in offsets if tag == 0x00080016)
    for tag, start, end in offsets:
        for cut in sorted({start, start + 4, end - 1}):
            if cut <= 132:
                continue
            found = integrity(data[:cut])
            assert found is not None, f"cut at {cut} inside ({tag >> 16:04X},{tag & 0xFFFF:04X})"
            code, params = found
            if tag >> 16 == 0x0002:
                named = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
                assert code in ("dicom-header-truncated", "unreadable") and params["path"] in ("(0002,0000)", named)
            elif cut == end - 1 and end - start > 9:  # inside the value: that element is named
                assert (code, params["path"]) == ("dicom-header-truncated", f"({tag >> 16:04X},{tag & 0xFFFF:04X})")
            elif cut >= sop_end:
                assert code in ("pixel-data-missing", "dicom-header-truncated")
            else:
                assert code in ("pixel-data-missing", "dicom-header-truncated")


def _nifti(tmp_path: Path, name: str = "x.nii", **header) -> Path:
    img = nibabel.Nifti1Image(np.zeros((4, 3, 2), np.int16), np.eye(4))
    path = tmp_path / name
    nibabel.save(img, path)
    return path


def _patch(path: Path, offset: int, fmt: str, value) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def _codes(path: Path):
    item, issues = read_nifti_file(str(path), path.name)
    return item, [(i.code, i.file, i.path) for i in issues], issues


def test_a_consistent_nifti_passes(tmp_path: Path) -> None:
    item, found, _ = _codes(_nifti(tmp_path))
    assert item is not None and found == []


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "where", "shown"),
    [
        (0, "<i", 349, "sizeof_hdr", "349"),
        (0, "<i", 0, "sizeof_hdr", "0"),
        (40, "<h", 0, "dim[0]", "0"),
        (40, "<h", 9, "dim[0]", "9"),
        (44, "<h", -3, "dim[2]", "-3"),
        (42, "<h", 0, "dim[1]", "0"),
        (108, "<f", 1e9, "vox_offset", "1000000000"),
        (108, "<f", -8.0, "vox_offset", "-8"),
    ],
)
def test_an_inconsistent_nifti_header_is_an_error(tmp_path: Path, offset, fmt, value, where, shown) -> None:
    path = _nifti(tmp_path)
    _patch(path, offset, fmt, value)
    item, found, issues = _codes(path)
    assert item is None and found == [("nifti-header-invalid", "x.nii", where)]
    assert f"is {shown};" in issues[0].message and issues[0].severity == "error"


def test_absurd_dimensions_are_an_error(tmp_path: Path) -> None:
    path = _nifti(tmp_path)
    for i, d in enumerate((4, 30000, 30000, 30000, 30000)):
        _patch(path, 40 + 2 * i, "<h", d)
    item, found, issues = _codes(path)
    assert found == [("nifti-header-invalid", "x.nii", "dim")]
    assert "30000x30000x30000x30000" in issues[0].message


def test_a_compressed_nifti_with_vox_offset_beyond_its_content_is_an_error(tmp_path: Path) -> None:
    import gzip

    path = _nifti(tmp_path)
    _patch(path, 108, "<f", 4096.0)
    gz = tmp_path / "y.nii.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    item, found, issues = _codes(gz)
    assert found == [("nifti-header-invalid", "y.nii.gz", "vox_offset")]
    assert "holds only 400 bytes" in issues[0].message


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about every damaged byte it reads
def test_mutated_files_give_findings_never_exceptions(tmp_path: Path) -> None:
    """A bounded mutation loop (fixed seed): the PHI gate, the payload sniffers, the DICOM integrity check
    and the NIfTI harvest turn every damaged file into a finding or a pass."""
    import random

    from isaprofile.package.payload import sniff_dicom, sniff_nifti
    from isaprofile.package.phi import PhiPolicy, check_file

    rng = random.Random(20261201)
    sources = [Path(get_testdata_file(n)).read_bytes() for n in ("CT_small.dcm", "liver_1frame.dcm", "rtplan.dcm")]
    nii = _nifti(tmp_path, "base.nii").read_bytes()
    target = tmp_path / "m.dcm"
    for _ in range(300):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(0, min(len(data), 2500))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(0, len(data))]
        target.write_bytes(bytes(data))
        check_file("m.dcm", target, PhiPolicy())
        sniff_dicom(target)
        integrity(bytes(data)) if len(data) > 132 else None
        raw = bytearray(nii)
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(0, 352)] = rng.randrange(256)
        (tmp_path / "m.nii").write_bytes(bytes(raw))
        sniff_nifti(tmp_path / "m.nii")
        read_nifti_file(str(tmp_path / "m.nii"), "m.nii")
        check_file("m.nii", tmp_path / "m.nii", PhiPolicy())
