"""Benchmark: what ``package`` reads — wall time and bytes read per run, for any isaprofile checkout.

Run from the repository root::

    python benchmarks/io_bench.py                       # this checkout, its examples + a 2,000-file dataset
    python benchmarks/io_bench.py --code ../old --examples ../old/examples   # an earlier checkout, same way

Each dataset is packaged in a fresh interpreter with one worker (so every read happens in that process)
and the process reports its own ``/proc/self/io``: ``rchar`` (bytes returned by read calls, page cache
included) and ``read_bytes`` (bytes fetched from the disk). The 2,000-file dataset is the CRLM example
with its CT series grown to 2,000 slices in all (new SOP Instance UIDs and positions; ``metadata.csv``'s
image counts follow), built under ``benchmarks/_work/``. Also printed: the dataset's own size, so
``rchar / size`` says how many times each byte was read.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / "_work"

_CHILD = """
import json, sys, time
from pathlib import Path
import isaprofile
t = time.perf_counter()
result = isaprofile.package_dataset(sys.argv[1], sys.argv[2], workers=1)
wall = time.perf_counter() - t
io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
print(json.dumps({"ok": result.path is not None, "wall": wall, "rchar": int(io["rchar"]),
                  "read_bytes": int(io["read_bytes"]), "codes": sorted(set(result.report.codes()))[:5]}))
"""


def grow_crlm(src: Path, dest: Path, total: int) -> Path:
    """The CRLM example with its CT series grown to ``total`` slices in all (reused when present)."""
    import pydicom
    from pydicom.uid import generate_uid

    marker = dest / ".complete"
    if marker.exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    series = sorted({p.parent for p in dest.glob("CRLM-CT-*/*/*/*.dcm") if "Segmentation" not in p.parent.name})
    per = total // len(series)
    counts: dict[str, int] = {}
    for folder in series:
        slices = sorted(folder.glob("*.dcm"))
        template = pydicom.dcmread(slices[-1])
        for n in range(len(slices) + 1, per + 1):
            ds = template.copy()
            ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(folder), str(n)])
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = n
            if "ImagePositionPatient" in ds:
                x, y, z = (float(v) for v in ds.ImagePositionPatient)
                ds.ImagePositionPatient = [x, y, z + (n - len(slices)) * float(ds.get("SliceThickness", 1) or 1)]
            ds.save_as(folder / f"1-{n:03d}.dcm", enforce_file_format=True)
        counts[folder.relative_to(dest).as_posix()] = per
    for meta in dest.glob("manifest-*/*/metadata.csv"):
        rows = list(csv.reader(meta.open(newline="", encoding="utf-8")))
        head = rows[0]
        loc, num = head.index("File Location"), head.index("Number of Images")
        for row in rows[1:]:
            where = row[loc].lstrip("./").replace("\\", "/")
            for rel, n in counts.items():
                if where.endswith(rel) or rel.endswith(where.split("/", 2)[-1]):
                    row[num] = str(n)
        with meta.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    marker.touch()
    return dest


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(code: Path, dataset: Path) -> dict:
    out = WORK / "io-out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    # the child runs in the measured checkout, so that checkout (not the current folder) is imported
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(dataset.resolve()), str(out)], env=env, cwd=code,
                          capture_output=True, text=True, check=True)  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, default=ROOT, help="the isaprofile checkout to measure")
    parser.add_argument("--examples", type=Path, default=ROOT / "examples", help="the examples that checkout reads")
    parser.add_argument("--files", type=int, default=2000, help="slices of the grown CRLM dataset")
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    tag = "".join(c if c.isalnum() else "-" for c in str(args.examples.resolve()))[-40:]
    grown = grow_crlm(args.examples / "crlm-ct", WORK / f"crlm-{args.files}-{tag}", args.files)
    datasets = [args.examples / "enhance-petct", args.examples / "crlm-ct", grown]
    print(f"# package, one worker, code {args.code}")
    print(
        f"{'dataset':<28} {'files':>6} {'size MB':>8} {'wall s':>7} {'rchar MB':>9} {'rchar/size':>10} {'disk MB':>8}"
    )
    for ds in datasets:
        files = sum(1 for p in ds.rglob("*") if p.is_file())
        size = size_of(ds)
        r = run(args.code, ds)
        flag = "" if r["ok"] else f"  REFUSED {r['codes']}"
        print(f"{ds.name[:28]:<28} {files:>6} {size / 1e6:>8.1f} {r['wall']:>7.2f} {r['rchar'] / 1e6:>9.1f} "
              f"{r['rchar'] / size:>10.1f} {r['read_bytes'] / 1e6:>8.1f}{flag}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
