"""isaprofile.harvest.dicom_header against ``pydicom.dcmread(fh, stop_before_pixels=True)`` as the oracle.

Either the fast read declines (None: the caller uses dcmread) or it gives the very dataset dcmread gives: the
same elements in the same order, each the same raw element (VR as written, length, value bytes, value offset,
encoding) or the same parsed sequence, the same file meta, preamble, encodings, file name and time stamp, and
the file left at the same position. Checked on every file pydicom ships, on the examples' DICOM files, on
variants (undefined-length sequences with a character set, a header past the first read, a command set,
deflate, no preamble, trailing bytes) and on every truncation of a small file.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from isaprofile.harvest import dicom_header
from isaprofile.harvest.dicom import read_dicom_file
from isaprofile.harvest.dicom_header import read_header

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
# files pydicom ships that are read here (the plain case): explicit and implicit VR, big endian,
# encapsulated pixel data, undefined-length sequences (SEG, SR, RT), private sequences
FAST = {
    "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm",
    "liver_1frame.dcm", "reportsi.dcm", "rtplan.dcm", "nested_priv_SQ.dcm", "UN_sequence.dcm",
}  # fmt: skip


def _element(elem: Any) -> tuple:
    if isinstance(elem, RawDataElement):
        return ("raw", *elem)
    assert isinstance(elem, DataElement)
    value = [_dataset(item) for item in elem.value] if isinstance(elem.value, Sequence) else elem.value
    return ("elem", int(elem.tag), elem.VR, value, elem.file_tell, elem.is_undefined_length)


def _dataset(ds: Dataset) -> tuple:
    return (
        [(int(tag), _element(ds.get_item(tag))) for tag in ds._dict],
        ds.original_encoding, ds.original_character_set, ds.is_undefined_length_sequence_item,
    )  # fmt: skip


def _file(ds: Any, position: int) -> tuple:
    return (
        type(ds), _dataset(ds), _dataset(ds.file_meta), ds.preamble, ds.filename, ds.timestamp,
        ds._character_set, position,
    )  # fmt: skip


def both(path: Path | str) -> tuple[tuple | None, tuple]:
    """(the fast read as compared, or None when it declines; dcmread's)."""
    with open(path, "rb") as fh:
        fast = read_header(fh, os.fstat(fh.fileno()).st_size)
        got = None if fast is None else _file(fast, fh.tell())
    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
        return got, _file(ref, fh.tell())


def _samples() -> list[str]:
    # the files installed with pydicom (get_testdata_files would also try to download the optional ones)
    files = [str(p) for p in (Path(pydicom.__file__).parent / "data").rglob("*") if p.is_file()]
    return sorted(files) + sorted(str(p) for p in (ROOT / "examples").rglob("*.dcm"))


@pytest.mark.parametrize("path", _samples(), ids=lambda p: Path(p).name)
def test_same_as_dcmread_or_declined(path: str) -> None:
    try:
        got, ref = both(path)
    except (pydicom.errors.InvalidDicomError, ValueError, OSError, EOFError):
        with open(path, "rb") as fh:  # not DICOM even for pydicom: never taken for DICOM here
            assert read_header(fh, os.fstat(fh.fileno()).st_size) is None
        return
    if Path(path).name in FAST:
        assert got is not None
    if got is not None:
        assert got == ref


def test_examples_are_read_fast() -> None:
    paths = sorted((ROOT / "examples").rglob("*.dcm"))
    assert paths
    for path in paths:
        got, ref = both(path)
        assert got == ref, path


def _write(ds: Dataset, tmp_path: Path, name: str, **kwargs: Any) -> Path:
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True, **kwargs)
    return path


def _ct(syntax: str = ExplicitVRLittleEndian) -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


def _header_end(data: bytes) -> tuple[Dataset, int]:
    """dcmread's header of ``data`` and where it stops (the pixel data element)."""
    buf = io.BytesIO(data)
    return pydicom.dcmread(buf, stop_before_pixels=True), buf.tell()


def test_undefined_length_sequences_with_a_character_set(tmp_path: Path) -> None:
    ds = _ct()
    ds.SpecificCharacterSet = "ISO_IR 192"
    item = Dataset()
    item.CodeMeaning = "Lebermetastase – ß"
    item.CodeValue = "94381002"
    ds.AnatomicRegionSequence = Sequence([item])
    ds["AnatomicRegionSequence"].is_undefined_length = True
    ds.AnatomicRegionSequence.is_undefined_length = True
    path = _write(ds, tmp_path, "utf8.dcm")
    got, ref = both(path)
    assert got is not None and got == ref
    with open(path, "rb") as fh:
        fast = read_header(fh, os.path.getsize(path))
    assert fast is not None and fast.AnatomicRegionSequence[0].CodeMeaning == "Lebermetastase – ß"


def test_a_header_longer_than_the_first_read(tmp_path: Path) -> None:
    ds = _ct()
    ds.add_new(0x00091010, "LO", "isaprofile test")
    ds.add_new(0x00091011, "OB", bytes(range(256)) * (3 * dicom_header.BLOCK // 256))
    path = _write(ds, tmp_path, "long.dcm")
    got, ref = both(path)
    assert got is not None and got == ref


@pytest.mark.parametrize("case", ["deflated", "no preamble", "command set", "trailing byte"])
def test_declined_cases_are_left_to_pydicom(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.dcm"
    if case == "deflated":
        ds = _ct(DeflatedExplicitVRLittleEndian)
        ds.save_as(path, enforce_file_format=True)
    else:
        data = Path(get_testdata_file("MR_small.dcm")).read_bytes()
        ref, start = _header_end(data)
        if case == "no preamble":
            data = data[128:]
        elif case == "command set":  # a group 0000 element where the dataset starts
            meta_end = 132 + 12 + ref.file_meta.FileMetaInformationGroupLength
            data = data[:meta_end] + b"\x00\x00\x00\x00UL\x04\x00\x04\x00\x00\x00" + data[meta_end:]
        else:  # a header without pixel data and a byte after its last element
            data = data[:start] + b"\x01"
        path.write_bytes(data)
    with open(path, "rb") as fh:
        assert read_header(fh, os.path.getsize(path)) is None


def test_every_truncation_is_declined_or_identical(tmp_path: Path) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    header_end = _header_end(data)[1]
    path = tmp_path / "cut.dcm"
    read = 0
    for cut in range(0, header_end + 16, 7):
        path.write_bytes(data[:cut])
        try:
            got, ref = both(path)
        except (
            pydicom.errors.InvalidDicomError,
            ValueError,
            OSError,
            EOFError,
            KeyError,
            TypeError,
            IndexError,
            struct.error,
        ):  # what dcmread raises for a cut file
            with open(path, "rb") as fh:
                assert read_header(fh, cut) is None
            continue
        if got is not None:
            read += 1
            assert got == ref, cut
    assert read >= 1  # the cuts inside the pixel data element's header leave a complete header


def test_harvest_records_are_the_same_with_pydicom_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted((ROOT / "examples").rglob("*.dcm"))[:40] + [
        Path(get_testdata_file(name)) for name in sorted(FAST)
    ]  # fmt: skip
    fast = [read_dicom_file(str(p), p.name) for p in paths]
    monkeypatch.setattr(dicom_header, "_read", lambda fh, size: None)
    assert fast == [read_dicom_file(str(p), p.name) for p in paths]
