"""Checksums: every file read once, in chunks, all digests in the same pass, over worker processes.

Public API::

    Hasher(algorithms)                    the one chunked multi-digest hasher (.update, .result)
    hash_stream(fh, algorithms) -> FileDigest
    digest_chunks(chunks, sink, algorithms) -> FileDigest   a producer's chunks, digested and sunk on a thread
    hash_file(path, algorithms=ALGORITHMS) -> FileDigest
    copy_and_hash(src, dst, algorithms=ALGORITHMS, *, label=None, durable=True) -> FileDigest
    hash_files(paths: Mapping[K, Path], *, algorithms, workers=None, progress=None) -> dict[K, FileDigest]
    iter_file_digests(paths, algorithms, *, workers=None, total_bytes=None, progress=None, root='')
                                          -> Iterator[FileDigest | str], streamed, in order
    copy_files(pairs: Mapping[K, tuple[Path, Path]], *, algorithms, workers=None, progress=None,
               durable=True) -> dict[K, FileDigest]

``progress`` (an :data:`isaprofile.progress.Progress`) is called with a number of bytes each time
more bytes are done (per chunk when serial, per file when parallel), so a CLI can drive a tqdm bar
in bytes with rate and ETA. Memory per worker is one chunk (1 MiB) whatever the file size. Work is
spread with :func:`isaprofile.engine.map_files`, small files batched per task. Source read errors
raise :class:`~isaprofile.bagit.errors.InputVanishedError`; destination errors raise
:class:`~isaprofile.bagit.errors.DiskFullError` (ENOSPC) or ``WriteFailedError``.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from isaprofile import engine
from isaprofile.bagit import _io
from isaprofile.bagit.errors import DiskFullError, InputVanishedError, PackageError, WriteFailedError
from isaprofile.engine import map_files
from isaprofile.progress import Progress

ALGORITHMS: tuple[str, ...] = ("sha256", "sha512")
CHUNK = 1 << 20
#: below this many bytes in all, and fewer files than the next, a process pool costs more than it saves
PARALLEL_MIN_BYTES = 16 << 20
#: from this many files a pool pays even when they are small: opening, creating and closing each one is
#: then the work (ENHANCE's 14,377 files of 11 MB: the copy on two workers, beside the metadata's writing)
PARALLEL_MIN_FILES = 2048

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

__all__ = [
    "ALGORITHMS",
    "CHUNK",
    "FileDigest",
    "Hasher",
    "Progress",
    "copy_and_hash",
    "copy_files",
    "default_workers",
    "hash_file",
    "hash_files",
    "hash_stream",
    "io_error",
    "iter_file_digests",
]


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The size of a file and its digests: ``digests`` gives them in hex by algorithm name.

    Kept as the digests' bytes, one ``bytes`` for all the algorithms: about 200 bytes a file instead of 750 as
    a dict of hex strings. A package holds one per payload file until its manifests are written (CRLM: 17,836,
    13 MiB as dicts), and every one comes back pickled from a worker."""

    size: int
    algorithms: tuple[str, ...]
    raw: bytes  # the digests of ``algorithms``, in that order, each of its algorithm's digest size

    @property
    def digests(self) -> dict[str, str]:
        """The hex digest of each algorithm, by its name."""
        return {name: self.hexdigest(name) for name in self.algorithms}

    def hexdigest(self, algorithm: str) -> str:
        """The hex digest of ``algorithm`` (a ``KeyError`` if the file was not hashed with it)."""
        start = 0
        for name in self.algorithms:
            end = start + _digest_size(name)
            if name == algorithm:
                return self.raw[start:end].hex()
            start = end
        raise KeyError(algorithm)


@functools.cache
def _digest_size(algorithm: str) -> int:
    return hashlib.new(algorithm).digest_size


_BUFFERS = threading.local()


def _buffer() -> memoryview:
    """One reusable chunk buffer per thread (allocating 1 MiB per small file costs more than hashing it)."""
    view = getattr(_BUFFERS, "view", None)
    if view is None:
        view = _BUFFERS.view = memoryview(bytearray(CHUNK))
    return view


class Hasher:
    """Several digests of one byte stream, fed chunk by chunk; the library's only hashing loop."""

    __slots__ = ("_algorithms", "_hashers", "size")

    def __init__(self, algorithms: Iterable[str] = ALGORITHMS) -> None:
        self._algorithms = tuple(algorithms)
        self._hashers = [(name, hashlib.new(name)) for name in self._algorithms]
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        for _, h in self._hashers:
            h.update(chunk)
        self.size += len(chunk)

    def result(self) -> FileDigest:
        return FileDigest(self.size, self._algorithms, b"".join(h.digest() for _, h in self._hashers))

    def feed(
        self,
        fh: IO[bytes],
        *,
        progress: Progress | None = None,
        sink: Callable[[memoryview], object] | None = None,
    ) -> None:
        """Read ``fh`` to its end one chunk at a time, digesting (and handing to ``sink``) each chunk."""
        view = _buffer()
        readinto = getattr(fh, "readinto", None)
        while True:
            n = readinto(view) if readinto is not None else _read_into(fh, view)
            if not n:
                break
            chunk = view[:n]
            self.update(chunk)
            if sink is not None:
                sink(chunk)
            if progress is not None:
                progress(n)


def hash_stream(
    fh: IO[bytes], algorithms: Iterable[str] = ALGORITHMS, *, progress: Progress | None = None
) -> FileDigest:
    """Digest everything readable from ``fh`` in one pass, one chunk in memory at a time."""
    hasher = Hasher(algorithms)
    hasher.feed(fh, progress=progress)
    return hasher.result()


_AHEAD = 4  # chunks a producer may be ahead of digest_chunks' thread (about 4 MiB held)


def digest_chunks(
    chunks: Iterable[bytes], sink: Callable[[bytes], object], algorithms: Iterable[str] = ALGORITHMS
) -> FileDigest:
    """Digest each chunk a producer makes and hand it to ``sink`` (a write) on a helper thread, in order,
    while the producer makes the next: hashlib and ``os.write`` release the GIL, so the digests of ENHANCE's
    400 MB of generated JSON cost its writer no time. An error of ``sink`` is raised here, after which the
    producer is asked for no more chunks."""
    hasher = Hasher(algorithms)

    def take(chunk: bytes) -> None:
        hasher.update(chunk)
        sink(chunk)

    pool = ThreadPoolExecutor(1, thread_name_prefix="isaprofile-digest")
    waiting: deque[Future[None]] = deque()
    try:
        for chunk in chunks:
            waiting.append(pool.submit(take, chunk))
            if len(waiting) > _AHEAD:
                waiting.popleft().result()
        while waiting:
            waiting.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return hasher.result()


def hash_bytes(data: bytes, algorithms: Iterable[str] = ALGORITHMS) -> FileDigest:
    """Digest bytes already in memory (generated metadata, tag files)."""
    hasher = Hasher(algorithms)
    hasher.update(data)
    return hasher.result()


def _read_into(fh: IO[bytes], view: memoryview) -> int:
    data = fh.read(len(view))
    view[: len(data)] = data
    return len(data)


def hash_file(
    path: str | os.PathLike[str], algorithms: Iterable[str] = ALGORITHMS, *, progress: Progress | None = None
) -> FileDigest:
    """Digest one file; an unreadable file raises :class:`InputVanishedError`."""
    try:
        with _io.open_read(path) as fh:
            return hash_stream(fh, algorithms, progress=progress)
    except OSError as exc:
        raise InputVanishedError(str(path), reason=exc.strerror or type(exc).__name__) from None


def copy_and_hash(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    algorithms: Iterable[str] = ALGORITHMS,
    *,
    label: str | None = None,
    durable: bool = True,
    progress: Progress | None = None,
) -> FileDigest:
    """Copy ``src`` to a new file ``dst`` and digest it in the same single read.

    Each chunk is read once, fed to every digest and written. The source is never modified. If
    the source changes size while it is read, :class:`InputVanishedError` is raised. ``label``
    names ``dst`` in errors (its path inside the package).
    """
    name = label or str(dst)
    hasher = Hasher(algorithms)
    try:
        fh = _io.open_read(src)
    except OSError as exc:
        raise InputVanishedError(str(src), reason=exc.strerror or type(exc).__name__) from None
    with fh:
        try:
            expected = os.fstat(fh.fileno()).st_size
        except OSError as exc:  # pragma: no cover - fstat on an open descriptor
            raise InputVanishedError(str(src), reason=exc.strerror or "fstat failed") from None
        out = _open_dst(dst, name)
        try:
            try:
                hasher.feed(fh, progress=progress, sink=lambda chunk: _write(out, chunk, name))
            except PackageError:
                raise
            except OSError as exc:
                raise InputVanishedError(str(src), reason=exc.strerror or "read failed") from None
            if hasher.size != expected:
                raise InputVanishedError(str(src), reason="the file changed size while it was read")
            if durable:
                _sync(out, name)
        finally:
            os.close(out)
    return hasher.result()


def io_error(exc: OSError, name: str) -> PackageError:
    """The typed package error for a failed write of ``name``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(name)
    return WriteFailedError(name, reason=exc.strerror or type(exc).__name__)


def _open_dst(dst: str | os.PathLike[str], name: str) -> int:
    try:
        return _io.create(dst)
    except OSError as exc:
        raise io_error(exc, name) from None


def _write(fd: int, chunk: memoryview, name: str) -> None:
    try:
        _io.write_all(fd, chunk)
    except OSError as exc:
        raise io_error(exc, name) from None


def _sync(fd: int, name: str) -> None:
    try:
        _io.fsync(fd)
    except OSError as exc:
        raise io_error(exc, name) from None


def default_workers() -> int:
    """The number of workers used when none is given: one per CPU (the cluster's threads inside
    :func:`isaprofile.engine.scheduler`)."""
    return engine.default_workers()


def _serial(workers: int | None, sizes: Iterable[int], count: int) -> bool:
    workers = default_workers() if workers is None else workers
    return workers <= 1 or count < 2 or _small(count, sum(sizes))


def _small(count: int, total_bytes: int) -> bool:
    """Whether ``count`` files of ``total_bytes`` in all are done faster in this process than on a pool."""
    return count < PARALLEL_MIN_FILES and total_bytes < PARALLEL_MIN_BYTES


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the worker reports it properly


def hash_files(
    paths: Mapping[K, str | os.PathLike[str]],
    *,
    algorithms: Iterable[str] = ALGORITHMS,
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[K, FileDigest]:
    """Digest many files, spread over ``workers`` processes (serial for few or small files)."""
    algos = tuple(algorithms)
    jobs = {key: (hash_file, (Path(p), algos)) for key, p in paths.items()}
    return _run(jobs, workers, progress, lambda key: _size(paths[key]))


def copy_files(
    pairs: Mapping[K, tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    *,
    algorithms: Iterable[str] = ALGORITHMS,
    workers: int | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    labels: Mapping[K, str] | None = None,
    alongside: Callable[[], None] | None = None,
) -> dict[K, FileDigest]:
    """Copy-and-digest many ``(src, dst)`` pairs in parallel; each source is read exactly once.

    ``alongside()``, when given, is other work for this process: it runs once the pool has every copy to make,
    while the workers make them (serially, it runs after the copies)."""
    algos = tuple(algorithms)
    jobs = {}
    for key, (src, dst) in pairs.items():
        label = labels.get(key) if labels else None
        jobs[key] = (_copy_job, (os.fspath(src), os.fspath(dst), algos, label, durable))
    return _run(jobs, workers, progress, lambda key: _size(pairs[key][0]), alongside)


def _copy_job(
    src: str,
    dst: str,
    algos: tuple[str, ...],
    label: str | None,
    durable: bool,
    progress: Progress | None = None,
) -> FileDigest:
    return copy_and_hash(src, dst, algos, label=label, durable=durable, progress=progress)


def copy_named(
    keys: Sequence[str],
    src_root: str,
    dst_root: str,
    *,
    linked: Callable[[str], str | None],
    prefix: str = "",
    algorithms: Iterable[str] = ALGORITHMS,
    workers: int | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    alongside: Callable[[], None] | None = None,
) -> dict[str, FileDigest]:
    """:func:`copy_files` of each key's source to ``dst_root/prefix+key``, named ``prefix+key`` in errors: the
    source is ``linked(key)``, or ``src_root/key`` when that is None; digests by key, in the keys' order. The
    pool's items are the keys themselves (with the source only for a linked file): CRLM's 17,836 (source,
    destination, label) strings and job tuples, held through the copy, and the copies of the digests by other
    keys were 8 MiB of its package's peak."""
    copy = functools.partial(_copy_key, src_root=src_root, dst_root=dst_root, prefix=prefix,
                             algos=tuple(algorithms), durable=durable)  # fmt: skip

    def item(key: str) -> str | tuple[str, str]:
        src = linked(key)
        return key if src is None else (key, src)

    def size(key: str) -> int:
        return _size(linked(key) or os.path.join(src_root, key))

    return _run_items(keys, copy, item, size, workers, progress, alongside)


def _copy_key(item: str | tuple[str, str], *, src_root: str, dst_root: str, prefix: str, algos: tuple[str, ...],
              durable: bool, progress: Progress | None = None) -> FileDigest:  # fmt: skip
    key, src = (item, os.path.join(src_root, item)) if isinstance(item, str) else item
    name = prefix + key
    return copy_and_hash(src, os.path.join(dst_root, name), algos, label=name, durable=durable, progress=progress)


Job = tuple[Callable[..., FileDigest], tuple[Any, ...]]


def _apply(job: Job, progress: Progress | None = None) -> FileDigest:
    fn, args = job
    return fn(*args, progress=progress)


def _run(
    jobs: Mapping[K, Job],
    workers: int | None,
    progress: Progress | None,
    size_of: Callable[[K], int],
    alongside: Callable[[], None] | None = None,
) -> dict[K, FileDigest]:
    return _run_items(list(jobs), _apply, jobs.__getitem__, size_of, workers, progress, alongside)


def _run_items(
    keys: Sequence[K],
    func: Callable[..., FileDigest],
    item_of: Callable[[K], Any],
    size_of: Callable[[K], int],
    workers: int | None,
    progress: Progress | None,
    alongside: Callable[[], None] | None = None,
) -> dict[K, FileDigest]:
    """``func(item_of(key))`` for every key, on the pool or serially; digests by key, in the keys' order."""
    out: dict[K, Any] = dict.fromkeys(keys)  # in the keys' order, filled as the digests come
    serial = workers is not None and workers <= 1 or len(keys) < 2
    sizes = {} if serial else {key: size_of(key) for key in keys}
    if serial or _serial(workers, sizes.values(), len(keys)):
        for key in keys:
            out[key] = func(item_of(key), progress=progress)
        if alongside is not None:
            alongside()
        return out
    # largest first: the pool finishes together instead of waiting for one late big file
    order = sorted(keys, key=sizes.__getitem__, reverse=True)  # (stable: ties keep the keys' order)
    del sizes
    n = workers or default_workers()
    results = map_files(func, [item_of(k) for k in order], n)
    if alongside is not None:
        results = _beside(results, alongside)
    for key, digest in zip(order, results, strict=True):
        out[key] = digest  # a worker's typed error is re-raised here and stops the pool
        if progress is not None:
            progress(digest.size)
    return out


def _beside(results: Iterator[R], work: Callable[[], None]) -> Iterator[R]:
    """``results`` of the pool, with ``work`` done in this process once the first has come (by then the pool
    holds every task, and its workers go on while this process works)."""
    first = next(results, _NONE)
    work()
    if first is not _NONE:
        yield first
        yield from results


_NONE: Any = object()


def _digest_or_reason(path: str, root: str, algos: tuple[str, ...]) -> FileDigest | str:
    try:
        with _io.open_read(f"{root}/{path}" if root else path) as fh:
            return hash_stream(fh, algos)
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def iter_file_digests(
    paths: Sequence[str],
    algorithms: Iterable[str] = ALGORITHMS,
    *,
    workers: int | None = None,
    total_bytes: int | None = None,
    progress: Progress | None = None,
    root: str = "",
) -> Iterator[FileDigest | str]:
    """The digests of ``paths``, in their order, streamed one by one (nothing is kept here).

    ``root``: the folder ``paths`` are relative to (``/`` separators), joined where each file is opened, so a
    caller holding the relative names (a bag's 17,840 manifest entries) need not hold a copy of each in full.

    An unreadable file yields the reason (a ``str``) instead of raising, so a verifier can report
    it and go on. Serial for one worker, or fewer than ``PARALLEL_MIN_FILES`` files holding fewer than
    ``PARALLEL_MIN_BYTES`` in all (``total_bytes``, when the caller knows it); else on
    :func:`isaprofile.engine.map_files`.
    """
    algos = tuple(algorithms)
    n = default_workers() if workers is None else workers
    small = total_bytes is not None and _small(len(paths), total_bytes)
    if n <= 1 or len(paths) < 2 or small:
        for path in paths:
            try:
                with _io.open_read(f"{root}/{path}" if root else path) as fh:
                    yield hash_stream(fh, algos, progress=progress)
            except OSError as exc:
                yield exc.strerror or type(exc).__name__
        return
    # the items are the caller's own path strings: a (root, path, algorithms) tuple for each was 1 MiB for CRLM
    for result in map_files(functools.partial(_digest_or_reason, root=root, algos=algos), paths, n):
        if progress is not None and isinstance(result, FileDigest):
            progress(result.size)
        yield result
