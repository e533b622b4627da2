"""Dask benchmark: the same commands on the local process pool and on a ``distributed.LocalCluster``.

Run from the repository root (needs ``pip install "isaprofile[dask]"``)::

    python benchmarks/dask_bench.py                               # CRLM replica at scale 0.1, 2 workers
    python benchmarks/dask_bench.py --replica enhance --scale 0.02 --command validate
    python benchmarks/dask_bench.py --scheduler tcp://host:8786   # a running cluster instead of a local one

The replica is built (or reused) under ``benchmarks/_work/scale/`` as in ``scale_bench.py``. Unless
``--scheduler`` is given, this process starts a LocalCluster of ``--workers`` single-threaded worker
processes on 127.0.0.1; each contender is its own ``python -m isaprofile`` process under GNU ``/usr/bin/time``
(wall, CPU of that process and its own pool, peak RSS), and the cluster workers' CPU is read from the workers
before and after (``psutil``), since it is not the command's. Each pair must agree: the same validate JSON,
the same harvest JSON, the same package bytes. Ratios printed: Dask wall / local wall, and Dask CPU / local CPU
(the command's CPU plus the cluster workers', the steadier figure on a shared machine).

On one machine the cluster cannot be faster than the local pool (same cores, plus scheduling and
serialisation); the figure is the overhead a cluster run pays, and what more machines have to win back.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work" / "scale"
sys.path[:0] = [str(HERE), str(REPO)]

import _replicas  # noqa: E402
from scale_bench import run  # noqa: E402

COMMANDS = ("validate", "validate --no-linked", "harvest", "package")


def _worker_cpu() -> float:
    """Runs on each worker: its process's CPU seconds so far (user + system)."""
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def _cluster_cpu(client) -> float:  # type: ignore[no-untyped-def]
    return sum(client.run(_worker_cpu).values())


def _digest_tree(folder: Path) -> str:
    """One digest over every file's relative path and bytes (two package folders agree when it does)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _argv(command: str, data: Path, out: Path, workers: int) -> list[str]:
    py = [sys.executable, "-m", "isaprofile"]
    if command.startswith("validate"):
        return [*py, *command.split(), str(data), "--format", "json", "-o", str(out), "--quiet"]
    if command == "harvest":
        return [*py, "harvest", str(data), "--format", "json", "-q"]
    return [*py, "package", str(data), "-o", str(out), "-q"]


def bench(data: Path, commands: list[str], workers: int, address: str, client) -> None:  # type: ignore[no-untyped-def]
    nfiles = sum(1 for p in data.rglob("*") if p.is_file())
    print(f"{data.name}: {nfiles} files; cluster {address} ({sum(client.nthreads().values())} threads)")
    print(f"  {'command':28s} {'where':8s} {'wall':>9s} {'cpu':>9s} {'cluster cpu':>12s} {'peak RSS':>9s}  "
          "wall ratio, CPU ratio (command + cluster)")  # fmt: skip
    for command in commands:
        results = {}
        walls: dict[str, float] = {}
        cpus: dict[str, float] = {}
        for where, extra in (("local", ["--workers", str(workers)]), ("dask", ["--scheduler", address])):
            out = WORK / f"{data.name}.dask-bench.{where}"
            if out.is_dir():
                shutil.rmtree(out)
            elif out.exists():
                out.unlink()
            argv = _argv(command, data, out, workers)
            if command == "harvest":  # its JSON goes to stdout: keep it in a file through the shell
                argv, extra = ["sh", "-c", f"{shlex.join([*argv, *extra])} > {shlex.quote(str(out))}"], []
            before = _cluster_cpu(client)
            wall, cpu, rss, rc = run([*argv, *extra])
            cluster = _cluster_cpu(client) - before
            walls[where], cpus[where] = wall, cpu + cluster
            results[where] = _digest_tree(out) if out.is_dir() else hashlib.sha256(out.read_bytes()).hexdigest()
            ratio = ""
            if where == "dask":
                ratio = f"{walls['dask'] / walls['local']:5.2f}x {cpus['dask'] / cpus['local']:5.2f}x"
            print(f"  {command:28s} {where:8s} {wall:7.2f} s {cpu:7.2f} s {cluster:10.2f} s {rss:6.0f} MiB  "
                  f"{ratio} rc={rc} load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        same = results["local"] == results["dask"]
        print(f"  {'':28s} output identical: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit(f"{command}: the Dask run's output differs from the local run's")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", choices=_replicas.NAMES, default="crlm")
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the subjects (default 0.1)")
    parser.add_argument("--command", choices=COMMANDS, action="append", help="repeatable; default: all")
    parser.add_argument("--workers", type=int, default=2, help="local pool processes and LocalCluster workers")
    parser.add_argument("--scheduler", help="a running scheduler to use instead of a LocalCluster")
    args = parser.parse_args(argv)

    import distributed

    WORK.mkdir(parents=True, exist_ok=True)
    data = _replicas.replica(args.replica, WORK, args.scale)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, distributed {distributed.__version__}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")  # the workers' isaprofile
    start = time.perf_counter()
    if args.scheduler:
        cluster, address = None, args.scheduler
    else:
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=":0")  # fmt: skip
        address = cluster.scheduler_address
        print(f"LocalCluster of {args.workers} workers up in {time.perf_counter() - start:.1f} s")
    try:
        with distributed.Client(address, set_as_default=False) as client:
            bench(data, args.command or list(COMMANDS), args.workers, address, client)
    finally:
        if cluster is not None:
            cluster.close()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
