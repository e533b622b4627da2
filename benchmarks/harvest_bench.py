"""Benchmark: DICOM header harvest vs a raw ``pydicom.dcmread(stop_before_pixels=True)`` loop.

Copies pydicom's real test files (CT_small, MR_small, MR_small_implicit, MR_small_RLE) to N files under
``benchmarks/_work/harvest/`` (git-ignored), one Series Instance UID per group of files, then times in
the same run, on the same (cached) files:

* baseline: ``for f in files: pydicom.dcmread(f, stop_before_pixels=True)``
* the header alone as the harvest reads it (``harvest.dicom_header.read_header``, dcmread for what it declines)
* ``harvest_files(root, workers=1)`` and ``harvest_files(root, workers=2)``

and prints files/s and the ratios. Goals: >= 0.85x the baseline on one worker; >= 1.8x the one-worker
rate with two workers. Usage: ``python benchmarks/harvest_bench.py [N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from isaprofile.harvest.dicom_header import read_header
from isaprofile.harvest.images import harvest_files

WORK = Path(__file__).resolve().parent / "_work" / "harvest"
TEMPLATES = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm")


def make_files(n: int, group: int = 100) -> list[Path]:
    """``n`` DICOM files under WORK, ``group`` files per series, cycling through the templates."""
    if WORK.exists():
        shutil.rmtree(WORK)
    files: list[Path] = []
    g = 0
    while len(files) < n:
        template = TEMPLATES[g % len(TEMPLATES)]
        ds = pydicom.dcmread(get_testdata_file(template))
        ds.SeriesInstanceUID = generate_uid()
        folder = WORK / f"series-{g:04d}"
        folder.mkdir(parents=True)
        first = folder / "1-0001.dcm"
        ds.save_as(first)
        files.append(first)
        for i in range(1, min(group, n - len(files) + 1)):
            dest = folder / f"1-{i + 1:04d}.dcm"
            shutil.copyfile(first, dest)
            files.append(dest)
        g += 1
    return files


def raw_loop(files: list[Path]) -> None:
    for f in files:
        pydicom.dcmread(f, stop_before_pixels=True)


def header_loop(files: list[Path]) -> None:
    """The header alone as the harvest reads it: isaprofile's reader, dcmread for what it declines."""
    for f in files:
        with open(f, "rb") as fh:
            if read_header(fh, os.fstat(fh.fileno()).st_size) is None:
                fh.seek(0)
                pydicom.dcmread(fh, stop_before_pixels=True)


def timed(func, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2400, help="number of files (>= 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the best is kept")
    args = parser.parse_args()
    files = make_files(args.n)
    n = len(files)
    items, report = harvest_files(WORK)  # warm the page cache and check the result once
    assert sum(i.count for i in items) == n and report.valid, report.flatten()
    print(f"{n} files in {len(items)} series; cpu count {os.cpu_count()}")
    # interleaved rounds, best of each: load from other processes hits all three alike
    runs: dict[str, list[float]] = {"raw": [], "header": [], "one": [], "two": []}
    for _ in range(args.repeat):
        runs["raw"].append(timed(raw_loop, files))
        runs["header"].append(timed(header_loop, files))
        runs["one"].append(timed(harvest_files, WORK, workers=1))
        runs["two"].append(timed(harvest_files, WORK, workers=2))
    base, header, one, two = (min(runs[k]) for k in ("raw", "header", "one", "two"))
    rate = lambda t: n / t  # noqa: E731
    print(f"raw dcmread(stop_before_pixels) loop: {rate(base):8.0f} files/s")
    print(f"header read (dicom_header.read_header): {rate(header):6.0f} files/s  ({base / header:.2f}x the raw loop)")
    print(f"harvest_files, 1 worker:              {rate(one):8.0f} files/s")
    print(f"harvest_files, 2 workers:             {rate(two):8.0f} files/s")
    print(f"ratio 1 worker / raw loop:   {base / one:.2f}x  (goal >= 0.85x)")
    print(f"ratio 2 workers / 1 worker:  {one / two:.2f}x  (goal >= 1.8x)")


if __name__ == "__main__":
    main()
