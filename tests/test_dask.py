"""The Dask backend of isaprofile.engine: the same reports and package bytes as serial and pooled runs on a
``distributed.LocalCluster``; lost workers re-run or stop the run clearly; unusable schedulers fail at once.

The cluster listens on 127.0.0.1 only: these tests allow localhost sockets and nothing else.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask  # noqa: E402

from isaprofile import engine  # noqa: E402
from isaprofile.bagit import hashing  # noqa: E402
from isaprofile.cli.main import main  # noqa: E402
from isaprofile.errors import SchedulerError  # noqa: E402
from isaprofile.harvest import assemble  # noqa: E402
from isaprofile.package import landing, phi  # noqa: E402
from isaprofile.package.deposit import package_dataset  # noqa: E402
from isaprofile.package.metadata_checks import verify_package  # noqa: E402

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
# the helpers below run on the workers, which cannot import this test module: send them by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_FAILURES = 1  # the scheduler re-runs a task once after its worker died, then gives up


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        with distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as local:
            yield local


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples are small: make every per-file pass take its parallel path."""
    monkeypatch.setattr(assemble, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(phi, "_PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(landing, "PREVIEW_PARALLEL_MIN", 1)


@pytest.fixture
def dask_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files in the items of every map_files call that ran on the cluster (the header pass maps
    runs of files, one folder's each; the other passes map files)."""
    calls: list[int] = []
    real = engine.DaskBackend.map

    def spy(self, func, items, chunksize=None):  # type: ignore[no-untyped-def]
        calls.append(sum(len(i) if isinstance(i, list) else 1 for i in items))
        yield from real(self, func, items, chunksize)

    monkeypatch.setattr(engine.DaskBackend, "map", spy)
    return calls


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _double(item: int) -> int:
    return item * 2


def _fail_on(item: int, bad: int) -> int:
    if item == bad:
        raise ValueError(f"bad item {item}")
    return item * 2


def _die_once(item: int, marker: str) -> int:
    """Kill the worker process the first time item 3 is seen (the marker file remembers it)."""
    if item == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return item * 2


def _die_always(item: int) -> int:
    if item == 3:
        os._exit(1)
    return item * 2


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- same results


@pytest.mark.parametrize("example", ["crlm-ct", "preclinical-liver"])
def test_validate_json_is_the_same_serial_pooled_and_on_dask(
    cluster, pooled, dask_calls: list[int], tmp_path: Path, example: str
) -> None:
    src = str(shutil.copytree(ROOT / "examples" / example, tmp_path / example))
    reports = {}
    for name, args in {
        "serial": ["--workers", "1"],
        "pool": ["--workers", "2"],
        "dask": ["--scheduler", cluster.scheduler_address],
    }.items():
        out = tmp_path / f"{name}.json"
        # --no-cache: each run reads every file (else the second would be served by the header cache)
        assert main(["validate", src, "--format", "json", "-o", str(out), "--quiet", "--no-cache", *args]) == 0
        reports[name] = json.loads(out.read_text(encoding="utf-8"))
    assert reports["dask"] == reports["serial"] == reports["pool"]
    if example == "crlm-ct":  # the PHI exceptions applied: the comparison is not of empty reports
        assert {i["code"] for i in reports["serial"]["issues"]} == {"phi-exception-applied"}
    n_files = sum(1 for p in Path(src).rglob("*") if p.is_file() and p.suffix in (".dcm", ".gz", ".nii"))
    # every image went through the cluster: in the header pass (crlm-ct), or the PHI gate (preclinical: no files:)
    assert dask_calls and max(dask_calls) >= n_files


def test_package_bytes_and_verify_are_the_same_on_dask(cluster, pooled, dask_calls, tmp_path: Path) -> None:
    src = ROOT / "examples" / "crlm-ct"
    serial = package_dataset(src, tmp_path / "serial" / "pkg", workers=1, cache=False)
    pool = package_dataset(src, tmp_path / "pool" / "pkg", workers=2, cache=False)
    with engine.scheduler(cluster.scheduler_address, paths=[src, tmp_path]):
        remote = package_dataset(src, tmp_path / "dask" / "pkg", cache=False)
        assert len(dask_calls) >= 3  # the header pass, the previews and the copy-and-hash pass
        before = len(dask_calls)
        verified = verify_package(remote.path)
        assert len(dask_calls) > before  # the fixity pass too
    assert serial.path and pool.path and remote.path
    one, two, three = _tree(serial.path), _tree(pool.path), _tree(remote.path)
    assert sorted(three) == sorted(one) and len(one) > 20
    assert [name for name in one if one[name] != three[name]] == []
    assert [name for name in one if one[name] != two[name]] == []
    assert remote.report.flatten() == serial.report.flatten()
    assert verified.codes() == ["metadata-unchanged"]
    assert verified.flatten() == verify_package(serial.path, workers=1).flatten()


def test_harvest_json_is_the_same_on_dask(cluster, dask_calls, tmp_path: Path, capsys) -> None:
    folder = str(ROOT / "examples" / "crlm-ct")
    assert main(["harvest", folder, "--format", "json", "--quiet", "--no-cache"]) == 0
    local = capsys.readouterr().out
    remote = ["harvest", folder, "--format", "json", "--quiet", "--no-cache", "--scheduler", cluster.scheduler_address]
    assert main(remote) == 0
    assert capsys.readouterr().out == local
    assert dask_calls  # with --scheduler and no -j, the harvest goes to the cluster's threads


def test_results_come_in_item_order_with_a_bounded_number_of_chunks_in_flight(cluster, monkeypatch) -> None:
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        submitted: list[int] = []
        real = client.submit

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            submitted.append(len(args[2]))
            return real(*args, **kwargs)

        monkeypatch.setattr(client, "submit", counting)
        with engine.scheduler(client) as backend:
            assert backend is not None and backend.threads() == 2
            stream = engine.map_files(_double, list(range(100)), 2, chunksize=1)
            assert next(stream) == 0
            assert len(submitted) == engine.IN_FLIGHT_PER_THREAD * 2  # not all 100 chunks at once
            stream.close()  # the rest is cancelled
            assert list(engine.map_files(_double, list(range(1000)), 2)) == [i * 2 for i in range(1000)]
        assert client.status == "running"  # a Client passed in stays open


def test_an_exception_raised_by_func_arrives_as_itself(cluster) -> None:
    with engine.scheduler(cluster.scheduler_address):
        with pytest.raises(ValueError, match="bad item 7"):
            list(engine.map_files(functools.partial(_fail_on, bad=7), list(range(20)), 2, chunksize=3))


def test_the_environment_variable_sets_the_default_and_scheduler_none_overrides_it(
    cluster, dask_calls, monkeypatch
) -> None:
    monkeypatch.setenv(engine.SCHEDULER_ENV, cluster.scheduler_address)
    assert engine.current_scheduler() == cluster.scheduler_address
    assert list(engine.map_files(_double, [1, 2, 3], 2)) == [2, 4, 6]
    assert dask_calls == [3]
    with engine.scheduler(None):
        assert engine.current_scheduler() is None
        assert list(engine.map_files(_double, [1, 2, 3], 2)) == [2, 4, 6]
    assert dask_calls == [3]  # the local pool


# ---------------------------------------------------------------- lost workers


def test_a_worker_lost_once_is_replaced_and_its_chunk_re_run(cluster, tmp_path: Path) -> None:
    marker = tmp_path / "died-once"
    with engine.scheduler(cluster.scheduler_address):
        got = list(engine.map_files(functools.partial(_die_once, marker=str(marker)), list(range(8)), 2, chunksize=1))
    assert marker.exists()  # a worker really died on item 3
    assert got == [i * 2 for i in range(8)]  # ... and nothing is missing


def test_a_chunk_that_keeps_killing_workers_stops_the_run_clearly(cluster) -> None:
    with engine.scheduler(cluster.scheduler_address):
        with pytest.raises(SchedulerError) as caught:
            list(engine.map_files(_die_always, list(range(8)), 2, chunksize=2))
    message = str(caught.value)
    assert cluster.scheduler_address in message and "nothing was skipped" in message
    assert f"each of the {ALLOWED_FAILURES + 1} times it ran items 3-4 of 8" in message and "\n" not in message
    assert isinstance(caught.value.__cause__, distributed.KilledWorker)
    cluster.wait_for_workers(2)
    with engine.scheduler(cluster.scheduler_address):  # the cluster recovers for the next run
        assert list(engine.map_files(_double, [5, 6], 2)) == [10, 12]


def _slow(item: int) -> int:
    time.sleep(0.05)
    return item


def test_a_scheduler_lost_mid_run_stops_the_run_clearly() -> None:
    doomed = distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    )
    with engine.scheduler(doomed.scheduler_address):
        stream = engine.map_files(_slow, list(range(400)), 2, chunksize=2)
        assert next(stream) == 0
        doomed.close()
        with pytest.raises(SchedulerError, match="lost the Dask scheduler") as caught:
            list(stream)
    assert doomed.scheduler_address in str(caught.value) and "\n" not in str(caught.value)


# ---------------------------------------------------------------- unusable schedulers


def test_an_unreachable_scheduler_is_refused_at_once() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerError, match="cannot reach the Dask scheduler") as caught:
        with engine.scheduler(address):
            pytest.fail("entered a block without a scheduler")
    assert address in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)  # the socket probe, not a client timeout


def test_a_malformed_address_is_refused_without_connecting() -> None:
    for address in ("nonsense", "http://127.0.0.1:8786", "tcp://127.0.0.1:port"):
        with pytest.raises(SchedulerError, match="not a Dask scheduler address"):
            with engine.scheduler(address):
                pass


def test_a_scheduler_without_workers_is_refused() -> None:
    with distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=":0") as empty:
        with pytest.raises(SchedulerError, match="has no workers"):
            with engine.scheduler(empty.scheduler_address, timeout=0.5):
                pass


def test_workers_that_do_not_see_the_paths_are_refused(cluster, tmp_path: Path) -> None:
    with pytest.raises(SchedulerError, match="need the same paths"):
        with engine.scheduler(cluster.scheduler_address, paths=[tmp_path / "not-on-the-workers"]):
            pass


def test_without_distributed_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(SchedulerError, match=r'pip install "isaprofile\[dask\]"'):
        with engine.scheduler("tcp://127.0.0.1:8786"):
            pass


@pytest.mark.parametrize("command", ["validate", "package", "verify", "harvest"])
def test_cli_bad_scheduler_exits_2_with_one_line(command: str, tmp_path: Path, capsys) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    target = str(ROOT / "examples" / "preclinical-liver")
    extra = ["-o", str(tmp_path / "pkg")] if command == "package" else []
    assert main([command, target, *extra, "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert err == f"isaprofile: error: cannot reach the Dask scheduler {address}: Connection refused\n"
    assert not (tmp_path / "pkg").exists()
