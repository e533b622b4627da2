"""verify against bagit-python's validate on the same generated bag: time, ratio, peak RSS.

    PYTHONPATH=$PWD python benchmarks/verify_bench.py [--files 15000] [--size 2048] [--repeat 3] [--workers 1]

Builds a bag of ``--files`` small files (isaprofile's builder: SHA-256 and SHA-512 manifests and tag
manifests, as bagit-python ``make_bag(checksums=["sha256", "sha512"])`` writes them), then runs, each in
a fresh interpreter and alternating, ``isaprofile.bagit.verify_package(bag)`` and
``bagit.Bag(bag).validate()``. Prints, per tool, the median time of the call itself, the median whole-process
wall time, and the peak RSS of the process (VmHWM; ru_maxrss would carry the parent's over
exec); then the ratio ours/bagit-python. The same is done on a bag a tenth the
size, to show how peak RSS grows with the number of files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OURS = """
import json, sys, time
from isaprofile.bagit import verify_package
t = time.perf_counter()
report = verify_package(sys.argv[1], workers=int(sys.argv[2]))
took = time.perf_counter() - t
assert report.valid, report.issues[:3]
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"call": took, "rss_kib": int(hwm.split()[1])}))
"""

BAGIT = """
import json, sys, time
import bagit
t = time.perf_counter()
bagit.Bag(sys.argv[1]).validate(processes=int(sys.argv[2]))
took = time.perf_counter() - t
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"call": took, "rss_kib": int(hwm.split()[1])}))
"""


def make_bag(root: Path, files: int, size: int) -> Path:
    from isaprofile.bagit import build_bag

    src = root / "src"
    rng = random.Random(8493)
    payload = {}
    for i in range(files):
        rel = f"series-{i // 500:03d}/img-{i:06d}.dcm"
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size + rng.randrange(size)))
        payload[rel] = path
    info = {"Source-Organization": "verify bench"}
    result = build_bag(root / "bag", payload, {}, bag_info=info, workers=1, durable=False)
    assert result.path is not None
    return result.path


def run(code: str, bag: Path, workers: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(bag), str(workers)], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    wall = time.perf_counter() - t
    return {**json.loads(out.strip().splitlines()[-1]), "wall": wall}


def measure(bag: Path, repeat: int, workers: int) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict]] = {"isaprofile verify": [], "bagit-python validate": []}
    for _ in range(repeat):
        runs["isaprofile verify"].append(run(OURS, bag, workers))
        runs["bagit-python validate"].append(run(BAGIT, bag, workers))
    return {
        tool: {
            "call_s": statistics.median(r["call"] for r in rs),
            "wall_s": statistics.median(r["wall"] for r in rs),
            "peak_rss_mib": max(r["rss_kib"] for r in rs) / 1024,
        }
        for tool, rs in runs.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=15_000)
    ap.add_argument("--size", type=int, default=2048, help="smallest file size in bytes (largest: twice that)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="processes for both tools (bagit-python: processes=)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        for files in (args.files // 10, args.files):
            bag = make_bag(Path(tmp) / str(files), files, args.size)
            got = measure(bag, args.repeat, args.workers)
            load = os.getloadavg()[0]
            print(f"\n{files} files of {args.size}-{2 * args.size} bytes, workers={args.workers}, load {load:.2f}")
            print(f"{'tool':24} {'call s':>8} {'process s':>10} {'peak RSS MiB':>13}")
            for tool, m in got.items():
                print(f"{tool:24} {m['call_s']:8.2f} {m['wall_s']:10.2f} {m['peak_rss_mib']:13.1f}")
            ours, theirs = got["isaprofile verify"], got["bagit-python validate"]
            print(f"ratio ours/bagit-python: call {ours['call_s'] / theirs['call_s']:.2f}x, "
                  f"process {ours['wall_s'] / theirs['wall_s']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
