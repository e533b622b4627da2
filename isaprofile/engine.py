"""Where per-file work runs: in this process, or over a pool of processes.

``map_files(func, items, workers)`` yields ``func(item)`` for every item, in the order of ``items``
whatever the number of workers, so results are deterministic. It is the library's one process
pool (harvest and the BagIt engine's hashing use it). ``func`` must be a module-level
function (it is pickled for the pool) and should return small values: results travel between
processes and are consumed one by one, so memory stays bounded by the chunks in flight.

Workers die with the process that started them: on Linux each worker asks the kernel for SIGKILL
when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread in each worker polls
its parent's pid. Either way a killed build (``kill -9``) leaves no worker behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_SECONDS = 1.0


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
    """``func`` over ``items``: serially for ``workers`` <= 1, else on a process pool; results in order.

    ``workers`` larger than the number of items is reduced to it. Exceptions raised by ``func``
    propagate (workers should turn bad input into findings and return them).
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    workers = min(workers, len(items)) or 1
    if workers == 1:
        for item in items:
            yield func(item)
        return
    size = chunksize or default_chunksize(len(items), workers)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield from pool.map(func, items, chunksize=size)
    except BaseException:
        # a failed item (or the consumer stopping) must not wait for the rest of the queue
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
