"""Scale benchmark: the four commands on replicas of the three collections at their published sizes.

Run from the repository root::

    python benchmarks/scale_bench.py                       # all three replicas, full size
    python benchmarks/scale_bench.py --scale 0.1           # a tenth of the subjects
    python benchmarks/scale_bench.py --replica crlm --command validate
    python benchmarks/scale_bench.py --replica crlm --matrix 512     # I/O-bound CRLM variant
    python benchmarks/scale_bench.py --replica enhance --command package --repeat 3   # medians of 3 runs

Replicas (see ``benchmarks/_replicas.py``) are built once under ``benchmarks/_work/scale/`` (git-ignored) and
reused. Every contender runs as its own subprocess under GNU ``/usr/bin/time``, so wall time, CPU time and
peak RSS (``ru_maxrss``: the largest of the process and the workers it waited for) are whole-process figures:

* ``validate`` (default layers), ``validate --no-linked`` (to give the linked layer's share),
  ``package -o … -q``, ``verify … -q``, ``harvest -j WORKERS --format json`` (output discarded);
* baselines in the same invocation: ``cp -r`` of the replica, raw SHA-256 + SHA-512 of the same bytes (one
  pass, one core), bagit-python ``make_bag`` (sha256+sha512, ``processes=WORKERS``) on that copy and
  ``bagit.Bag.validate``, and a raw one-core header loop (``pydicom.dcmread(stop_before_pixels=True)`` /
  ``nibabel.load(...).header``).

Ratios printed: package / (cp -r + make_bag + header loop); verify / bagit validate; harvest speed-up over
the header loop (higher is better); validate / header loop. The load average is printed before and after,
since the machine may be shared. Every command runs with ``--no-cache``: these are first-run figures (one
command's header cache would otherwise serve the next); ``benchmarks/cache_bench.py`` times incremental re-runs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work" / "scale"
sys.path[:0] = [str(HERE), str(REPO)]

import _replicas  # noqa: E402

TIME = "/usr/bin/time"  # GNU time: the rusage of the command alone
COMMANDS = ("validate", "package", "verify", "harvest")
CHUNK = 1 << 20
NO_CACHE = ["--no-cache"]  # cold figures: every header read (benchmarks/cache_bench.py times re-runs from the cache)


def byte_compile() -> None:
    """Write isaprofile's ``.pyc`` files, as ``pip install`` does. The commands run from this source tree, and
    with ``PYTHONDONTWRITEBYTECODE`` set (as on this machine) every run would compile all its modules again,
    about 90 ms that an installed copy, and the baselines' packages in site-packages, never pay."""
    import compileall

    compileall.compile_dir(str(REPO / "isaprofile"), quiet=1)


def run(argv: list[str], cwd: Path = REPO) -> tuple[float, float, float, int]:
    """Run ``argv``; (wall seconds, CPU seconds (user + system, workers included), peak RSS in MiB, exit
    code). Output is discarded. CPU time is the steadier figure on a shared machine.

    Through ``/usr/bin/time``, which reports its child's rusage: a process's ``ru_maxrss`` starts from its
    parent's RSS at fork (Linux keeps the high-water mark across exec), so measuring the command as our own
    child would count this process's memory; ``time``'s child is forked from the small ``time`` process.
    """
    import tempfile

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # what the contender before left unwritten is flushed first, untimed: `package` ends with syncfs, which
    # would otherwise write back the files a peer's cp -r created and the bench then deleted
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%U %S %M", "-o", out.name, *argv], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        wall = time.perf_counter() - start
        user, system, kib = out.read().split()[-3:]
    return wall, float(user) + float(system), int(kib) / 1024, proc.returncode


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- baselines, run as ``scale_bench.py --baseline NAME PATH`` in a subprocess -------------------------------


def _raw_hash(root: Path) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    for path in files_of(root):
        a, b = hashlib.sha256(), hashlib.sha512()
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                a.update(view[:n])
                b.update(view[:n])


def _headers(root: Path) -> None:
    import nibabel
    import pydicom

    for path in files_of(root):
        if path.suffix == ".dcm":
            pydicom.dcmread(path, stop_before_pixels=True)
        elif path.name.endswith((".nii", ".nii.gz")):
            _ = nibabel.load(path).header


def _make_bag(root: Path, workers: int) -> None:
    import bagit

    bagit.make_bag(str(root), checksums=["sha256", "sha512"], processes=workers)


def _validate_bag(root: Path, workers: int) -> None:
    import bagit

    bagit.Bag(str(root)).validate(processes=workers)


def baseline(name: str, path: Path, workers: int) -> int:
    if name == "hash":
        _raw_hash(path)
    elif name == "headers":
        _headers(path)
    elif name == "make_bag":
        _make_bag(path, workers)
    elif name == "bag_validate":
        _validate_bag(path, workers)
    else:
        raise SystemExit(f"unknown baseline {name}")
    return 0


# --- the benchmark -------------------------------------------------------------------------------------------


Row = tuple[str, float, float, float, int]


def bench(name: str, data: Path, commands: list[str], workers: int, keep: bool) -> list[Row]:
    py = sys.executable
    me = str(Path(__file__).resolve())
    nfiles = len(files_of(data))
    rows: list[Row] = []
    out = WORK / f"{data.name}.pkg"
    copy = WORK / f"{data.name}.bagit"

    def add(label: str, argv: list[str], cwd: Path = REPO) -> tuple[float, float, float, int]:
        res = run(argv, cwd)
        rows.append((label, *res))
        wall, cpu, rss, rc = res
        print(f"  {label:36s} {wall:8.2f} s  {cpu:8.2f} s cpu  {nfiles / wall:8.0f} files/s  {rss:6.0f} MiB  "
              f"rc={rc}  load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        return res

    print(f"{name}: {data} ({nfiles} files, {sum(p.stat().st_size for p in files_of(data)) / 1e6:.0f} MB)")
    print(f"  {'command':36s} {'wall':>10s}  {'cpu':>12s}  {'rate':>14s}  {'peak RSS':>10s}")
    _raw_hash(data)  # warm the page cache
    add("baseline: raw header loop (1 core)", [py, me, "--baseline", "headers", str(data)])
    add("baseline: raw sha256+sha512 (1 core)", [py, me, "--baseline", "hash", str(data)])
    if "validate" in commands:
        add("validate", [py, "-m", "isaprofile", "validate", str(data), "--workers", str(workers), *NO_CACHE])
        add("validate --no-linked", [py, "-m", "isaprofile", "validate", str(data), "--no-linked",
                                     "--workers", str(workers), *NO_CACHE])  # fmt: skip
    if "harvest" in commands:
        add(f"harvest -j {workers}", [py, "-m", "isaprofile", "harvest", str(data), "-j", str(workers), "-q",
                                      "--format", "json", *NO_CACHE])  # fmt: skip
    if "package" in commands or "verify" in commands:
        if copy.exists():
            shutil.rmtree(copy)
        add("baseline: cp -r", ["cp", "-r", str(data), str(copy)])
        add("baseline: bagit make_bag", [py, me, "--baseline", "make_bag", str(copy), "--workers", str(workers)])
        add("baseline: bagit validate", [py, me, "--baseline", "bag_validate", str(copy), "--workers", str(workers)])
        shutil.rmtree(copy)
        if out.exists():
            shutil.rmtree(out)
        add("package", [py, "-m", "isaprofile", "package", str(data), "-o", str(out), "-q",
                        "--workers", str(workers), *NO_CACHE])  # fmt: skip
        if "verify" in commands and out.exists():
            add("verify", [py, "-m", "isaprofile", "verify", str(out), "-q", "--workers", str(workers)])
        if not keep and out.exists():
            shutil.rmtree(out)
    print_ratios(rows, workers)
    return rows


def print_ratios(rows: list[Row], workers: int) -> None:
    """The ratios of one replica's rows (one run's, or the medians of :func:`medians`)."""
    by = {label: wall for label, wall, *_ in rows}
    head = by["baseline: raw header loop (1 core)"]
    print("  ratios:")
    if "validate" in by:
        linked = by["validate"] - by["validate --no-linked"]
        print(f"    validate / header loop               {by['validate'] / head:6.2f}x")
        print(f"    linked layer share of validate       {100 * linked / by['validate']:5.1f} %  ({linked:.2f} s)")
    if f"harvest -j {workers}" in by:
        print(f"    header loop / harvest (speed-up)     {head / by[f'harvest -j {workers}']:6.2f}x")
    if "package" in by:
        peer = by["baseline: cp -r"] + by["baseline: bagit make_bag"] + head
        print(f"    package / (cp -r + make_bag + loop)  {by['package'] / peer:6.2f}x")
    if "verify" in by:
        print(f"    verify / bagit validate              {by['verify'] / by['baseline: bagit validate']:6.2f}x")


def medians(runs: list[list[Row]]) -> list[Row]:
    """Each contender's median wall, CPU time and peak RSS over repeated runs (the exit code: the worst)."""
    import statistics

    out: list[Row] = []
    for label in dict.fromkeys(label for rows in runs for label, *_ in rows):
        got = [row for rows in runs for row in rows if row[0] == label]
        walls, cpus, rsss = ([row[i] for row in got] for i in (1, 2, 3))
        out.append((label, statistics.median(walls), statistics.median(cpus), statistics.median(rsss),
                    max(row[4] for row in got)))  # fmt: skip
    return out


def print_medians(name: str, runs: list[list[Row]], workers: int) -> None:
    """The table of medians over ``runs``, with each wall's spread (min–max): the machine may be shared."""
    print(f"{name}: median of {len(runs)} runs")
    rows = medians(runs)
    for label, wall, cpu, rss, rc in rows:
        walls = [row[1] for rows in runs for row in rows if row[0] == label]
        print(f"  {label:36s} {wall:8.2f} s  {cpu:8.2f} s cpu  {rss:6.0f} MiB  rc={rc}  "
              f"(wall {min(walls):.2f}–{max(walls):.2f} s)")  # fmt: skip
    print_ratios(rows, workers)


def shacl(name: str, data: Path, oracle: bool) -> None:
    """The SHACL layer alone on a replica's generated crate: direct checks, and pyshacl with ``oracle``."""
    from isaprofile.linked.jsonld import build_ro_crate
    from isaprofile.linked.shacl import validate_crate
    from isaprofile.pipeline import check

    start = time.perf_counter()
    checked = check(data, skip=("linked", "phi"))
    assert checked.profile is not None
    model = time.perf_counter() - start
    start = time.perf_counter()
    doc, _ = build_ro_crate(checked.investigation, checked.profile)
    n = len(doc["@graph"])
    print(f"  {name}: model (validate --no-linked --no-phi) {model:.2f} s; crate build "
          f"{time.perf_counter() - start:.2f} s, {n} entities")  # fmt: skip
    engines = ("direct", "pyshacl") if oracle else ("direct",)
    found = {}
    for engine in engines:
        start = time.perf_counter()
        report = validate_crate(doc, checked.profile, "ro-crate-metadata.json", engine=engine)
        took = time.perf_counter() - start
        found[engine] = sorted((i.code, i.path, i.severity.value) for i in report.issues)
        print(f"  SHACL {engine:8s} {took:8.2f} s  {1000 * took / n:7.3f} ms/entity  {len(report.issues)} findings")
    if oracle:
        print(f"  same findings: {found['direct'] == found['pyshacl']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", choices=_replicas.NAMES, action="append", help="repeatable; default: all")
    parser.add_argument("--command", choices=COMMANDS, action="append", help="repeatable; default: all")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the subjects (default 1)")
    parser.add_argument("--matrix", type=int, default=16, help="CRLM pixel matrix (16, or 512 for I/O cost)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the package under benchmarks/_work/scale/")
    parser.add_argument("--repeat", type=int, default=1, help="run each replica's contenders N times; "
                        "print the medians (and each wall's spread) after the runs")  # fmt: skip
    parser.add_argument("--build-only", action="store_true", help="build the replicas and stop")
    parser.add_argument("--shacl", action="store_true", help="time the SHACL layer alone (in process)")
    parser.add_argument("--oracle", action="store_true", help="with --shacl: pyshacl too (slow)")
    parser.add_argument("--baseline", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline:
        return baseline(args.baseline[0], Path(args.baseline[1]), args.workers)
    WORK.mkdir(parents=True, exist_ok=True)
    byte_compile()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, workers {args.workers}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    for name in args.replica or _replicas.NAMES:
        start = time.perf_counter()
        data = _replicas.replica(name, WORK, args.scale, args.matrix)
        print(f"{name}: replica ready in {time.perf_counter() - start:.1f} s")
        if args.shacl:
            shacl(name, data, args.oracle)
        elif not args.build_only:
            runs = [bench(name, data, args.command or list(COMMANDS), args.workers, args.keep)
                    for _ in range(max(1, args.repeat))]  # fmt: skip
            if len(runs) > 1:
                print_medians(name, runs, args.workers)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
