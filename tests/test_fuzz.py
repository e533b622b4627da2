"""Finding or success, never an exception: a seeded mutation loop over real files of each input kind.

Each target starts from real files (pydicom's and nibabel's test data, a sidecar, an xlsx and an ISA-Tab
that isaprofile writes), mutates them (byte flips, special bytes, truncation, duplicated or deleted runs;
inside the zip parts for xlsx and inside the gzip stream for .nii.gz) and hands each mutant to the
reader the pipeline uses. A reader may return findings or values; the only exception allowed is the one
a reader documents as its way of reporting a finding (``SheetError``, which the sheet layer turns into
``sheet-unreadable``). The seed is fixed, so a failure names the iteration that reproduces it.

The number of mutants per target is fixed (about 30 s in all on one core); ``ISAPROFILE_FUZZ_SCALE``
multiplies it for a longer run.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from isaprofile.harvest.images import harvest_files
from isaprofile.harvest.sheets import SheetError, read_table
from isaprofile.harvest.sidecar import read_sidecar
from isaprofile.isatab.write import write_isatab
from isaprofile.model import Investigation, Sample, Scan, Study, Subject, Value
from isaprofile.pipeline import check

SEED = 20261201
SCALE = float(os.environ.get("ISAPROFILE_FUZZ_SCALE", "1"))


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        op = rng.randrange(6)
        at = rng.randrange(len(buf))
        if op == 0:  # flip bits
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:  # a special byte
            buf[at] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x20, 0x0A, 0x22, 0x5C, 0x09))
        elif op == 2:  # truncate
            del buf[at:]
        elif op == 3:  # duplicate a run
            n = rng.randint(1, 64)
            buf[at:at] = buf[at : at + n]
        elif op == 4:  # delete a run
            del buf[at : at + rng.randint(1, 64)]
        else:  # a 32-bit little-endian extreme (lengths, dims, offsets)
            buf[at : at + 4] = rng.choice((b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff\xff\xff\x7f", b"\0\0\0\0"))
    return bytes(buf)


def _run(name: str, seeds: list[bytes], n: int, attempt: Callable[[bytes], object]) -> None:
    rng = random.Random(f"{SEED}-{name}")
    failures: list[str] = []
    for i in range(int(n * SCALE)):
        data = mutate(rng.choice(seeds), rng)
        try:
            attempt(data)
        except Exception as exc:  # noqa: BLE001 - the point of the test: any escape is a failure, reported
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(f"{name} #{i}: {type(exc).__name__}: {str(exc)[:120]} at {where.filename}:{where.lineno}")
    assert failures == [], "\n".join(failures[:10]) + f"\n({len(failures)} in all)"


def _harvest(tmp: Path, name: str) -> Callable[[bytes], object]:
    def attempt(data: bytes) -> object:
        path = tmp / name
        path.write_bytes(data)
        return harvest_files([str(path)], root=str(tmp))

    return attempt


def test_fuzz_dicom(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    seeds = [Path(get_testdata_file(n)).read_bytes() for n in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")]
    seeds.append(Path(get_testdata_file("JPEG2000.dcm")).read_bytes()[:20000] + b"")  # encapsulated, cut
    _run("dicom", seeds, 800, _harvest(tmp_path, "x.dcm"))


def _nibabel_data(name: str) -> bytes:
    import nibabel

    return (Path(nibabel.__file__).parent / "tests" / "data" / name).read_bytes()


def test_fuzz_nifti(tmp_path: Path) -> None:
    plain = [_nibabel_data("anatomical.nii")[:200_000], _nibabel_data("functional.nii")[:200_000]]
    _run("nifti", plain, 500, _harvest(tmp_path, "x.nii"))
    inner = [gzip.decompress(_nibabel_data(n))[:100_000] for n in ("example4d.nii.gz", "example_nifti2.nii.gz")]
    attempt = _harvest(tmp_path, "x.nii.gz")
    _run("nifti-gz", inner, 300, lambda data: attempt(gzip.compress(data, 1)))
    _run("nifti-gz-stream", [_nibabel_data("example4d.nii.gz")[:50_000]], 100, attempt)


SIDECAR = b"""{
  "Modality": "MR", "MagneticFieldStrength": 3, "Manufacturer": "Siemens", "EchoTime": 0.03,
  "RepetitionTime": 2.0, "FlipAngle": 90, "SliceTiming": [0, 0.5, 1.0, 1.5], "InjectedRadioactivity": 370,
  "InjectedRadioactivityUnits": "MBq", "ProtocolName": "bold \\u00e9 \\"run\\"", "ImageType": ["ORIGINAL", "PRIMARY"],
  "nested": {"a": [1, 2, {"b": null}], "c": true}
}"""


def test_fuzz_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "x.json"

    def attempt(data: bytes) -> object:
        path.write_bytes(data)
        return read_sidecar(str(path), "x.json")

    _run("sidecar", [SIDECAR, b"[" * 70 + b"]" * 70, b'{"EchoTime": ' + b"9" * 120 + b"}"], 3000, attempt)


def _xlsx_seed(tmp: Path) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Subjects"
    ws.append(["Subject ID", "Sex", "Weight", "Date"])
    ws.append(["S1", "F", 61.5, "2024-01-02"])
    ws.append(["S2", "M", -3, '=HYPERLINK("x")'])
    wb.save(tmp / "seed.xlsx")
    return (tmp / "seed.xlsx").read_bytes()


def _mutate_parts(seed: bytes, rng: random.Random) -> bytes:
    """A copy of the xlsx with one XML part mutated (the zip stays readable)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        target = rng.choice(names)
        for name in names:
            body = src.read(name)
            dst.writestr(name, mutate(body, rng) if name == target else body)
    return out.getvalue()


def test_fuzz_xlsx(tmp_path: Path) -> None:
    seed = _xlsx_seed(tmp_path)
    path = tmp_path / "x.xlsx"

    def attempt(data: bytes) -> object:
        path.write_bytes(data)
        try:
            table = read_table(path, display="x.xlsx")
            return list(table.rows()), table.findings
        except SheetError as exc:  # the sheet layer's finding (sheet-unreadable, sheet-missing, sheet-too-large)
            return exc.code

    _run("xlsx-bytes", [seed], 100, attempt)
    rng = random.Random(f"{SEED}-xlsx-parts")
    mutants = [_mutate_parts(seed, rng) for _ in range(int(500 * SCALE))]
    _run("xlsx-parts", mutants, len(mutants), attempt)


def _isatab_seed(tmp: Path) -> dict[str, bytes]:
    study = Study(
        identifier="S1", title="study",
        subjects=[Subject(id="P1", characteristics={"sex": Value("female")}, comments={"note": Value("=1+1")})],
        samples=[Sample(id="P1-T0", subject="P1", factors={"time point": Value("week 0")})],
        scans=[Scan(id="P1-T0-MR", sample="P1-T0", modality="MRI", parameters={"echo time": Value(0.03)})],
    )  # fmt: skip
    study.factors = ["time point"]
    inv = Investigation(identifier="inv", title="T", description="d", studies=[study])
    write_isatab(inv, tmp / "seed", None)
    return {p.name: p.read_bytes() for p in sorted((tmp / "seed").iterdir())}


def test_fuzz_isatab(tmp_path: Path) -> None:
    files = _isatab_seed(tmp_path)
    out = tmp_path / "isa"
    out.mkdir()
    rng = random.Random(f"{SEED}-isatab-pick")
    names = sorted(files)

    def attempt(data: bytes) -> object:
        target = rng.choice(names)
        for name, body in files.items():
            (out / name).write_bytes(data if name == target else body)
        return check(out, None).report

    # the mutant is made from one file's bytes and written in place of a file picked at random
    _run("isatab", list(files.values()), 250, attempt)


@pytest.mark.parametrize("seed", [b"", b"\x00" * 400, b"DICM" * 100])
def test_degenerate_dicom_inputs(tmp_path: Path, seed: bytes) -> None:
    (tmp_path / "x.dcm").write_bytes(seed)
    items, report = harvest_files([str(tmp_path / "x.dcm")], root=str(tmp_path))
    assert items == [] and {i.code for i in report.issues} <= {
        "dicom-unreadable",
        "dicom-no-meta",
        "not-dicom",
        "dicom-header-truncated",
    }
