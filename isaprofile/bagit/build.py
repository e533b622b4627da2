"""Atomic, reproducible BagIt package builds.

Public API::

    build_bag(dest, payload, metadata, *, bag_info, zip=False, workers=None, progress=None,
              algorithms=("sha256", "sha512"), bagging_date=None, extra_tags=None,
              durable=True) -> BuildResult
    populate_bag(folder, payload, metadata, *, bag_info, ...) -> Mapping[str, FileDigest]
    write_payload(folder, payload, metadata, ...) / write_tags(folder, digests, *, bag_info, ...)
    atomic_publish(dest, fill) -> Path
    cleanup_leftovers(dest) -> list[Path]

``payload`` maps a path inside ``data/`` to the source file it is copied from (copied in 1 MiB
chunks and digested in the same read; sources are never modified, moved or linked).
``metadata`` maps a path inside ``data/`` to generated content (ISA-Tab, JSON-LD, README ...): bytes, or a
:data:`Chunks` producer (a function returning an iterable of bytes) for a large file, which is then made
while it is written and digested, never held whole in memory.
``bag_info`` holds the caller's bag-info.txt fields (Source-Organization, External-Description,
...); Bagging-Date (``bagging_date``, default ``SOURCE_DATE_EPOCH`` or today), Payload-Oxum and
Bag-Software-Agent are set here. ``extra_tags`` adds tag files beside bagit.txt (for example a
record of the PHI allow-list exceptions that were applied); they are covered by the tag manifests.

The build happens in ``.<name>.isaprofile-tmp-<pid>`` beside ``dest`` (same file system). Every
file and folder is fsynced, then the result is renamed into place; a previous package is renamed
aside first and removed last. An interrupted build leaves either no package or the previous one;
the next build (or :func:`cleanup_leftovers`) removes what an interrupted one left and puts an
aside package back if the new one never arrived.

Bad input paths (unsafe names, collisions, symlinks, devices) are findings: the build returns a
:class:`BuildResult` whose ``path`` is ``None`` and writes nothing. Failures that stop a running
build raise a :class:`~isaprofile.bagit.errors.PackageError` subclass (input vanished, disk
full, write failed) after the temporary folder is removed.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
import shutil
import sys
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isaprofile.bagit import _io
from isaprofile.bagit.errors import DestinationNotPackageError, PackageError, WriteFailedError
from isaprofile.bagit.hashing import ALGORITHMS, FileDigest, copy_named, digest_chunks, hash_bytes, io_error
from isaprofile.bagit.paths import Sources, check_paths
from isaprofile.bagit.tags import DECLARATION, PAYLOAD_DIR, tag_contents, tag_manifests
from isaprofile.bagit.ziputil import write_zip
from isaprofile.findings.issues import Report, issue
from isaprofile.progress import Progress

Chunks = Callable[[], Iterable[bytes]]  # a large generated file, made as it is written
Content = bytes | Chunks


class Separate:
    """A :data:`Chunks` producer that may be written by a process of its own while this one copies the payload
    and writes the rest: a child forked from this process, so it makes the file from the same objects and
    the same bytes. ENHANCE's ISA-JSON (247 MB, 2.5 s) is one: the crate, which needs the payload's digests,
    is then written beside it on the other core.

    Only on Linux, with more than one worker, and when this process runs no other thread at that moment
    (a fork copies no thread, and a lock another one held would stay locked in the child); otherwise, and
    for anyone who calls it, it is an ordinary producer, written here.
    """

    __slots__ = ("make",)

    def __init__(self, make: Chunks) -> None:
        self.make = make

    def __call__(self) -> Iterable[bytes]:
        return self.make()


LateMetadata = Callable[[Mapping[str, FileDigest]], Mapping[str, Content]]  # payload path -> digest => files
LateBagInfo = Callable[[Mapping[str, FileDigest]], Mapping[str, str]]  # bag path -> digest => bag-info values

TMP_TAG = "isaprofile-tmp"
OLD_TAG = "isaprofile-old"
PARTS_INDEX = "parts-index.json"


@dataclass
class BuildResult:
    """What a build produced: the package path (``None`` when refused), the preflight findings,
    and the digests of every payload file keyed by its path in the bag (``data/...``)."""

    path: Path | None
    report: Report = field(default_factory=Report)
    digests: Mapping[str, FileDigest] = field(default_factory=dict)

    @property
    def payload_bytes(self) -> int:
        return sum(d.size for d in self.digests.values())


def _leftover_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.({TMP_TAG}|{OLD_TAG})-(\d+)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def cleanup_leftovers(dest: str | os.PathLike[str]) -> list[Path]:
    """Remove what interrupted builds of ``dest`` left beside it; returns the paths removed.

    A previous package that was renamed aside is put back when ``dest`` is missing (the new one
    never arrived). Leftovers of a build whose process is still running are left alone.
    """
    dest = Path(dest).absolute()
    if not dest.parent.is_dir():
        return []
    pattern = _leftover_re(dest.name)
    removed: list[Path] = []
    for entry in sorted(dest.parent.iterdir()):
        m = pattern.match(entry.name)
        if not m or _alive(int(m.group(2))):
            continue
        if m.group(1) == OLD_TAG and not dest.exists() and not dest.is_symlink():
            os.replace(entry, dest)
            _io.fsync_dir(dest.parent)
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def _check_replaceable(dest: Path) -> None:
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_symlink():
        raise DestinationNotPackageError(str(dest))
    if dest.is_dir():
        if (dest / DECLARATION).is_file() or (dest / PARTS_INDEX).is_file() or not any(dest.iterdir()):
            return
        raise DestinationNotPackageError(str(dest))
    if dest.is_file() and zipfile.is_zipfile(dest):
        return
    raise DestinationNotPackageError(str(dest))


def atomic_publish(dest: str | os.PathLike[str], fill: Callable[[Path], Path], *, sync_all: bool = False) -> Path:
    """Build ``dest`` atomically: ``fill(staging_dir)`` writes the package (a folder or a file)
    inside the staging folder and returns its path; it is then renamed to ``dest``. With ``sync_all``
    the staged files are flushed by one :func:`~isaprofile.bagit._io.sync_filesystem` (``fill`` did not
    fsync them); else ``fill`` flushed its files and the folders are fsynced here.

    Any exception removes the staging folder and leaves the previous ``dest`` in place. ``OSError``
    becomes a typed :class:`PackageError`.
    """
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    cleanup_leftovers(dest)
    _check_replaceable(dest)
    stage = dest.parent / f".{dest.name}.{TMP_TAG}-{os.getpid()}"
    aside = dest.parent / f".{dest.name}.{OLD_TAG}-{os.getpid()}"
    _remove(stage)
    stage.mkdir()
    try:
        try:
            built = fill(stage)
            if sync_all:
                _io.sync_filesystem(stage)
            else:
                _sync_tree(stage)
            _swap(built, dest, aside)
        except OSError as exc:
            raise io_error(exc, str(dest)) from None
    except BaseException:
        if aside.exists():
            if dest.exists():
                _remove(aside)  # the new package was renamed in: the build is committed
            else:
                os.replace(aside, dest)
        _remove(stage)
        raise
    _remove(stage)
    if aside.exists() or aside.is_symlink():
        _remove(aside)
    return dest


def _swap(built: Path, dest: Path, aside: Path) -> None:
    if built.is_dir() and (dest.exists() or dest.is_symlink()):
        _io.replace(dest, aside)  # a folder cannot replace a folder in one rename
    _io.replace(built, dest)
    _io.fsync_dir(dest.parent)


def _sync_tree(root: Path) -> None:
    """fsync every folder below ``root`` (deepest first), so new entries are on disk."""
    folders = [Path(d) for d, _, _ in os.walk(root)]
    for folder in sorted(folders, key=lambda p: -len(p.parts)):
        _io.fsync_dir(folder)


def write_payload(
    folder: Path,
    payload: Mapping[str, str | os.PathLike[str]],
    metadata: Mapping[str, Content],
    *,
    algorithms: Sequence[str] = ALGORITHMS,
    workers: int | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    late_metadata: LateMetadata | None = None,
) -> Mapping[str, FileDigest]:
    """Create ``folder/data`` holding the copied payload and the metadata bytes; returns the
    digests keyed by path in the bag (``data/...``), sorted (a read-only mapping).

    The metadata is written while the pool copies the payload (ENHANCE's ISA-JSON alone is seconds of this
    process's time, which the copy would otherwise wait for). ``late_metadata(digests)`` makes metadata that
    needs the payload's digests (an RO-Crate with each file's sha256) from the digests computed while copying,
    so no file is read a second time; it is written after the copy.
    """
    folder.mkdir()
    data = folder / PAYLOAD_DIR
    data.mkdir()
    for parent in sorted({posixpath.dirname(rel) for rel in payload} - {""}):  # each folder once
        (data / parent).mkdir(parents=True, exist_ok=True)
    # the pool's items and the digests' keys are the payload's own strings (a "data/" copy of each of CRLM's
    # 17,836 paths, held to the end, was 2.4 MiB); the bag's names are made when asked for (_InBag)
    if isinstance(payload, Sources):
        src_root, linked = payload.root, payload.linked
    else:
        src_root, linked = "", lambda rel: os.fspath(payload[rel])
    written: dict[str, FileDigest] = {}

    def write(entries: Mapping[str, Content]) -> None:
        for rel, content in sorted(entries.items()):
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            written[rel] = _write_content(data / rel, content, f"{PAYLOAD_DIR}/{rel}", durable, algorithms)

    separate = {rel: c for rel, c in metadata.items() if isinstance(c, Separate)}
    writer = _SeparateWriter.start(data, separate, durable, algorithms) if _may_fork(separate, workers) else None
    try:
        rest = {rel: c for rel, c in metadata.items() if writer is None or rel not in separate}
        digests = copy_named(list(payload), src_root, os.fspath(folder), linked=linked, prefix=f"{PAYLOAD_DIR}/",
                             algorithms=algorithms, workers=workers, progress=progress, durable=durable,
                             alongside=lambda: write(rest))  # fmt: skip
        if late_metadata is not None:
            late = late_metadata(digests)  # (the payload's digests only, by path in the payload)
            clash = sorted(set(late) & ({*metadata} | {*payload}))
            if clash:
                raise ValueError(f"late metadata would overwrite {', '.join(clash)}")
            write(late)
        if writer is not None:
            strip = len(PAYLOAD_DIR) + 1
            written.update({key[strip:]: d for key, d in writer.result().items()})
    finally:
        if writer is not None:
            writer.stop()
    digests.update(written)
    return _InBag(digests)


class _InBag(Mapping[str, FileDigest]):
    """Digests by path in the payload, named by path in the bag (``data/...``) in sorted order; a bag name is
    made when it is asked for, not held."""

    _PREFIX = f"{PAYLOAD_DIR}/"

    def __init__(self, digests: Mapping[str, FileDigest]) -> None:
        self._digests = digests
        self._order = sorted(digests)  # the same order as the names' (they share their first five characters)

    def __getitem__(self, key: str) -> FileDigest:
        found = self._digests.get(key[len(self._PREFIX) :]) if key.startswith(self._PREFIX) else None
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        prefix = self._PREFIX
        return (prefix + rel for rel in self._order)

    def __len__(self) -> int:
        return len(self._order)


def _may_fork(separate: Mapping[str, Content], workers: int | None) -> bool:
    return (
        bool(separate)
        and sys.platform.startswith("linux")
        and (workers is None or workers > 1)
        and (threading.active_count() == 1)
    )


class _SeparateWriter:
    """The forked child that writes the :class:`Separate` metadata files, and what it sends back: each file's
    digest, or the :class:`~isaprofile.bagit.errors.PackageError` that stopped it (raised here, as if the
    file had been written here), or the traceback of a bug."""

    def __init__(self, proc: Any, conn: Any, names: list[str]) -> None:
        self.proc, self.conn, self.names = proc, conn, names

    @classmethod
    def start(
        cls, data: Path, entries: Mapping[str, Content], durable: bool, algorithms: Sequence[str]
    ) -> _SeparateWriter:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        for rel in entries:
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
        jobs = [(data / rel, f"{PAYLOAD_DIR}/{rel}", entries[rel]) for rel in sorted(entries)]
        proc = ctx.Process(target=_write_separately, args=(send, jobs, durable, tuple(algorithms)), daemon=True)
        proc.start()  # the jobs (closures over the dataset's model) are the child's by the fork, not pickled
        send.close()
        return cls(proc, receive, [key for _, key, _ in jobs])

    def result(self) -> dict[str, FileDigest]:
        try:
            kind, value = self.conn.recv()
        except EOFError:  # the child ended without a word: killed (out of memory, a signal)
            self.proc.join()
            raise WriteFailedError(
                ", ".join(self.names), reason=f"its writer process ended (exit code {self.proc.exitcode})"
            ) from None
        if kind == "error":
            raise value
        if kind == "bug":
            raise RuntimeError(f"writing {', '.join(self.names)} failed in its own process:\n{value}")
        written: dict[str, FileDigest] = value
        return written

    def stop(self) -> None:
        if self.proc.is_alive():  # the build stopped first: the child's file is in the folder being discarded
            self.proc.terminate()
        self.proc.join()
        self.conn.close()


def _write_separately(
    send: Any, jobs: list[tuple[Path, str, Content]], durable: bool, algorithms: Sequence[str]
) -> None:
    """The child's work (see :class:`_SeparateWriter`)."""
    import traceback

    try:
        out = {key: _write_content(path, content, key, durable, algorithms) for path, key, content in jobs}
        send.send(("ok", out))
    except PackageError as exc:
        send.send(("error", exc))
    except BaseException:  # a bug: its traceback goes to the parent, which raises it (no finding)
        send.send(("bug", traceback.format_exc()))
    finally:
        send.close()


def write_tags(
    folder: Path,
    digests: Mapping[str, FileDigest],
    *,
    bag_info: Mapping[str, str | Sequence[str]],
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, Content] | None = None,
    durable: bool = True,
) -> None:
    """Write bagit.txt, bag-info.txt, the manifests, ``extra_tags`` and the tag manifests."""
    tags = tag_contents(digests, bag_info, algorithms=algorithms, bagging_date=bagging_date, extra_tags=extra_tags)
    written: dict[str, FileDigest] = {}
    for name, content in tags:  # a payload manifest streamed and digested as it is written
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        written[name] = _write_content(folder / name, content, name, durable, algorithms)
    for name, data in tag_manifests(written, algorithms).items():
        _write(folder / name, data, name, durable)


def populate_bag(
    folder: Path,
    payload: Mapping[str, str | os.PathLike[str]],
    metadata: Mapping[str, Content],
    *,
    bag_info: Mapping[str, str | Sequence[str]],
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, Content] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    late_metadata: LateMetadata | None = None,
    late_bag_info: LateBagInfo | None = None,
) -> Mapping[str, FileDigest]:
    """Write a complete bag into the new folder ``folder``; returns payload digests (``data/...``)."""
    digests = write_payload(
        folder, payload, metadata, algorithms=algorithms, workers=workers, progress=progress, durable=durable,
        late_metadata=late_metadata,
    )  # fmt: skip
    if late_bag_info is not None:
        bag_info = {**bag_info, **late_bag_info(digests)}
    write_tags(
        folder, digests, bag_info=bag_info, algorithms=algorithms, bagging_date=bagging_date,
        extra_tags=extra_tags, durable=durable,
    )  # fmt: skip
    return digests


def _write(path: Path, content: bytes, label: str, durable: bool) -> None:
    try:
        _io.write_file(path, content, durable=durable)
    except OSError as exc:
        raise io_error(exc, label) from None


def _write_content(path: Path, content: Content, label: str, durable: bool, algorithms: Sequence[str]) -> FileDigest:
    """Write one metadata file and digest it; a :data:`Chunks` producer is streamed, chunk by chunk."""
    if isinstance(content, bytes):
        _write(path, content, label, durable)
        return hash_bytes(content, algorithms)
    try:
        fd = _io.create(path)
        try:
            digest = digest_chunks(content(), lambda chunk: _io.write_all(fd, chunk), algorithms)
            if durable:
                _io.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise io_error(exc, label) from None
    return digest


def preflight(payload: Mapping[str, str | os.PathLike[str]], metadata: Mapping[str, Content]) -> Report:
    """Path-safety findings for a build: unsafe names, collisions, unusable sources."""
    report = check_paths([*payload, *(k for k in metadata if k not in payload)], sources=payload)
    for rel in sorted(set(payload) & set(metadata)):
        report.add(issue("path-collision", path=rel, other="a generated metadata file of the same name"))
    return report


def build_bag(
    dest: str | os.PathLike[str],
    payload: Mapping[str, str | os.PathLike[str]],
    metadata: Mapping[str, Content] | None = None,
    *,
    bag_info: Mapping[str, str | Sequence[str]],
    zip: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    algorithms: Sequence[str] = ALGORITHMS,
    bagging_date: dt.date | None = None,
    extra_tags: Mapping[str, Content] | None = None,
    durable: bool = True,
    late_metadata: LateMetadata | None = None,
    late_bag_info: LateBagInfo | None = None,
) -> BuildResult:
    """Build a BagIt package at ``dest`` (a folder, or a zip file when ``zip``) atomically.

    ``late_metadata`` makes metadata files from the payload digests computed while copying (see
    :func:`write_payload`); ``late_bag_info`` adds bag-info values made from all payload digests.

    Returns a :class:`BuildResult`; when the preflight report has errors nothing is written and
    ``result.path`` is ``None``. Raises a :class:`PackageError` subclass when the build had to
    stop (nothing half-written remains; a previous package at ``dest`` is kept).
    """
    metadata = metadata or {}
    report = preflight(payload, metadata)
    if not report.valid:
        return BuildResult(None, report)
    dest = Path(dest).absolute()
    root = dest.name[:-4] if zip and dest.name.lower().endswith(".zip") else dest.name
    digests: Mapping[str, FileDigest] = {}
    sync_all = durable and _io.can_sync_filesystem()
    per_file = durable and not sync_all

    def fill(stage: Path) -> Path:
        nonlocal digests
        bag = stage / root
        digests = populate_bag(
            bag, payload, metadata, bag_info=bag_info, algorithms=algorithms,
            bagging_date=bagging_date, extra_tags=extra_tags, workers=workers,
            progress=progress, durable=per_file, late_metadata=late_metadata,
            late_bag_info=late_bag_info,
        )  # fmt: skip
        if not zip:
            return bag
        out = stage / f"{root}.zip"
        write_zip(bag, out, root=root, durable=per_file)
        return out

    atomic_publish(dest, fill, sync_all=sync_all)
    report.stats.update(payload_files=len(digests), payload_bytes=sum(d.size for d in digests.values()))
    return BuildResult(dest, report, digests)


__all__ = [
    "BuildResult",
    "atomic_publish",
    "build_bag",
    "cleanup_leftovers",
    "populate_bag",
    "write_payload",
    "write_tags",
    "preflight",
]
