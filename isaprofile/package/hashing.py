"""Checksums: every file read once, in chunks, all digests in the same pass, over worker processes.

Public API::

    hash_file(path, algorithms=ALGORITHMS) -> FileDigest
    copy_and_hash(src, dst, algorithms=ALGORITHMS, *, label=None, durable=True) -> FileDigest
    hash_files(paths: Mapping[K, Path], *, algorithms, workers=None, progress=None) -> dict[K, FileDigest]
    copy_files(pairs: Mapping[K, tuple[Path, Path]], *, algorithms, workers=None, progress=None,
               durable=True) -> dict[K, FileDigest]

``progress`` is called with a number of bytes each time more bytes are done (per chunk when
serial, per file when parallel), so a CLI can drive a tqdm bar in bytes with rate and ETA.
Memory per worker is one chunk (1 MiB) whatever the file size. Source read errors raise
:class:`~isaprofile.package.errors.InputVanishedError`; destination errors raise
:class:`~isaprofile.package.errors.DiskFullError` (ENOSPC) or ``WriteFailedError``.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from isaprofile.package import _io
from isaprofile.package.errors import DiskFullError, InputVanishedError, PackageError, WriteFailedError

ALGORITHMS: tuple[str, ...] = ("sha256", "sha512")
CHUNK = 1 << 20
#: below this many bytes in all, a process pool costs more than it saves
PARALLEL_MIN_BYTES = 16 << 20

K = TypeVar("K", bound=Hashable)
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The size of a file and its hex digests, keyed by algorithm name."""

    size: int
    digests: dict[str, str]


def _new(algorithms: Iterable[str]) -> list[tuple[str, hashlib._Hash]]:
    return [(name, hashlib.new(name)) for name in algorithms]


def hash_stream(
    fh: BinaryIO, algorithms: Iterable[str] = ALGORITHMS, *, progress: Progress | None = None
) -> FileDigest:
    """Digest everything readable from ``fh`` in one pass, one chunk in memory at a time."""
    hashers = _new(algorithms)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    while True:
        n = fh.readinto(view) if hasattr(fh, "readinto") else _read_into(fh, view)
        if not n:
            break
        chunk = view[:n]
        for _, h in hashers:
            h.update(chunk)
        size += n
        if progress is not None:
            progress(n)
    return FileDigest(size, {name: h.hexdigest() for name, h in hashers})


def _read_into(fh: BinaryIO, view: memoryview) -> int:
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
    hashers = _new(algorithms)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
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
            while True:
                try:
                    n = fh.readinto(view)
                except OSError as exc:
                    raise InputVanishedError(str(src), reason=exc.strerror or "read failed") from None
                if not n:
                    break
                chunk = view[:n]
                for _, h in hashers:
                    h.update(chunk)
                _write(out, chunk, name)
                size += n
                if progress is not None:
                    progress(n)
            if size != expected:
                raise InputVanishedError(str(src), reason="the file changed size while it was read")
            if durable:
                _sync(out, name)
        finally:
            os.close(out)
    return FileDigest(size, {n: h.hexdigest() for n, h in hashers})


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
    """The number of worker processes used when none is given: one per CPU."""
    return os.cpu_count() or 1


def _serial(workers: int | None, sizes: Iterable[int], count: int) -> bool:
    workers = default_workers() if workers is None else workers
    return workers <= 1 or count < 2 or sum(sizes) < PARALLEL_MIN_BYTES


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
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
    sizes = {key: _size(Path(p)) for key, p in paths.items()}
    return _run(jobs, sizes, workers, progress)


def copy_files(
    pairs: Mapping[K, tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    *,
    algorithms: Iterable[str] = ALGORITHMS,
    workers: int | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    labels: Mapping[K, str] | None = None,
) -> dict[K, FileDigest]:
    """Copy-and-digest many ``(src, dst)`` pairs in parallel; each source is read exactly once."""
    algos = tuple(algorithms)
    jobs = {}
    for key, (src, dst) in pairs.items():
        label = labels.get(key) if labels else None
        jobs[key] = (_copy_job, (Path(src), Path(dst), algos, label, durable))
    sizes = {key: _size(Path(src)) for key, (src, _) in pairs.items()}
    return _run(jobs, sizes, workers, progress)


def _copy_job(
    src: Path,
    dst: Path,
    algos: tuple[str, ...],
    label: str | None,
    durable: bool,
    progress: Progress | None = None,
) -> FileDigest:
    return copy_and_hash(src, dst, algos, label=label, durable=durable, progress=progress)


def _run(
    jobs: Mapping[K, tuple[Callable[..., FileDigest], tuple]],
    sizes: Mapping[K, int],
    workers: int | None,
    progress: Progress | None,
) -> dict[K, FileDigest]:
    out: dict[K, FileDigest] = {}
    if _serial(workers, sizes.values(), len(jobs)):
        for key, (fn, args) in jobs.items():
            out[key] = fn(*args, progress=progress)
        return out
    n = min(workers or default_workers(), len(jobs))
    # largest first: the pool finishes together instead of waiting for one late big file
    order = sorted(jobs, key=lambda k: -sizes[k])
    with ProcessPoolExecutor(max_workers=n) as pool:
        futures: dict[Future[FileDigest], K] = {pool.submit(jobs[k][0], *jobs[k][1]): k for k in order}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    digest = fut.result()  # re-raises a worker's typed error
                    out[futures[fut]] = digest
                    if progress is not None:
                        progress(digest.size)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return {key: out[key] for key in jobs}
