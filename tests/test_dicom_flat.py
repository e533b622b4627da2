"""isaprofile.harvest.dicom_flat against pydicom as the oracle.

The flat read of a raw sequence must give exactly what pydicom gives when it converts the same bytes (tags in
file order, VRs, values, item counts, at every depth) or decline (FlatError, and pydicom reads it): on every
DICOM file pydicom ships, on the examples' files, on variants written in every encoding (implicit / explicit VR,
little / big endian, defined / undefined lengths, UN of undefined length, items in implicit VR inside explicit
data, private elements and private sequences in per-frame items, a character set inside an item), and on
hostile bytes (truncations, lengths past the end, deep nesting, seeded mutations). The harvest and the PHI
gate give the same results with the flat read as with pydicom alone.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import random
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import BytesLengthException
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from isaprofile.harvest import dicom_flat
from isaprofile.harvest.dicom_flat import FlatError, parse_sequence, sequence
from isaprofile.harvest.images import harvest_files
from isaprofile.package.phi import PhiPolicy, check_phi, dicom_phi_findings

ROOT = Path(__file__).resolve().parents[1]
PER_FRAME = 0x52009230
POLICY = PhiPolicy(pseudonyms=frozenset({"sub-01"}))
# pydicom's test files whose sequences are malformed on purpose (pydicom reads what it can; the flat read
# declines, so pydicom's reading is used)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the odd values made here
MALFORMED = {"rtplan_truncated.dcm", "DICOMDIR-nooffset"}


@pytest.fixture
def pydicom_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every sequence read by pydicom alone (the flat read declines everything)."""
    monkeypatch.setattr(dicom_flat, "_reading_is_default", lambda: False)
    dicom_flat._RECENT.clear()
    yield
    dicom_flat._RECENT.clear()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return type(a) is type(b)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return type(a) is type(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _value_or_error(get: Any) -> Any:
    try:
        return get()
    except (
        ValueError,
        TypeError,
        KeyError,
        NotImplementedError,
        OSError,
        BytesLengthException,
    ) as exc:  # same both sides
        return ("error", type(exc).__name__)


def reference(seq: Any, tag: int, path: tuple[tuple[int, int], ...] = ()) -> Iterator[tuple]:
    """The records of :func:`flat_records`, built from pydicom's own Datasets (a value pydicom cannot
    convert is recorded as its error)."""
    for index, item in enumerate(seq):
        where = (*path, (tag, index))
        for elem_tag in list(item.keys()):
            elem = _value_or_error(lambda item=item, elem_tag=elem_tag: item[elem_tag])
            if isinstance(elem, tuple):
                yield where, int(elem_tag), "?", elem
            elif elem.VR == "SQ":
                yield where, int(elem_tag), "SQ", len(elem.value)
                yield from reference(elem.value, int(elem_tag), where)
            else:
                yield where, int(elem_tag), str(elem.VR), elem.value


def flat_records(items: list[Any], tag: int, path: tuple[tuple[int, int], ...] = ()) -> Iterator[tuple]:
    """Every element under the flat read's items as ``(path, tag, VR, value)``, in file order (``path``: the
    (sequence tag, item index) pairs down to its item; a sequence's value its number of items; an element of
    ambiguous VR keeps its bytes; a value that cannot be converted is recorded as its error)."""
    for index, item in enumerate(items):
        where = (*path, (tag, index))
        for elem_tag, (vr, value, _) in list(item.elements.items()):
            if vr == "SQ":
                inner = item.value(elem_tag)
                yield where, elem_tag, vr, len(inner)
                yield from flat_records(inner, elem_tag, where)
            elif " or " in vr:
                yield where, elem_tag, vr, value
            else:
                got = _value_or_error(lambda item=item, elem_tag=elem_tag: item.value(elem_tag))
                yield where, elem_tag, "?" if isinstance(got, tuple) and got[:1] == ("error",) else vr, got


def flat_read(items: list[Any], tag: int) -> list[tuple] | None:
    """Every record of the flat read, or None when it declines a nested sequence once that is looked at
    (nested sequences of defined length are read when first looked at, as pydicom converts them)."""
    try:
        return list(flat_records(items, tag))
    except FlatError:
        return None


def assert_matches_pydicom(flat: list[tuple], converted: Any, tag: int) -> int:
    ref = list(reference(converted, tag))
    assert [(p, t) for p, t, _, _ in flat] == [(p, t) for p, t, _, _ in ref]
    for (path, elem_tag, vr, value), (_, _, ref_vr, ref_value) in zip(flat, ref, strict=True):
        if " or " in vr:  # pydicom settles an ambiguous VR from the dataset; the flat read keeps the bytes
            assert ref_vr in vr.split(" or "), (path, hex(elem_tag))
            continue
        assert (vr, path) == (ref_vr, path), hex(elem_tag)
        assert _same(value, ref_value), (path, hex(elem_tag), vr)
    return len(flat)


def raw_sequences(ds: Dataset) -> Iterator[tuple[Dataset, int]]:
    """(dataset, tag) of every element still raw in ``ds`` or in items pydicom already parsed."""
    for tag in list(ds.keys()):
        elem = ds.get_item(tag)
        if isinstance(elem, RawDataElement):
            if isinstance(elem.value, bytes):
                yield ds, int(tag)
        elif elem.VR == "SQ":
            for item in elem.value:
                yield from raw_sequences(item)


def compare_file(ds: Dataset) -> tuple[int, int]:
    """(sequences read flat and equal to pydicom, sequences left to pydicom) over every raw element."""
    same = declined = 0
    for parent, tag in list(raw_sequences(ds)):
        items = sequence(parent, tag)
        try:
            converted = parent[tag]
        except (ValueError, KeyError, TypeError, OSError, NotImplementedError, struct.error, BytesLengthException):
            assert items is None  # pydicom cannot convert it: the flat read must not have taken it either
            continue
        records = flat_read(items, tag) if items is not None else None
        if records is None:
            declined += converted.VR == "SQ"
            continue
        assert converted.VR == "SQ"
        assert_matches_pydicom(records, converted.value, tag)
        same += 1
    return same, declined


def _read(data: bytes | Path, **kwargs: Any) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data) if isinstance(data, bytes) else data, force=True, **kwargs)


def test_every_pydicom_test_file_reads_as_pydicom_reads_it() -> None:
    same = 0
    declined_in: set[str] = set()
    # the files installed with pydicom (get_testdata_files would also try to download the optional ones)
    for name in sorted(p for p in (Path(pydicom.__file__).parent / "data").rglob("*") if p.is_file()):
        try:
            ds = _read(Path(name))
        except Exception:  # noqa: BLE001 - a file pydicom itself cannot read is no oracle
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n, declined = compare_file(ds)
        same += n
        if declined:
            declined_in.add(Path(name).name)
    assert same >= 50  # the test files hold many sequences (RT plans, SEG, enhanced MR, SR ...)
    assert declined_in <= MALFORMED


def _example_dicoms() -> list[Path]:
    found = []
    for example in ("crlm-ct", "enhance-petct", "preclinical-liver"):
        found += sorted(p for p in (ROOT / "examples" / example).rglob("*.dcm"))
    return found


def test_the_examples_read_as_pydicom_reads_them() -> None:
    files = _example_dicoms()
    assert files
    same = 0
    for path in files:
        n, declined = compare_file(_read(path, stop_before_pixels=True))
        assert declined == 0, path
        same += n
    assert same > 0


# --- variants written in every encoding -------------------------------------------------------------------


def _frames_seg() -> Dataset:
    """liver_1frame.dcm with three frames, private elements and a private sequence in every frame, a
    patient name hidden in one frame and a character set of its own in another."""
    ds = _read(Path(get_testdata_file("liver_1frame.dcm")))
    frame = ds.PerFrameFunctionalGroupsSequence[0]
    frames = []
    for i in range(3):
        item = copy.deepcopy(frame)
        item.PlanePositionSequence[0].ImagePositionPatient = [0.5, -1.25, float(i)]
        block = item.private_block(0x0009, "ACME 1.0", create=True)
        block.add_new(0x01, "LO", f"vendor note {i}")
        inner = Dataset()
        inner.CodeValue = "x"
        block.add_new(0x02, "SQ", Sequence([inner]))
        agfa = item.private_block(0x0071, "AGFA-AG_HPState", create=True)
        agfa.add_new(0x18, "SQ", Sequence([copy.deepcopy(inner)]))
        frames.append(item)
    frames[1].PatientName = "Doe^Jane"
    frames[2].SpecificCharacterSet = "ISO_IR 192"
    frames[2].InstitutionName = "Zürich Universitätsspital"
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.NumberOfFrames = 3
    _undefined_below_top(ds, False)
    return ds


def _undefined_below_top(ds: Dataset, undefined: bool = True) -> None:
    """Nested sequences and their items of undefined length, or all of defined length (the top level keeps
    defined lengths, so each top-level sequence stays raw bytes when read back)."""

    def mark(seq: Sequence) -> None:
        for item in seq:
            item.is_undefined_length_sequence_item = undefined
            for elem in item:
                if elem.VR == "SQ":
                    elem.is_undefined_length = undefined
                    mark(elem.value)

    for elem in ds:
        if elem.VR == "SQ":
            elem.is_undefined_length = False
            mark(elem.value)


def _written(ds: Dataset, implicit: bool, little: bool) -> bytes:
    out = copy.deepcopy(ds)
    syntax = "1.2.840.10008.1.2" if implicit else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    out.file_meta = FileMetaDataset(out.file_meta) if hasattr(out, "file_meta") else FileMetaDataset()
    out.file_meta.TransferSyntaxUID = syntax
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.dcmwrite(buf, out, implicit_vr=implicit, little_endian=little,
                         force_encoding=True)  # fmt: skip
    return buf.getvalue()


ENCODINGS = [(True, True), (False, True), (False, False)]


@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined"])
@pytest.mark.parametrize(("implicit", "little"), ENCODINGS, ids=["implicit-le", "explicit-le", "explicit-be"])
def test_variants_read_as_pydicom_reads_them(implicit: bool, little: bool, undefined: bool) -> None:
    ds = _frames_seg()
    _undefined_below_top(ds, undefined)
    read = _read(_written(ds, implicit, little), stop_before_pixels=True)
    items = sequence(read, PER_FRAME)
    assert items is not None and len(items) == 3
    assert items[1].get("PatientName") == "Doe^Jane"
    assert items[2].get("InstitutionName") == "Zürich Universitätsspital"
    # the private sequence is one by its VR, or in implicit VR by the private dictionary (AGFA-AG_HPState)
    assert items[0].elements[0x00711018][0] == "SQ"
    same, declined = compare_file(_read(_written(ds, implicit, little), stop_before_pixels=True))
    assert declined == 0 and same >= 4


def _variant_files(tmp_path: Path) -> list[Path]:
    out = []
    for implicit, little in ENCODINGS:
        for undefined in (False, True):
            ds = _frames_seg()
            _undefined_below_top(ds, undefined)
            path = tmp_path / f"seg-{int(implicit)}{int(little)}{int(undefined)}" / "1-1.dcm"
            path.parent.mkdir()
            path.write_bytes(_written(ds, implicit, little))
            out.append(path)
    return out


def _harvest(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items, report = harvest_files([str(path)], root=str(path.parent))
    return [dataclasses.asdict(i) for i in items], report.to_dict()


def _gate(path: Path) -> list[tuple]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    found = dicom_phi_findings(ds, path.name, POLICY)
    return [(i.code, i.path) for i in found.issues]


def _both(monkeypatch: pytest.MonkeyPatch, fn: Any, *args: Any) -> tuple[Any, Any]:
    dicom_flat._RECENT.clear()
    flat = fn(*args)
    with monkeypatch.context() as m:
        m.setattr(dicom_flat, "_reading_is_default", lambda: False)
        dicom_flat._RECENT.clear()
        plain = fn(*args)
    dicom_flat._RECENT.clear()
    return flat, plain


def test_harvest_and_gate_are_the_same_with_and_without_the_flat_read(tmp_path: Path, monkeypatch) -> None:
    files = _variant_files(tmp_path) + _example_dicoms()[:40]
    for path in files:
        flat, plain = _both(monkeypatch, _harvest, path)
        assert flat == plain, path
        flat, plain = _both(monkeypatch, _gate, path)
        assert flat == plain, path


def test_the_gate_finds_what_hides_in_per_frame_items(tmp_path: Path) -> None:
    for path in _variant_files(tmp_path):
        found = _gate(path)
        assert ("phi-attribute", "(5200,9230) PerFrameFunctionalGroupsSequence > (0010,0010) PatientName") in found
        assert ("phi-attribute", "(5200,9230) PerFrameFunctionalGroupsSequence > (0008,0080) InstitutionName") in found
        # each frame's private note and private sequences, by tag (private sequences are judged whole)
        private = [p for code, p in found if code == "phi-private-tag"]
        frame = "(5200,9230) PerFrameFunctionalGroupsSequence > "
        assert private == [f"{frame}(0009,1001)", f"{frame}(0009,1002)", f"{frame}(0071,1018)"] * 3


def test_harvest_reads_the_frames_of_every_variant(tmp_path: Path) -> None:
    for path in _variant_files(tmp_path):
        items, _ = harvest_files([str(path)], root=str(path.parent))
        [seg] = items
        assert seg.values["NumberOfSlices"].value == 3
        assert [s.label for s in seg.segments] == ["Liver"]


def test_the_gate_is_the_same_through_check_phi(tmp_path: Path, monkeypatch) -> None:
    files = {p.parent.name + "/1-1.dcm": p for p in _variant_files(tmp_path)}

    def run() -> list[tuple]:
        result = check_phi(files, POLICY, workers=1)
        return [(i.code, i.file, i.path) for i in result.report.issues]

    flat, plain = _both(monkeypatch, run)
    assert flat == plain and flat


# --- hand-made and hostile bytes ------------------------------------------------------------------------


def _el(tag: int, vr: str, value: bytes, *, explicit: bool = True, little: bool = True) -> bytes:
    e = "<" if little else ">"
    head = struct.pack(f"{e}HH", tag >> 16, tag & 0xFFFF)
    if not explicit:
        return head + struct.pack(f"{e}L", len(value)) + value
    if vr in ("SQ", "UN", "OB", "OW", "UT", "UC", "UR", "OD", "OF", "OL", "OV", "SV", "UV"):
        return head + vr.encode() + b"\0\0" + struct.pack(f"{e}L", len(value)) + value
    return head + vr.encode() + struct.pack(f"{e}H", len(value)) + value


def _item(content: bytes, undefined: bool = False) -> bytes:
    if undefined:
        return struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + content + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(content)) + content


def _dataset(tag: int, data: bytes, implicit: bool = False) -> Dataset:
    """A dataset holding ``data`` as the raw value of the sequence ``tag`` (as dcmread leaves it)."""
    ds = Dataset()
    ds.set_original_encoding(implicit, True, "iso8859")
    ds._dict[BaseTag(tag)] = RawDataElement(
        BaseTag(tag), None if implicit else "SQ", len(data), data, 0, implicit, True
    )
    ds.PatientIdentityRemoved = "YES"
    return ds


def _oracle(ds: Dataset, tag: int) -> None:
    """The flat read equals pydicom's, or it declined; pydicom's failure is never the flat read's success."""
    items = sequence(ds, tag)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = copy.deepcopy(ds)[tag]
    except Exception:  # noqa: BLE001 - whatever pydicom raises, the flat read must have declined
        assert items is None
        return
    records = flat_read(items, tag) if items is not None else None
    if records is not None:
        assert converted.VR == "SQ"
        assert_matches_pydicom(records, converted.value, tag)


NAME = _el(0x00100010, "PN", b"Doe^Jane")
UID = _el(0x00081155, "UI", b"1.2.3.4\0")


def test_un_of_undefined_length_holds_implicit_items() -> None:
    implicit_content = _el(0x00100010, "PN", b"Doe^Jane", explicit=False)
    un = struct.pack("<HH", 0x0008, 0x1140) + b"UN\0\0" + struct.pack("<L", 0xFFFFFFFF)
    un += _item(implicit_content, undefined=True) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    data = _item(un + _el(0x00200032, "DS", b"1\\2\\3 "))
    ds = _dataset(PER_FRAME, data)
    items = sequence(ds, PER_FRAME)
    assert items is not None
    [inner] = items[0].value(0x00081140)
    assert inner.implicit and inner.get("PatientName") == "Doe^Jane"
    _oracle(ds, PER_FRAME)
    found = dicom_phi_findings(ds, "x.dcm", POLICY).issues
    assert [(i.code, i.path) for i in found] == [
        (
            "phi-attribute",
            "(5200,9230) PerFrameFunctionalGroupsSequence > (0008,1140) ReferencedImageSequence > "
            "(0010,0010) PatientName",
        )
    ]


def test_an_item_in_implicit_vr_inside_explicit_data() -> None:
    data = _item(_el(0x00100010, "PN", b"Doe^Jane", explicit=False)) + _item(NAME)
    ds = _dataset(PER_FRAME, data)
    items = sequence(ds, PER_FRAME)
    assert items is not None and [i.implicit for i in items] == [True, False]
    _oracle(ds, PER_FRAME)


def _nested(depth: int) -> bytes:
    data = _item(NAME)
    for _ in range(depth - 1):
        data = _item(_el(0x00081140, "SQ", data))
    return data


@pytest.mark.parametrize("depth", [3, 64, 65, 79, 80, 81, 200])
def test_deep_nesting(depth: int, monkeypatch) -> None:
    _oracle(_dataset(PER_FRAME, _nested(depth)), PER_FRAME)
    items = sequence(_dataset(PER_FRAME, _nested(depth)), PER_FRAME)
    assert items is not None  # nested sequences are read when looked at: the depth shows there
    assert (flat_read(items, PER_FRAME) is not None) == (depth <= dicom_flat.MAX_DEPTH)

    def gate() -> list[tuple]:
        return [
            (i.code, i.path, i.message) for i in dicom_phi_findings(_dataset(PER_FRAME, _nested(depth)), "x").issues
        ]

    flat, plain = _both(monkeypatch, gate)
    assert flat == plain
    if depth > 64:
        assert [c for c, _, _ in flat] == ["phi-unreadable"] and "too deep" in flat[0][2]
    else:
        assert [c for c, _, _ in flat] == ["phi-attribute"]


def _liver_frames() -> bytes:
    ds = _read(_written(_frames_seg(), False, True), stop_before_pixels=True)
    raw = ds.get_item(PER_FRAME)
    assert isinstance(raw, RawDataElement)
    return bytes(raw.value)


def test_truncations_and_lengths_past_the_end(monkeypatch) -> None:
    data = _liver_frames()
    cases = [data[:n] for n in range(1, len(data), max(1, len(data) // 97))]
    # an item length past the end, an element length past its item, a huge length
    cases.append(struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFF0) + data[8:])
    cases.append(data[:8] + struct.pack("<HH", 0x0010, 0x0010) + b"PN" + struct.pack("<H", 0xFFFF) + data[16:])
    cases.append(struct.pack("<HHL", 0xFFFE, 0xE000, 0x7FFFFFFF) + data[8:])
    declined = 0
    for case in cases:
        try:
            parse_sequence(case, False, True)
        except FlatError:
            declined += 1
        _oracle(_dataset(PER_FRAME, case), PER_FRAME)

        def gate(case: bytes = case) -> list[tuple]:
            return [(i.code, i.path, i.message) for i in dicom_phi_findings(_dataset(PER_FRAME, case), "x").issues]

        flat, plain = _both(monkeypatch, gate)
        assert flat == plain
    assert declined >= len(cases) - 3  # a cut between two frames is a shorter, well-formed sequence


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(buf))
        op = rng.randrange(4)
        if op == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at : at + 4] = rng.choice((b"\xff\xff\xff\xff", b"\0\0\0\0", b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"))
        elif op == 2:
            del buf[at : at + rng.randint(1, 16)]
        else:
            buf[at:at] = buf[at : at + rng.randint(1, 16)]
    return bytes(buf)


def test_seeded_mutations_read_as_pydicom_reads_them_or_are_declined(monkeypatch) -> None:
    data = _liver_frames()
    rng = random.Random("dicom-flat-20261201")
    taken = 0
    for _ in range(300):
        mutant = _mutate(data, rng)
        try:
            parse_sequence(mutant, False, True)
            taken += 1
        except FlatError:
            pass
        _oracle(_dataset(PER_FRAME, mutant), PER_FRAME)

        def gate(mutant: bytes = mutant) -> list[tuple]:
            return [(i.code, i.path, i.message) for i in dicom_phi_findings(_dataset(PER_FRAME, mutant), "x").issues]

        flat, plain = _both(monkeypatch, gate)
        assert flat == plain
    assert taken > 0  # some mutants (a changed value byte) are still well-formed


def test_harvest_of_mutated_seg_files_is_the_same(tmp_path: Path, monkeypatch) -> None:
    data = _written(_frames_seg(), False, True)
    rng = random.Random("dicom-flat-files-20261201")
    start = data.index(struct.pack("<HH", 0x5200, 0x9230))
    for n in range(60):
        body = bytearray(data)
        at = rng.randrange(start, len(body))
        body[at : at + 4] = rng.choice((b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x01\x00\x00\x00")) if n % 2 else b"\x7f"
        path = tmp_path / f"m{n}" / "1-1.dcm"
        path.parent.mkdir()
        path.write_bytes(bytes(body))
        flat, plain = _both(monkeypatch, _harvest, path)
        assert flat == plain
        flat, plain = _both(monkeypatch, _gate, path)
        assert flat == plain


def test_declines_what_pydicom_reads_with_other_rules(pydicom_only) -> None:
    ds = _dataset(PER_FRAME, _item(NAME))
    assert sequence(ds, PER_FRAME) is None
    with pytest.raises(FlatError):
        parse_sequence(_item(NAME), False, True)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("replace_un_with_known_vr", False), ("assume_implicit_vr_switch", False), ("settings.infer_sq_for_un_vr", False),
     ("settings.reading_validation_mode", pydicom.config.RAISE)],
)  # fmt: skip
def test_other_pydicom_reading_options_leave_every_sequence_to_pydicom(monkeypatch, setting: str, value: Any) -> None:
    target = pydicom.config.settings if setting.startswith("settings.") else pydicom.config
    monkeypatch.setattr(target, setting.removeprefix("settings."), value)
    assert sequence(_dataset(PER_FRAME, _item(NAME)), PER_FRAME) is None


def test_out_of_order_repeated_and_unknown_vr_are_declined() -> None:
    for data in (
        _item(NAME + UID),  # (0010,0010) before (0008,1155)
        _item(NAME + NAME),
        _item(struct.pack("<HH", 0x0010, 0x0010) + b"ZZ" + struct.pack("<H", 1) + b"x"),
        _item(struct.pack("<HHL", 0xFFFE, 0xE000, 0)),
    ):
        with pytest.raises(FlatError):
            parse_sequence(data, False, True)
        _oracle(_dataset(PER_FRAME, data), PER_FRAME)


def test_values_are_pydicoms() -> None:
    data = _item(_el(0x00200032, "DS", b"1.5\\-2\\3e2 ") + _el(0x00280010, "US", struct.pack("<H", 512)))
    [item] = parse_sequence(data, False, True)
    ref = _dataset(PER_FRAME, data)[PER_FRAME].value[0]
    assert _same(item.get("ImagePositionPatient"), ref.ImagePositionPatient)
    assert item.get("Rows") == 512 and "Rows" in item and "Columns" not in item
    assert item["Rows"].value == 512 and [e.keyword for e in item] == ["ImagePositionPatient", "Rows"]


@pytest.mark.parametrize(
    "raw",
    [b"1.2.840.10008.1.2.1\x00", b"1.2.3 ", b"0", b"1.2.840.10008.5.1.4.1.1.66.4", b"1.02.3", b"01.2", b"1..2",
     b"1.2\\3.4", b" 1.2", b"1.2\n", b"1." + b"1" * 63, b"", b"\x00"],
)  # fmt: skip
def test_a_uid_is_what_pydicom_makes_of_it(raw: bytes) -> None:
    # valid UIDs are made without pydicom's converter; anything else is left to it: the same value either way
    from pydicom.values import convert_UI

    made = dicom_flat._uid(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = convert_UI(raw, True)
    if made is None:
        assert raw.rstrip(b"\x00 ") in (
            b"1.02.3",
            b"01.2",
            b"1..2",
            b"1.2\\3.4",
            b" 1.2",
            b"1.2\n",
            b"",
            b"1." + b"1" * 63,
        )
    else:
        assert (type(made), made) == (type(theirs), theirs)
