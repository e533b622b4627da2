"""Time and peak RSS of the PHI gate, the payload selection and the image integrity checks on hostile inputs
(issue 10): each case runs in a fresh Python process, so its peak RSS is its own.

    PYTHONPATH=. python benchmarks/hostile_bench.py [--case NAME] [--scale 1.0]

Cases (sizes scale with ``--scale``):

- ``blob``: a 200 MB ``blob.bin`` and 2,000 unrecognised / hidden files in a series folder (payload selection)
- ``deep-dicom``: a DICOM nested 5,000 sequences deep (PHI gate and harvest integrity check)
- ``deep-sidecar``: a JSON sidecar nested 200,000 deep (PHI gate)
- ``utf16-extension``: a NIfTI whose 8 MB comment extension is UTF-16 (PHI gate)
- ``big-nifti``: a 1 GiB all-zero NIfTI (header checks and harvest, no full read into memory)
- ``links``: 1,000 symbolic links out of the dataset and a link loop (payload selection)
- ``truncated``: 2,000 DICOM files, each cut at a different byte (integrity check)
- ``sidecar-deep``: the 200,000-deep sidecar read by the harvest (``json-too-deep``)
- ``sidecar-bigint``: a 100,000-digit integer in a sidecar (``json-number-too-long``)
- ``labels-deep``: a ``labels.json`` nested 200,000 deep (``json-too-deep``)
- ``yaml-bomb``: a 1 KB anchor bomb (10 levels of 9 aliases) as ``isaprofile.yaml`` (``config-too-large``)
- ``xlsx-big-cell``: a 300 MB cell in a small xlsx (``sheet-too-large``, before the workbook is read)
- ``xlsx-entity-bomb``: a billion-laughs ``xl/workbook.xml`` (``sheet-unreadable``)
- ``sheet-rows``: 200,000 subject rows in a csv, streamed through the sheet reader
- ``isatab-cell``: an ISA-Tab study table with one 50 MB cell, validated (``isatab-cell-too-large``)
- ``isatab-columns``: an ISA-Tab study table with 100,000 columns, validated (``isatab-too-many-columns``)
- ``zip-entries``: a zip of 1,000,000 empty entries handed to SafeZip (``zip-bomb`` from the end record)
- ``zip-entries-cap``: a zip of 199,999 empty entries, just under the default cap, opened and checked

Prints one line per case: the result (finding codes and counts), seconds and peak RSS in MB. No
thresholds are asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CASES = (
    "blob",
    "deep-dicom",
    "deep-sidecar",
    "utf16-extension",
    "big-nifti",
    "links",
    "truncated",
    "sidecar-deep",
    "sidecar-bigint",
    "labels-deep",
    "yaml-bomb",
    "xlsx-big-cell",
    "xlsx-entity-bomb",
    "sheet-rows",
    "isatab-cell",
    "isatab-columns",
    "zip-entries",
    "zip-entries-cap",
)


def _clean_ct():
    import pydicom
    from pydicom.data import get_testdata_file

    from isaprofile.package.phi import annex_e

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for entry in annex_e().values():
        if entry.action != "U" and "X" not in entry.tag and entry.keyword in ds:
            delattr(ds, entry.keyword)
    ds.remove_private_tags()
    ds.PatientID = ds.PatientName = "sub-01"
    ds.PatientIdentityRemoved = "YES"
    return ds


def _codes(report) -> str:
    return ", ".join(f"{code} x{n}" for code, n in sorted(Counter(report.codes()).items())) or "no finding"


def run(case: str, root: Path, scale: float) -> str:
    from isaprofile.package.payload import select_payload
    from isaprofile.package.phi import PhiPolicy, check_phi

    policy = PhiPolicy(pseudonyms=frozenset({"sub-01"}))
    series = root / "ct" / "sub-01" / "series"
    series.mkdir(parents=True)
    if case == "blob":
        _clean_ct().save_as(series / "1.dcm")
        with open(series / "blob.bin", "wb") as fh:
            chunk = os.urandom(1 << 20)
            for _ in range(int(200 * scale)):
                fh.write(chunk)
        for i in range(int(1000 * scale)):
            (series / f"notes{i}.txt").write_text("Patient: someone")
            (series / f".~lock.n{i}.txt#").write_text("lock")
        start = time.perf_counter()
        payload, report = select_payload(root, ["ct/sub-01/series"])
        report.merge(check_phi(payload, policy, workers=1).report)
    elif case == "deep-dicom":
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        ds = _clean_ct()
        inner = Dataset()
        inner.CodeValue = "X"
        for _ in range(int(5000 * scale)):
            outer = Dataset()
            outer.ContentTemplateSequence = Sequence([inner])  # not a Table E.1-1 sequence: walked into
            inner = outer
        ds.ContentTemplateSequence = inner.ContentTemplateSequence
        sys.setrecursionlimit(100_000)  # pydicom writes nested sequences recursively
        ds.save_as(series / "deep.dcm")
        sys.setrecursionlimit(1000)
        start = time.perf_counter()
        report = check_phi({"ct/deep.dcm": series / "deep.dcm"}, policy, workers=1).report
    elif case == "deep-sidecar":
        depth = int(200_000 * scale)
        (series / "x.json").write_text('{"a":' * depth + "1" + "}" * depth)
        start = time.perf_counter()
        report = check_phi({"ct/x.json": series / "x.json"}, policy, workers=1).report
    elif case == "utf16-extension":
        import nibabel
        import numpy as np

        img = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        text = ("Jane Canary " * int(350_000 * scale)).encode("utf-16-le")
        img.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, text))
        nibabel.save(img, series / "x.nii")
        start = time.perf_counter()
        report = check_phi({"ct/x.nii": series / "x.nii"}, policy, workers=1).report
    elif case == "big-nifti":
        import nibabel
        import numpy as np

        from isaprofile.findings.issues import Report
        from isaprofile.harvest.nifti import read_nifti_file

        side = int(1024 * scale ** (1 / 3))
        header = nibabel.Nifti1Header()
        header.set_data_shape((side, side, side))
        header.set_data_dtype(np.uint8)
        with open(series / "big.nii", "wb") as fh:
            fh.write(header.binaryblock + b"\0" * 4)
            fh.truncate(352 + side**3)  # sparse: all zeros
        start = time.perf_counter()
        _, issues = read_nifti_file(str(series / "big.nii"), "big.nii")
        report = Report(issues=issues)
        report.merge(check_phi({"ct/big.nii": series / "big.nii"}, policy, workers=1).report)
    elif case == "links":
        outside = root.parent / "outside"
        outside.mkdir()
        _clean_ct().save_as(outside / "9.dcm")
        for i in range(int(1000 * scale)):
            (series / f"l{i}.dcm").symlink_to(outside / "9.dcm")
        (series / "loop").symlink_to(root, target_is_directory=True)
        start = time.perf_counter()
        payload, report = select_payload(root, ["ct/sub-01/series"])
    elif case == "truncated":
        import pydicom

        from isaprofile.findings.issues import Report, issue
        from isaprofile.harvest.pixels import check_image_integrity

        buf = io.BytesIO()
        _clean_ct().save_as(buf)
        data = buf.getvalue()
        cuts = [133 + (i * (len(data) - 134)) // int(2000 * scale) for i in range(int(2000 * scale))]
        start = time.perf_counter()
        report = Report()
        for cut in cuts:
            fh = io.BytesIO(data[:cut])
            try:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
            except Exception as exc:  # noqa: BLE001 - counted as the harvest's dicom-unreadable
                report.add(issue("dicom-unreadable", file="x.dcm", reason=type(exc).__name__))
                continue
            syntax = ds.file_meta.get("TransferSyntaxUID")
            found = check_image_integrity(fh, cut, ds, implicit=False, little=True, syntax=str(syntax))
            if found is not None:
                code, params = found
                report.add(issue(code, file="x.dcm", **params))
    elif case in _LIMIT_CASES:
        report, start = _LIMIT_CASES[case](root, scale)
    else:
        raise SystemExit(f"unknown case {case!r} (one of {', '.join(CASES)})")
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return json.dumps(
        {"case": case, "seconds": round(seconds, 2), "peak_rss_mb": round(rss, 1), "result": _codes(report)}
    )


def _empty_zip(path: Path, n: int) -> None:
    """A zip of ``n`` empty stored entries, written directly (zipfile would hold every ZipInfo)."""
    import struct
    import zlib

    crc = zlib.crc32(b"")
    central = tempfile.TemporaryFile()  # the central directory, appended at the end (not held in memory)
    with open(path, "wb") as fh, central:
        for i in range(n):
            name = f"bag/data/{i}".encode()
            offset = fh.tell()
            fh.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0) + name)
            central.write(
                struct.pack(
                    "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0, 0, 0, 0, 0, offset
                )
                + name
            )
        start = fh.tell()
        size = central.tell()
        central.seek(0)
        while chunk := central.read(1 << 20):
            fh.write(chunk)
        end = fh.tell()
        # zip64 end record and locator (the count does not fit 16 bits), then the classic end record
        fh.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, size, start))
        fh.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1))
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def _limit_case(name: str):
    def register(func):
        _LIMIT_CASES[name] = func
        return func

    return register


_LIMIT_CASES: dict = {}


def _issues(found) -> object:
    from isaprofile.findings.issues import Report

    return Report(issues=list(found))


@_limit_case("sidecar-deep")
def _sidecar_deep(root: Path, scale: float):
    from isaprofile.harvest.sidecar import read_sidecar

    depth = int(200_000 * scale)
    (root / "x.json").write_text('{"a":' * depth + "1" + "}" * depth)
    start = time.perf_counter()
    return _issues(read_sidecar(str(root / "x.json"), "x.json")[1]), start


@_limit_case("sidecar-bigint")
def _sidecar_bigint(root: Path, scale: float):
    from isaprofile.harvest.sidecar import read_sidecar

    (root / "x.json").write_text('{"EchoTime": ' + "7" * int(100_000 * scale) + "}")
    start = time.perf_counter()
    return _issues(read_sidecar(str(root / "x.json"), "x.json")[1]), start


@_limit_case("labels-deep")
def _labels_deep(root: Path, scale: float):
    from isaprofile.findings.issues import Report
    from isaprofile.harvest.assemble import _labels
    from isaprofile.harvest.config import FileSpec

    depth = int(200_000 * scale)
    (root / "labels.json").write_text('{"g": ' + "[" * depth + "]" * depth + "}")
    report = Report()
    start = time.perf_counter()
    _labels(root, FileSpec(index=0, globs=["*"], labels="labels.json"), report)
    return report, start


@_limit_case("yaml-bomb")
def _yaml_bomb(root: Path, scale: float):
    from isaprofile.harvest.config import load_config

    lines = ["profile: preclinical-imaging", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 11)]
    (root / "isaprofile.yaml").write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    return load_config(root)[1], start


def _xlsx(root: Path, part: str | None = None, body=None) -> Path:
    """A small workbook; ``body`` (bytes or an iterable of chunks, streamed) replaces the zip part ``part``."""
    import zipfile

    import openpyxl

    book = root / "s.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Subject ID"])
    wb.active.append(["S1"])
    wb.save(book)
    if part is not None and body is not None:
        with zipfile.ZipFile(book) as zf:
            items = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
        with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in items:
                if name != part:
                    zf.writestr(name, data)
                    continue
                with zf.open(name, "w", force_zip64=True) as dst:
                    for chunk in [body] if isinstance(body, bytes) else body:
                        dst.write(chunk)
    return book


def _sheet_report(book: Path):
    from isaprofile.findings.issues import Report, issue
    from isaprofile.harvest.sheets import SheetError, read_table

    report = Report()
    try:
        table = read_table(book, display=book.name)
        for _ in table.rows():
            pass
        report.extend(table.findings)
    except SheetError as exc:
        report.add(issue(exc.code, file=exc.file, reason=exc.reason, sheet=""))
    return report


@_limit_case("xlsx-big-cell")
def _xlsx_big_cell(root: Path, scale: float):
    def body():
        yield (
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
        )
        for _ in range(int(300 * scale)):
            yield b"A" * 1_000_000
        yield b"</t></is></c></row></sheetData></worksheet>"

    book = _xlsx(root, "xl/worksheets/sheet1.xml", body())
    start = time.perf_counter()
    return _sheet_report(book), start


@_limit_case("xlsx-entity-bomb")
def _xlsx_entity_bomb(root: Path, scale: float):
    ents = "".join(f'<!ENTITY l{n} "{(f"&l{n - 1};" if n else "lol") * 10}">' for n in range(10))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE w [{ents}]><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><sheets>&l9;</sheets></workbook>'
    ).encode()
    book = _xlsx(root, "xl/workbook.xml", body)
    start = time.perf_counter()
    return _sheet_report(book), start


@_limit_case("sheet-rows")
def _sheet_rows(root: Path, scale: float):
    path = root / "subjects.csv"
    with path.open("w") as fh:
        fh.write("Subject ID,Sex,Weight\n")
        for i in range(int(200_000 * scale)):
            fh.write(f"S{i},F,{60 + i % 30}\n")
    start = time.perf_counter()
    return _sheet_report(path), start


def _isatab_root(root: Path) -> Path:
    from isaprofile.isatab.write import write_isatab
    from isaprofile.model import Investigation, Study, Subject

    inv = Investigation(
        identifier="inv",
        title="T",
        studies=[Study(identifier="S1", title="study", subjects=[Subject(id="P1", characteristics={})])],
    )
    write_isatab(inv, root / "isa", None)
    return root / "isa"


@_limit_case("isatab-cell")
def _isatab_cell(root: Path, scale: float):
    from isaprofile.pipeline import check

    out = _isatab_root(root)
    study = next(out.glob("s_*.txt"))
    with study.open("a") as fh:
        fh.write("P2\t")
        for _ in range(int(50 * scale)):
            fh.write("y" * (1 << 20))
        fh.write("\n")
    start = time.perf_counter()
    return check(out, None).report, start


@_limit_case("isatab-columns")
def _isatab_columns(root: Path, scale: float):
    from isaprofile.pipeline import check

    out = _isatab_root(root)
    study = next(out.glob("s_*.txt"))
    n = int(100_000 * scale)
    study.write_text("\t".join(["Source Name"] + [f"Comment[c{i}]" for i in range(n)]) + "\nP1\n")
    start = time.perf_counter()
    return check(out, None).report, start


def _zip_case(root: Path, n: int):
    from isaprofile.bagit.ziputil import SafeZip

    _empty_zip(root / "many.zip", n)
    start = time.perf_counter()
    with SafeZip(root / "many.zip") as safe:
        return safe.report, start


@_limit_case("zip-entries")
def _zip_entries(root: Path, scale: float):
    return _zip_case(root, int(1_000_000 * scale))


@_limit_case("zip-entries-cap")
def _zip_entries_cap(root: Path, scale: float):
    return _zip_case(root, int(199_999 * scale))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as tmp:
            print(run(args.case, Path(tmp) / "ds", args.scale))
        return 0
    for case in CASES:
        cmd = [sys.executable, __file__, "--case", case, "--scale", str(args.scale)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode or not line:
            print(
                f"{case:16} FAILED: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
            )
            continue
        row = json.loads(line)
        print(f"{case:16} {row['seconds']:8.2f} s {row['peak_rss_mb']:8.1f} MB   {row['result']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
