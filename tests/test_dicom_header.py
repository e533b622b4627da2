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
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from isaprofile.harvest import dicom_header
from isaprofile.harvest.dicom import read_dicom_file
from isaprofile.harvest.dicom_header import read_header
from isaprofile.harvest.pixels import dicom_read_errors
from isaprofile.package.phi import PhiPolicy, inspect_header

ROOT = Path(__file__).resolve().parents[1]
DCMREAD_ERRORS = dicom_read_errors()  # what dcmread raises for a file it cannot read
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
# files pydicom ships that are read here (the plain case): explicit and implicit VR, big endian,
# encapsulated pixel data, undefined-length sequences (SEG, SR, RT), private sequences
FAST = {
    "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm",
    "liver_1frame.dcm", "reportsi.dcm", "rtplan.dcm", "nested_priv_SQ.dcm", "UN_sequence.dcm",
}  # fmt: skip


def _converted(ds: Dataset, tag: int) -> tuple:
    try:
        elem = ds[tag]
    except (ValueError, TypeError, KeyError, NotImplementedError, OverflowError) as exc:  # same both sides
        return ("error", type(exc).__name__)
    value = [_dataset(item) for item in elem.value] if isinstance(elem.value, Sequence) else elem.value
    return (int(elem.tag), elem.VR, value, elem.file_tell, elem.is_undefined_length)


def _dataset(ds: Dataset) -> tuple:
    """Every element: as raw elements when raw (the same tuple), else as pydicom converts it."""
    return (
        [(int(tag), ds.get_item(tag) if isinstance(ds.get_item(tag), RawDataElement) else None) for tag in ds._dict],
        ds.original_encoding, ds.original_character_set, ds.is_undefined_length_sequence_item,
    )  # fmt: skip


def _file(ds: Any, position: int) -> tuple:
    return (
        type(ds), _dataset(ds), _dataset(ds.file_meta), ds.preamble, ds.filename, ds.timestamp, ds.fileobj_type,
        ds.buffer, ds._character_set, position, _attributes(ds), _attributes(ds.file_meta),
    )  # fmt: skip


def _attributes(ds: Dataset) -> dict[str, Any]:
    """Every attribute of the dataset object but its elements, file meta and buffer (compared above), with its type."""
    return {k: (type(v), v) for k, v in vars(ds).items() if k not in ("_dict", "file_meta", "buffer")}


def _same(a: Any, b: Any, got: tuple, ref: tuple) -> None:
    """``got`` and ``ref`` (from :func:`_file`) agree; an element raw on one side only (pydicom converts a
    few of the meta group while reading) is compared as pydicom converts it, on both sides."""
    assert got[0] == ref[0] and got[3:] == ref[3:]
    for part, (mine, theirs) in (("dataset", (a, b)), ("meta", (a.file_meta, b.file_meta))):
        index = 1 if part == "dataset" else 2
        assert got[index][1:] == ref[index][1:], part
        assert [t for t, _ in got[index][0]] == [t for t, _ in ref[index][0]], part
        for (tag, raw_a), (_, raw_b) in zip(got[index][0], ref[index][0], strict=True):
            if raw_a is not None and raw_b is not None:
                assert raw_a == raw_b, (part, hex(tag))
            else:
                assert _converted(mine, tag) == _converted(theirs, tag), (part, hex(tag))


def both(path: Path | str) -> bool:
    """Whether the fast read took the file (asserting its dataset is dcmread's when it did); raises what
    dcmread raises for a file it cannot read."""
    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
        ref_file = _file(ref, fh.tell())
    with open(path, "rb") as fh:
        fast = read_header(fh, os.fstat(fh.fileno()).st_size)
        if fast is None:
            return False
        _same(fast, ref, _file(fast, fh.tell()), ref_file)
    return True


def _samples() -> list[str]:
    # the files installed with pydicom (get_testdata_files would also try to download the optional ones)
    files = [str(p) for p in (Path(pydicom.__file__).parent / "data").rglob("*") if p.is_file()]
    return sorted(files) + sorted(str(p) for p in (ROOT / "examples").rglob("*.dcm"))


@pytest.mark.parametrize("path", _samples(), ids=lambda p: Path(p).name)
def test_same_as_dcmread_or_declined(path: str) -> None:
    try:
        read = both(path)
    except DCMREAD_ERRORS:
        with open(path, "rb") as fh:  # not DICOM even for pydicom: never taken for DICOM here
            assert read_header(fh, os.fstat(fh.fileno()).st_size) is None
        return
    assert read or Path(path).name not in FAST


def test_examples_are_read_fast() -> None:
    paths = sorted((ROOT / "examples").rglob("*.dcm"))
    assert paths
    for path in paths:
        assert both(path), path


def test_an_in_memory_file_is_read_as_dcmread_reads_it() -> None:
    # not a file on disk (no name to stat): the dataset comes from pydicom's constructor, as dcmread's does
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    ref_buf, fast_buf = io.BytesIO(data), io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pydicom.dcmread(ref_buf, stop_before_pixels=True)
    fast = read_header(fast_buf, len(data))
    assert fast is not None
    got, want = _file(fast, fast_buf.tell()), _file(ref, ref_buf.tell())
    assert got[7] is fast_buf and want[7] is ref_buf  # the buffer each was read from
    _same(fast, ref, got[:7] + got[8:], want[:7] + want[8:])


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
    assert both(path)
    with open(path, "rb") as fh:
        fast = read_header(fh, os.path.getsize(path))
    assert fast is not None and fast.AnatomicRegionSequence[0].CodeMeaning == "Lebermetastase – ß"


def test_a_header_longer_than_the_first_read(tmp_path: Path) -> None:
    ds = _ct()
    ds.add_new(0x00091010, "LO", "isaprofile test")
    ds.add_new(0x00091011, "OB", bytes(range(256)) * (3 * dicom_header.BLOCK // 256))
    path = _write(ds, tmp_path, "long.dcm")
    assert both(path)


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
            taken = both(path)
        except DCMREAD_ERRORS:  # what dcmread raises for a cut file
            with open(path, "rb") as fh:
                assert read_header(fh, cut) is None
            continue
        read += taken
    assert read >= 1  # the cuts inside the pixel data element's header leave a complete header


def test_harvest_records_are_the_same_with_pydicom_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted((ROOT / "examples").rglob("*.dcm"))[:40] + [
        Path(get_testdata_file(name)) for name in sorted(FAST)
    ]  # fmt: skip
    gate = partial(inspect_header, policy=PhiPolicy(pseudonyms=frozenset({"CRLM-CT-1001"})))
    fast = [read_dicom_file(str(p), p.name, gate) for p in paths]
    assert any(r["inspected"] is not None and r["inspected"].issues for r in fast)  # the gate ran and found
    monkeypatch.setattr(dicom_header, "_read", lambda fh, size: None)
    assert fast == [read_dicom_file(str(p), p.name, gate) for p in paths]


def test_mutated_files_are_declined_or_read_as_dcmread_reads_them(tmp_path: Path) -> None:
    """Seeded mutations (byte flips, extreme lengths, cut and repeated runs) of files with and without
    undefined-length sequences: the fast read never raises, and whenever it takes a file, its dataset is
    dcmread's."""
    import random

    from test_fuzz import mutate

    seeds = [Path(get_testdata_file(n)).read_bytes() for n in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")]
    rng = random.Random("isaprofile-dicom-header")
    path = tmp_path / "m.dcm"
    taken = 0
    for _ in range(300):
        path.write_bytes(mutate(rng.choice(seeds), rng))
        try:
            taken += both(path)
        except DCMREAD_ERRORS:  # what dcmread raises for a malformed file
            with open(path, "rb") as fh:
                read_header(fh, os.path.getsize(path))  # must not raise either
    assert taken > 50  # most mutants keep a plain header: the comparison is not vacuous
