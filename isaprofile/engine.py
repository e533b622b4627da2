"""Where per-file work runs: in this process, or over a pool of processes.

``map_files(func, items, workers)`` yields ``func(item)`` for every item, in the order of ``items``
whatever the number of workers, so results are deterministic. It is the library's one process
pool (harvest and the BagIt engine's hashing use it). ``func`` must be a module-level
function (it is pickled for the pool) and should return small values: results travel between
processes and are consumed one by one, so memory stays bounded by the chunks in flight.

Workers die with the process that started them: on Linux each worker asks the kernel for SIGKILL
when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread in each worker polls
its parent's pid. Either way a killed build (``kill -9``) leaves no worker behind.

The same calls can run on a Dask cluster instead (the optional extra ``isaprofile[dask]``)::

    with isaprofile.engine.scheduler("tcp://scheduler:8786"):
        report = isaprofile.validate("dataset")   # the header pass and the PHI gate run on the cluster

While a scheduler is set, every ``map_files`` call that would use a pool sends its chunks to the
cluster (``client.submit``, a bounded number in flight) and yields the results in item order, so
reports and packages are the same as with the local pool. The environment variable
``ISAPROFILE_SCHEDULER`` sets a scheduler for calls made outside any ``scheduler(...)`` block.
Workers read the files themselves: they must see the same paths (a shared file system); no file
bytes travel through Dask. A worker that dies is replaced and its chunk re-run by the scheduler
(Dask's ``distributed.scheduler.allowed-failures``); a chunk that kills its workers more often than
that raises :class:`~isaprofile.errors.SchedulerError` — items are never skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

from isaprofile.errors import SchedulerError

T = TypeVar("T")
R = TypeVar("R")


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_SECONDS = 1.0
SCHEDULER_ENV = "ISAPROFILE_SCHEDULER"
CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler (and to wait for its first worker)
IN_FLIGHT_PER_THREAD = 2  # chunks submitted ahead per worker thread of the cluster
INSTALL_HINT = 'pip install "isaprofile[dask]"'


def _exit_if_orphaned(parent: int) -> None:
    """End this worker when the process that made the pool is gone (whatever the start method: with
    forkserver or spawn the worker's own parent is not that process, so its pid is checked itself)."""
    try:
        os.kill(parent, 0)
    except (ProcessLookupError, PermissionError):  # gone, or its pid reused by another user's process
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(WATCH_SECONDS)
        _exit_if_orphaned(parent)


def die_with_parent(parent: int) -> None:
    """Make this worker end when ``parent`` (the pid of the process that made the pool) ends; the pool initializer."""
    armed = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), name="isaprofile-parent-watch", daemon=True).start()
    _exit_if_orphaned(parent)  # the parent may have died before the signal was armed


def default_chunksize(n_items: int, workers: int) -> int:
    """Items per task sent to a worker: about 8 chunks per worker, between 1 and 256 items."""
    return max(1, min(256, n_items // (workers * 8) or 1))


def map_files(
    func: Callable[[T], R], items: Sequence[T], workers: int = 1, chunksize: int | None = None
) -> Iterator[R]:
    """``func`` over ``items``: serially for ``workers`` <= 1, else on a process pool (or on the Dask
    cluster of :func:`scheduler`, whose threads then decide the spread); results in order.

    ``workers`` larger than the number of items is reduced to it. Exceptions raised by ``func``
    propagate (workers should turn bad input into findings and return them). The work begins when the
    first result is asked for; :func:`started` begins it at once.
    """
    with started(func, items, workers, chunksize) as results:
        yield from results


@contextlib.contextmanager
def started(
    func: Callable[[T], R], items: Sequence[T], workers: int = 1, chunksize: int | None = None
) -> Iterator[Iterator[R]]:
    """:func:`map_files` begun now: on the local pool every item is queued to the workers as the block is
    entered, so this process can do other work meanwhile; iterate the value for the results, in item order.
    Serially (``workers`` <= 1) and on a Dask cluster the work is done as the value is iterated. Leaving the
    block shuts the pool down, cancelling what was not started (results left unread are lost)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    workers = min(workers, len(items)) or 1
    if workers == 1:
        yield (func(item) for item in items)
        return
    backend = _current.get()
    if backend is None and os.environ.get(SCHEDULER_ENV):  # a connection for this call alone
        backend = connect(os.environ[SCHEDULER_ENV])
        try:
            yield backend.map(func, items, chunksize)
        finally:
            backend.close()
        return
    if isinstance(backend, DaskBackend):
        yield backend.map(func, items, chunksize)
        return
    size = chunksize or default_chunksize(len(items), workers)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool.map(func, items, chunksize=size)
    finally:
        # a failed item, or a consumer that left without the rest (a refused deposit's previews), must not
        # wait for the rest of the queue: what nobody can read any more is cancelled
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- Dask distributed


class _Local:
    """The marker of ``scheduler(None)``: the local pool, whatever ``ISAPROFILE_SCHEDULER`` says."""


LOCAL = _Local()


def _run_chunk(func: Callable[[T], R], chunk: list[T]) -> list[R]:
    """One Dask task: ``func`` over a chunk of items, on a worker."""
    return [func(item) for item in chunk]


def _worker_view(paths: list[str]) -> tuple[str, list[str]]:
    """Runs on each worker: the isaprofile version there and which of ``paths`` it cannot see."""
    from isaprofile import __version__

    return __version__, [p for p in paths if not os.path.exists(p)]


class DaskBackend:
    """A connected ``distributed.Client`` running :func:`map_files` chunks; ``owned``: closed by us."""

    def __init__(self, client: Any, address: str, owned: bool) -> None:
        self.client = client
        self.address = address
        self.owned = owned

    def threads(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def check_paths(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Raise :class:`SchedulerError` unless every worker runs this isaprofile version and sees ``paths``."""
        from isaprofile import __version__

        wanted = [os.path.abspath(os.fspath(p)) for p in paths]
        try:
            views = self.client.run(_worker_view, wanted)
        except Exception as exc:  # whatever the workers raise (e.g. no isaprofile there): one clear error
            raise SchedulerError(
                f"the workers of the Dask scheduler {self.address} cannot run isaprofile "
                f"({type(exc).__name__}: {exc}); install the same isaprofile on them"
            ) from exc
        for worker, (version, missing) in sorted(views.items()):
            if version != __version__:
                raise SchedulerError(
                    f"Dask worker {worker} runs isaprofile {version}, this process {__version__}: "
                    "install the same version on both"
                )
            if missing:
                raise SchedulerError(
                    f"Dask worker {worker} cannot see {missing[0]}: workers read the files themselves and need "
                    "the same paths (a shared file system)"
                )

    def map(self, func: Callable[[T], R], items: Sequence[T], chunksize: int | None = None) -> Iterator[R]:
        """``func`` over ``items`` as chunk tasks on the cluster, results in item order; a bounded number of
        chunks is in flight, so neither side holds more than that many chunks of results."""
        from distributed import KilledWorker

        threads = self.threads()
        size = chunksize or default_chunksize(len(items), threads)
        window = max(2, IN_FLIGHT_PER_THREAD * threads)
        pending: deque[tuple[Any, int, int]] = deque()
        starts = iter(range(0, len(items), size))
        try:
            for start in starts:
                chunk = list(items[start : start + size])
                pending.append((self.client.submit(_run_chunk, func, chunk, pure=False), start, len(chunk)))
                if len(pending) >= window:
                    yield from self._take(pending.popleft(), len(items), KilledWorker)
            while pending:
                yield from self._take(pending.popleft(), len(items), KilledWorker)
        finally:
            if pending and self.client.status == "running":  # a failed chunk or a consumer that stopped
                self.client.cancel([future for future, _, _ in pending])

    def _take(self, entry: tuple[Any, int, int], total: int, killed: type[BaseException]) -> list[Any]:
        future, start, count = entry
        where = f"items {start + 1}-{start + count} of {total}"
        try:
            result: list[Any] = future.result()
        except killed as exc:
            tries = getattr(exc, "allowed_failures", 0) + 1
            raise SchedulerError(
                f"the Dask scheduler {self.address} lost a worker each of the {tries} times it ran {where}; "
                "nothing was skipped: the run stops"
            ) from exc
        except Exception as exc:
            if future.status == "error":  # raised by func itself: the original exception, as on the local pool
                raise
            reason = " ".join(str(exc).split())  # Dask's messages span lines; the CLI prints one
            raise SchedulerError(
                f"lost the Dask scheduler {self.address} while running {where}: {type(exc).__name__}: {reason}"
            ) from exc
        return result

    def close(self) -> None:
        if self.owned:
            self.client.close()


_current: ContextVar[DaskBackend | _Local | None] = ContextVar("isaprofile_scheduler", default=None)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise SchedulerError(f"running on a Dask scheduler needs the distributed package: {INSTALL_HINT}") from exc
    return distributed


def _check_address(address: str, timeout: float) -> None:
    """A clear error for an address Dask cannot parse, and within ``timeout`` for one nothing listens on."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls", "ws", "wss") else (None, None)
    except ValueError as exc:
        raise SchedulerError(f"not a Dask scheduler address: {address!r} ({exc}); e.g. tcp://host:8786") from exc
    if host is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler {address}: {exc.strerror or exc}") from exc


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT) -> DaskBackend:
    """A client of the scheduler at ``address``, with at least one worker; :class:`SchedulerError` otherwise."""
    distributed = _import_distributed()
    _check_address(address, timeout)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler {address}: {exc}") from exc
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        client.close()
        raise SchedulerError(f"the Dask scheduler {address} has no workers (waited {timeout:g} s)") from exc
    return DaskBackend(client, address, owned=True)


@contextlib.contextmanager
def scheduler(
    target: Any = None, *, timeout: float = CONNECT_TIMEOUT, paths: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[DaskBackend | None]:
    """Run :func:`map_files` (the header pass, the PHI gate, hashing and copying) inside the block on Dask.

    ``target``: a scheduler address (``tcp://host:8786``), an existing ``distributed.Client`` (left open),
    a cluster object with a ``scheduler_address`` (``LocalCluster``, dask-jobqueue's ``SLURMCluster``), or
    None for the local process pool (overriding ``ISAPROFILE_SCHEDULER``). The connection is made on
    entry: a wrong or unreachable address, a scheduler without workers, or workers that do not see
    ``paths`` (or run another isaprofile version) raise :class:`~isaprofile.errors.SchedulerError` at once.
    Yields the backend (None for the local pool). Blocks nest; the setting is per thread / async task.
    """
    backend: DaskBackend | None
    if target is None or target == "":
        backend = None
    elif isinstance(target, str):
        backend = connect(target, timeout=timeout)
    elif hasattr(target, "scheduler_address"):  # a cluster object (LocalCluster, SLURMCluster, ...)
        backend = connect(str(target.scheduler_address), timeout=timeout)
    else:
        _import_distributed()
        if not hasattr(target, "submit") or not hasattr(target, "scheduler"):
            raise TypeError(f"scheduler() takes an address or a distributed.Client, not {type(target).__name__}")
        backend = DaskBackend(target, str(target.scheduler.address), owned=False)
    try:
        wanted = list(paths)
        if backend is not None and wanted:
            backend.check_paths(wanted)
        token = _current.set(LOCAL if backend is None else backend)
        try:
            yield backend
        finally:
            _current.reset(token)
    finally:
        if backend is not None:
            backend.close()


def current_scheduler() -> str | None:
    """The address work is sent to now: the :func:`scheduler` block's, else ``ISAPROFILE_SCHEDULER``, else None."""
    backend = _current.get()
    if isinstance(backend, DaskBackend):
        return backend.address
    if backend is None:
        return os.environ.get(SCHEDULER_ENV) or None
    return None


def default_workers() -> int:
    """Workers when the caller names none: the cluster's threads inside a :func:`scheduler` block (at least 2,
    so the work goes there), else one per local CPU (at least 2 when ``ISAPROFILE_SCHEDULER`` is set)."""
    backend = _current.get()
    if isinstance(backend, DaskBackend):
        return max(2, backend.threads())
    cpus = os.cpu_count() or 1
    return max(2, cpus) if current_scheduler() else cpus
