"""Benchmark: building a BagIt package against bagit-python and against raw read-and-hash.

Run from the repository root::

    python benchmarks/package_bench.py --size-gb 2 --files 200

It makes ``--files`` image-like files (random bytes) of ``--size-gb`` in all under
``benchmarks/_work/`` (git-ignored, reused between runs), then times in the same run:

(a) ``isaprofile.bagit.build_bag`` (copy + SHA-256 + SHA-512 in one read per file, over
    ``--workers`` processes, fsync on), and the same with ``durable=False``;
(a') ``isaprofile.bagit.hash_files`` (hash only, no copy, same workers);
(b) bagit-python ``make_bag`` on a copy with the same algorithms and ``processes`` = workers;
(c) raw read-and-hash of every file once with hashlib (SHA-256 + SHA-512 in one pass, one
    process): the per-core baseline; divided by the worker count it is the ideal parallel time.

It prints absolute seconds and the ratios ours / bagit and ours / raw. The page cache is warmed
before timing, so every contender reads cached data.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent / "_work"
CHUNK = 1 << 20


def make_files(folder: Path, total_bytes: int, count: int) -> dict[str, Path]:
    """Random files, one folder per 20 files (a "series"); reused when already there."""
    size = total_bytes // count
    rng = np.random.default_rng(7)
    payload = {}
    for i in range(count):
        rel = f"sub-{i // 20:03d}/ct/slice-{i:04d}.dcm"
        path = folder / rel
        if not path.exists() or path.stat().st_size != size:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        payload[rel] = path
    return payload


def raw_hash(paths: list[Path]) -> float:
    start = time.perf_counter()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    for path in paths:
        a, b = hashlib.sha256(), hashlib.sha512()
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                a.update(view[:n])
                b.update(view[:n])
    return time.perf_counter() - start


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    import bagit

    from isaprofile.bagit import build_bag, hash_files

    total = int(args.size_gb * 1e9)
    src = ROOT / "src"
    payload = make_files(src, total, args.files)
    paths = list(payload.values())
    nbytes = sum(p.stat().st_size for p in paths)
    gb = nbytes / 1e9
    print(f"{len(paths)} files, {gb:.2f} GB, {args.workers} workers, python {sys.version.split()[0]}")

    raw_hash(paths)  # warm the page cache
    results: dict[str, float] = {}
    results["raw"] = raw_hash(paths)

    def ours(durable: bool) -> float:
        out = ROOT / "ours"
        if out.exists():
            shutil.rmtree(out)
        return timed(
            lambda: build_bag(out, payload, {}, bag_info={"Source-Organization": "bench"},
                              workers=args.workers, durable=durable)
        )  # fmt: skip

    results["ours"] = ours(True)
    results["ours_nofsync"] = ours(False)
    results["ours_hash_only"] = timed(lambda: hash_files(payload, workers=args.workers))

    copy = ROOT / "bagit"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(src, copy)
    raw_hash(list(copy.rglob("*.dcm")))  # same cache state as ours
    results["bagit"] = timed(lambda: bagit.make_bag(str(copy), checksums=["sha256", "sha512"], processes=args.workers))
    shutil.rmtree(copy)
    shutil.rmtree(ROOT / "ours")

    per_core = gb / results["raw"]
    print(f"raw read+sha256+sha512, 1 process : {results['raw']:7.2f} s  ({per_core:.2f} GB/s per core)")
    print(f"  ideal on {args.workers} workers             : {results['raw'] / args.workers:7.2f} s")
    print(f"bagit-python make_bag ({args.workers} proc)     : {results['bagit']:7.2f} s")
    print(f"isaprofile build_bag (copy, fsync)  : {results['ours']:7.2f} s")
    print(f"isaprofile build_bag (copy, no fsync): {results['ours_nofsync']:6.2f} s")
    print(f"isaprofile hash_files (hash only)   : {results['ours_hash_only']:7.2f} s")
    print("ratios (lower is better):")
    for name in ("ours", "ours_nofsync", "ours_hash_only"):
        print(
            f"  {name:15s} / bagit = {results[name] / results['bagit']:.2f}   "
            f"{name:15s} / raw = {results[name] / results['raw']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
