"""Where per-file work runs: in this process, or over a pool of processes.

``map_files(func, items, workers)`` yields ``func(item)`` for every item, in the order of ``items``
whatever the number of workers, so results are deterministic. It is the library's one process
pool (harvest and the BagIt engine's hashing use it). ``func`` must be a module-level
function (it is pickled for the pool) and should return small values: results travel between
processes and are consumed one by one, so memory stays bounded by the chunks in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(func, items, chunksize=size)
    except BaseException:
        # a failed item (or the consumer stopping) must not wait for the rest of the queue
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
