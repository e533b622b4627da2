"""A per-file cache of the header pass, so a re-run reads only the files that changed.

The header pass (:func:`isaprofile.harvest.images.harvest_files`: one DICOM / NIfTI header parse per file
plus the PHI gate's inspection of the same header) dominates ``validate`` on a large dataset, and
curators re-run it after every fix of a sheet. Its result per file is a small picklable value; this
module keeps those results in SQLite (the standard library's :mod:`sqlite3`) and hands them back when
the file is provably the one that was read.

Where
    One database per dataset root, in the user's cache folder: ``$ISAPROFILE_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/isaprofile``, else ``~/.cache/isaprofile`` (``%LOCALAPPDATA%\\isaprofile\\cache`` on
    Windows); the file is ``headers-<first 24 hex digits of the SHA-256 of the resolved root>.sqlite``.
    Never inside the dataset, for two reasons. The entries are pickles, and unpickling runs code: a
    ``.isaprofile/cache.sqlite`` that a downloaded (hostile) dataset ships would run its author's code
    on the curator's machine. And the entries hold header values, identifying ones included (the PHI
    gate's findings carry the patient names and IDs it saw, to check file names against them): in the
    dataset folder they would travel with every copy of it. So the folder is created mode 0700, each
    database mode 0600, and a folder or database that is not the user's own, or that others may write,
    is not used (POSIX). Since the cache is outside the dataset, it can never enter a package's
    payload or the PHI gate's stray-file checks. Deleting the folder (or one file) is always safe.

Entries
    The files of one folder are read, grouped and stored together, as a *run* (:func:`runs_of`: at most
    :data:`RUN_FILES` consecutive files of one folder). Each run has two entries: the run's fold (its
    DICOM series, finished, and its NIfTI items), used when every file of the run is unchanged,
    and the list of its files' results, from which a run with a changed file takes the others' results,
    reading only that file (:func:`cached_runs`). One entry per series folder instead of one per file
    makes a re-run load a few hundred entries for CRLM's 17,836 files, and the database a fifth of the size.
    Both are keyed by the run's first file, so a file added in front of a folder's first one, or the first
    one removed (or, in a folder of more than :data:`RUN_FILES` files, any file added or removed, moving
    the later runs' bounds), makes the runs concerned read whole once.

Key
    A file's result is returned only when all of these are unchanged: its path relative to the root,
    the reader kind, the file's size, ``st_mtime_ns``, ``st_ctime_ns``, inode and device,
    the sidecar's relative path and the same stat of it (NIfTI), and the *fingerprint* of the pass: the
    cache schema number, isaprofile's version and a digest of its own source files, the versions of
    Python, pydicom, nibabel and numpy, and a canonical description of the ``inspect`` hook (for the
    pipeline: the PHI policy of ``isaprofile.yaml`` and every subject ID the dataset knows). Any
    mismatch is a miss. The ctime makes the key hold against tools that restore a file's mtime after
    changing it (``touch -r``, ``rsync -t``): the kernel sets ctime on every change, and nobody can set
    it back. An entry is not stored while the file is younger (by mtime or ctime) than the file
    system's timestamp resolution (:data:`RACY_NS`), so a change in the same clock tick as the read
    cannot leave a stale entry behind (git's "racy clean" problem).

Robustness
    A database that is not SQLite, has a foreign schema, is locked or cannot be written is never a
    traceback and never changes a report: the run goes on as without the cache (with one
    :class:`CacheWarning` at most), and a broken database file is replaced by a fresh one when
    possible. Writes are batched in transactions; the database runs in WAL mode with a busy timeout,
    so concurrent runs on one dataset do not corrupt it. Lookups go per batch of runs: memory does not
    grow with the size of the database. At most :data:`KEEP_FINGERPRINTS` fingerprints (e.g. with and
    without the PHI gate) are kept per database; older ones are pruned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import gc
import hashlib
import json
import os
import pickle
import sqlite3
import stat as stat_module
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CacheWarning",
    "HeaderCache",
    "cache_dir",
    "cache_path",
    "cached_runs",
    "describe",
    "fingerprint",
]

SCHEMA = 1  # bump when the layout of the database or of a stored result changes
RACY_NS = 2_000_000_000  # FAT's 2-second mtime is the coarsest a local file system has
KEEP_FINGERPRINTS = 3
RUN_FILES = 512  # files in one run entry at most (cached_runs): one changed file reloads no more than this
LOOKUP_BATCH = 500  # keys per SELECT (below SQLite's oldest limit on bound parameters, 999)
STORE_BATCH = 256  # entries per write transaction
BUSY_MS = 5000
# task: (kind, root, relative path, sidecar relative path), as isaprofile.harvest.images.collect_files makes them
Task = tuple[str, str, str, str | None]

_TABLES = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE runs (fingerprint TEXT PRIMARY KEY, used_ns INTEGER NOT NULL)",
    "CREATE TABLE entries (fingerprint TEXT NOT NULL, rel TEXT NOT NULL, stamp TEXT NOT NULL, "
    "result BLOB NOT NULL, PRIMARY KEY (fingerprint, rel))",
)
# what unpickling a damaged or outdated entry can raise: the entry is then a miss
_LOAD_ERRORS = (pickle.UnpicklingError, zlib.error, EOFError, AttributeError, ImportError, IndexError, TypeError,
                ValueError)  # fmt: skip


class CacheWarning(UserWarning):
    """The header cache could not be used (the run goes on without it)."""


class Unfingerprintable(TypeError):
    """A value with no canonical description (a lambda, a closure, an arbitrary object)."""


# ---------------------------------------------------------------- where


def cache_dir() -> Path:
    """The folder of the cache databases (see the module docstring)."""
    if os.environ.get("ISAPROFILE_CACHE_DIR"):
        return Path(os.environ["ISAPROFILE_CACHE_DIR"])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "isaprofile" / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "isaprofile"


def cache_path(root: str | os.PathLike[str]) -> Path:
    """The database of the dataset at ``root`` (one per resolved root)."""
    digest = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:24]
    return cache_dir() / f"headers-{digest}.sqlite"


# ---------------------------------------------------------------- fingerprint


def describe(obj: Any) -> Any:
    """A canonical, JSON-serialisable description of ``obj``: equal for equal configurations in every
    process (sets are sorted, so string hash randomisation does not matter). Functions are named by
    module and qualified name; ``functools.partial`` objects and dataclasses by their parts. Raises
    :class:`Unfingerprintable` for anything else (a lambda or closure has no stable name)."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return ["float", repr(obj)]
    if isinstance(obj, bytes):
        return ["bytes", obj.hex()]
    if isinstance(obj, enum.Enum):
        return ["enum", _name(type(obj)), describe(obj.value)]
    if isinstance(obj, list | tuple):
        return [type(obj).__name__, [describe(x) for x in obj]]
    if isinstance(obj, set | frozenset):
        return ["set", sorted((describe(x) for x in obj), key=_canonical)]
    if isinstance(obj, dict):
        return ["dict", sorted(([describe(k), describe(v)] for k, v in obj.items()), key=_canonical)]
    if isinstance(obj, functools.partial):
        return ["partial", describe(obj.func), describe(obj.args), describe(obj.keywords)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: describe(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return ["dataclass", _name(type(obj)), describe(fields)]
    if callable(obj) and hasattr(obj, "__qualname__") and hasattr(obj, "__module__"):
        return ["function", _name(obj)]
    raise Unfingerprintable(f"no canonical description of a {type(obj).__name__}")


def _name(obj: Any) -> str:
    qual = getattr(obj, "__qualname__", "")
    if not qual or "<" in qual:  # <lambda>, <locals>: not the same object in another run
        raise Unfingerprintable(f"{qual or obj!r} has no stable name")
    return f"{obj.__module__}:{qual}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@functools.cache
def _code_digest() -> str:
    """A digest of isaprofile's own source files: results made by other code are never reused."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    # from the installed distributions' metadata: importing the readers would cost a DICOM-only run nibabel
    # and a NIfTI-only run pydicom (0.3 s)
    from importlib.metadata import version

    from isaprofile import __version__

    return {"isaprofile": __version__, "python": sys.version.split()[0],
            **{name: version(name) for name in ("pydicom", "nibabel", "numpy")}}  # fmt: skip


def fingerprint(inspect: Any = None, **extra: Any) -> str:
    """The fingerprint of a header pass run with the ``inspect`` hook (see the module docstring).
    Raises :class:`Unfingerprintable` when the hook has no canonical description."""
    doc = {"schema": SCHEMA, "code": _code_digest(), "versions": _versions(), "inspect": describe(inspect),
           "extra": describe(extra)}  # fmt: skip
    return hashlib.sha256(_canonical(doc).encode()).hexdigest()


# ---------------------------------------------------------------- stamps


def _stat_part(path: str) -> tuple[str, int]:
    """``size:mtime_ns:ctime_ns:ino:dev`` of ``path`` and its youngest timestamp."""
    st = os.stat(path)
    youngest = max(st.st_mtime_ns, st.st_ctime_ns)
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}", youngest


def stamp(task: Task) -> tuple[str, int] | None:
    """What must be unchanged for ``task``'s stored result to hold, and the youngest timestamp in it;
    None when a file cannot be stat'ed (it is then always read, and its finding reported)."""
    kind, root, rel, side_rel = task
    try:
        own, young = _stat_part(os.path.join(root, rel))
        if side_rel is None:
            return f"{kind}|{own}", young
        side_part, side_young = _stat_part(os.path.join(root, side_rel))
    except OSError:
        return None
    return f"{kind}|{own}|{side_rel}|{side_part}", max(young, side_young)


# ---------------------------------------------------------------- the database


def _private(path: Path, *, folder: bool) -> str | None:
    """Why ``path`` (which exists) may not hold the user's cache, or None when it may (POSIX only). The
    folder may be a symbolic link (its target is checked); a database may not."""
    if not hasattr(os, "geteuid"):
        return None
    st = os.stat(path) if folder else os.lstat(path)
    if stat_module.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if folder != stat_module.S_ISDIR(st.st_mode):
        return "it is not a folder" if folder else "it is not a file"
    if st.st_uid != os.geteuid():
        return "it belongs to another user"
    if st.st_mode & (stat_module.S_IWGRP | stat_module.S_IWOTH):
        return "other users may write to it"
    return None


class HeaderCache:
    """The cache database of one dataset root and one fingerprint. Use :meth:`open`, which gives None
    (after at most one :class:`CacheWarning`) when the database cannot be used."""

    def __init__(self, conn: sqlite3.Connection, fp: str, path: Path) -> None:
        self.conn = conn
        self.fingerprint = fp
        self.path = path
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self._broken = False

    # -- opening

    @classmethod
    def open(cls, root: str | os.PathLike[str], fp: str) -> HeaderCache | None:
        """The cache of ``root`` for runs with fingerprint ``fp``, or None if it cannot be used."""
        path = cache_path(root)
        try:
            return cls._open(path, fp, os.path.realpath(root))
        except (OSError, sqlite3.Error) as exc:
            _warn(path, f"{type(exc).__name__}: {exc}")
            return None

    @classmethod
    def _open(cls, path: Path, fp: str, root: str) -> HeaderCache | None:
        folder = path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        why = _private(folder, folder=True)
        if why is None and os.path.lexists(path):
            why = _private(path, folder=False)
        if why is not None:
            _warn(path, why)
            return None
        _create(path)
        try:
            conn = cls._connect(path)
        except sqlite3.DatabaseError as exc:
            if not _broken(exc):
                raise  # busy, read-only, out of space: not the database's fault, so leave it be
            # not a database, or one with a foreign schema: ours by its name, so start afresh
            _warn(path, f"{exc}; starting a new one")
            _remove(path)
            _create(path)
            conn = cls._connect(path)
        cache = cls(conn, fp, path)
        try:
            cache._begin_run(root)
        except BaseException:
            conn.close()
            raise
        return cache

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            with _transaction(conn):  # one run at a time creates the tables
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not tables:
                    for sql in _TABLES:
                        conn.execute(sql)
                    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                elif tables != {"meta", "runs", "entries"}:
                    raise ForeignSchema("tables of another schema")
                else:
                    row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
                    if row is None or row[0] != str(SCHEMA):
                        raise ForeignSchema(f"cache schema {row[0] if row else 'unknown'}, not {SCHEMA}")
                    conn.execute("SELECT fingerprint, rel, stamp, result FROM entries LIMIT 0").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _begin_run(self, root: str) -> None:
        now = time.time_ns()
        with _transaction(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (root,))
            self.conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (self.fingerprint, now))
            old = [r[0] for r in self.conn.execute("SELECT fingerprint FROM runs ORDER BY used_ns DESC LIMIT -1 "
                                                   "OFFSET ?", (KEEP_FINGERPRINTS,))]  # fmt: skip
            for fp in old:
                self.conn.execute("DELETE FROM entries WHERE fingerprint = ?", (fp,))
                self.conn.execute("DELETE FROM runs WHERE fingerprint = ?", (fp,))

    def close(self) -> None:
        self.conn.close()

    # -- use

    def _failed(self, exc: BaseException) -> None:
        if not self._broken:
            _warn(self.path, f"{type(exc).__name__}: {exc}")
        self._broken = True

    def lookup(self, stamped: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The stored values of ``(key, stamp)`` pairs whose stamp matches, by key."""
        wanted = dict(stamped)
        out: dict[str, Any] = {}
        with _no_collector():
            for key, found, blob in self._rows(list(wanted)):
                if found == wanted[key] and (value := _unpacked(blob)) is not _DAMAGED:
                    out[key] = value
        return out

    def lookup_files(
        self, lists: Sequence[tuple[str, dict[str, str]]], adopt: Callable[[Any], Any] | None = None
    ) -> dict[str, Any]:
        """The stored results of files from the stored file lists (:func:`cached_runs`) of ``(key, {rel:
        stamp})`` pairs: each file's result whose stamp matches, by rel (through ``adopt`` when given). A
        list is unpacked only when some of its files match."""
        wanted = dict(lists)
        out: dict[str, Any] = {}
        with _no_collector():
            for key, found, blob in self._rows(list(wanted)):
                now = wanted[key]
                try:
                    stored = json.loads(found)
                except ValueError:
                    continue
                # a damaged row may hold any JSON: only a list of [rel, stamp] pairs is read
                if not isinstance(stored, list) or not all(isinstance(e, list) and len(e) == 2 for e in stored):
                    continue
                if not any(now.get(rel) == st for rel, st in stored):
                    continue
                results = _unpacked(blob)
                if not isinstance(results, list) or len(results) != len(stored):
                    continue  # damaged: read the run's files again (and store them anew)
                for (rel, st), result in zip(stored, results, strict=True):
                    if st is not None and now.get(rel) == st:
                        out[rel] = adopt(result) if adopt is not None else result
        return out

    def _rows(self, keys: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
        """The stored ``(key, stamp, value)`` rows of ``keys`` (none once the database failed)."""
        for start in range(0, len(keys) if not self._broken else 0, LOOKUP_BATCH):
            batch = keys[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            try:
                rows = self.conn.execute(f"SELECT rel, stamp, result FROM entries WHERE fingerprint = ? "
                                         f"AND rel IN ({marks})", (self.fingerprint, *batch)).fetchall()  # fmt: skip
            except sqlite3.Error as exc:
                self._failed(exc)
                return
            yield from rows

    @staticmethod
    def pack(result: Any) -> bytes:
        """The stored form of a result (taken when it is made: the caller may change the object later)."""
        return zlib.compress(pickle.dumps(result, protocol=5), 1)

    def store(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        """Store ``(rel, stamp, packed result)`` rows in one transaction (nothing once the database failed)."""
        if self._broken:
            return
        data = [(self.fingerprint, rel, st, blob) for rel, st, blob in rows]
        if not data:
            return
        try:
            with _transaction(self.conn):
                self.conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", data)
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        self.stored += len(data)


_DAMAGED = object()


def _unpacked(blob: bytes) -> Any:
    """A stored value (:meth:`HeaderCache.pack`), or ``_DAMAGED`` when it cannot be loaded (then a miss)."""
    try:
        return pickle.loads(zlib.decompress(blob))
    except _LOAD_ERRORS:
        return _DAMAGED


@contextlib.contextmanager
def _no_collector() -> Iterator[None]:
    """The loaded values are kept: the collector's passes over the growing heap would only cost time (2/3 of it)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (readers never wait for a writer). Two runs switching a new database at
    once get SQLITE_BUSY at once, without the busy handler: that one is waited out here too."""
    deadline = time.monotonic() + BUSY_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class ForeignSchema(sqlite3.DatabaseError):
    """A database without this module's tables, or of another schema number."""


def _broken(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the database file itself is unusable (and may be replaced)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, ForeignSchema) or code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def _create(path: Path) -> None:
    """An empty database file readable by its owner alone (SQLite gives its WAL files the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600))
    except FileExistsError:
        pass  # there already, or another run made it just now


def _remove(path: Path) -> None:
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            name.unlink()
        except FileNotFoundError:
            pass


def _warn(path: Path, why: str) -> None:
    warnings.warn(f"isaprofile header cache {path} not used: {why}", CacheWarning, stacklevel=3)


# ---------------------------------------------------------------- the header pass with the cache


def runs_of(tasks: Sequence[Task]) -> list[range]:
    """The runs of ``tasks``: consecutive tasks in one folder (by relative path), at most :data:`RUN_FILES`
    each. (A folder with subfolders can make several runs: ``a/r``, ``a/sub/q``, ``a/t`` sort so.)"""
    runs: list[range] = []
    start, folder = 0, None
    for i, task in enumerate(tasks):
        here = task[2].rpartition("/")[0]
        if i and (here != folder or i - start >= RUN_FILES):
            runs.append(range(start, i))
            start = i
        folder = here
    if tasks:
        runs.append(range(start, len(tasks)))
    return runs


# a run read in a worker (read_run): its fold, or (with the cache) a pair: the stored forms of its fold and of its
# results
RunResult = Any


def read_run(
    tasks: Sequence[Task], read: Callable[[Task], Any], fold: Callable[[list[Any]], Any], pack: bool
) -> RunResult:
    """Read the files of one run and fold their results (runs in worker processes). With ``pack`` it gives
    the stored forms (:meth:`HeaderCache.pack`) of the fold and of the list of the files' results instead,
    made here in parallel rather than in the main process, which unpacks the fold and stores both."""
    results = [read(t) for t in tasks]
    part = fold(results)
    return (HeaderCache.pack(part), HeaderCache.pack(results)) if pack else part


def cached_runs(
    cache: HeaderCache | None,
    tasks: Sequence[Task],
    run: Callable[[Sequence[Task]], Iterable[Any]],
    run_whole: Callable[[list[Sequence[Task]], bool], Iterable[RunResult]],
    fold: Callable[[list[Any]], Any],
    adopt: Callable[[Any], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    """``(files, fold(results))`` for each run of ``tasks`` (:func:`runs_of`), in order: ``fold`` merges the
    results of one run's files (in task order) into one picklable value, e.g. the run's DICOM series.

    The cache keeps two entries per run, under its first file's relative path with a suffix no file's path
    has: the fold (``a/1.dcm/``), stamped with a digest of all its files' stamps, and the list of the files'
    results (``a/1.dcm/*``), stamped with each file's own. A re-run loads the fold of an unchanged run (a
    series folder) and folds nothing; of a run with a changed file it takes the others' results from the list
    and reads that file alone with ``run(tasks)`` (one result per task, in order; ``adopt(result)`` may rework
    a loaded one), then folds. A run none of whose files the cache holds is read whole by ``run_whole(runs,
    pack)``, which yields :func:`read_run`'s result for each (on a pool, the workers fold and pack). Without
    a cache every run is read whole.
    """
    runs = runs_of(tasks)
    if cache is None:
        for r, part in zip(runs, run_whole([tasks[r.start : r.stop] for r in runs], False), strict=True):
            yield len(r), part
        return
    started = time.time_ns()
    fresh_before = started - RACY_NS  # younger files are read but not stored (a change in the same tick)
    stamps = [stamp(t) for t in tasks]
    keys: list[tuple[str, str, bool]] = []  # per run: key, digest of its stamps, whether it may be stored
    for r in runs:
        digest, storable = hashlib.sha256(), True
        for i in r:
            st = stamps[i]
            digest.update(f"{tasks[i][2]}\0{st[0] if st else ''}\0".encode())
            storable = storable and st is not None and st[1] < fresh_before
        keys.append((tasks[r[0]][2] + "/", digest.hexdigest(), storable))
    held = cache.lookup([(key, digest) for key, digest, _ in keys])
    missed = [n for n, k in enumerate(keys) if k[0] not in held]
    files = cache.lookup_files([(keys[n][0] + "*", {tasks[i][2]: st[0] for i in runs[n] if (st := stamps[i])})
                                for n in missed], adopt)  # fmt: skip
    some = [n for n in missed if any(tasks[i][2] in files for i in runs[n])]
    hits = len(files) + sum(len(r) for r, k in zip(runs, keys, strict=True) if k[0] in held)
    cache.hits += hits
    cache.misses += len(tasks) - hits
    pending: list[tuple[str, str, bytes]] = []

    def keep(n: int, packed: bytes, listed: bytes) -> None:
        key, digest, storable = keys[n]
        if storable:
            pending.append((key, digest, packed))
        # each file's own stamp, or null (never matched) for one too young or gone
        own = [[tasks[i][2], st[0] if st and st[1] < fresh_before else None] for i in runs[n] for st in [stamps[i]]]
        pending.append((key + "*", json.dumps(own), listed))
        if len(pending) >= STORE_BATCH:
            cache.store(pending)
            pending.clear()

    # first the runs with some files held (few: those with a changed file), so that one pool at a time runs
    partly: dict[int, Any] = {}
    todo = [tasks[i] for n in some for i in runs[n] if tasks[i][2] not in files]
    read = iter(run(todo) if todo else ())
    for n in some:
        results = [files.pop(tasks[i][2]) if tasks[i][2] in files else next(read) for i in runs[n]]
        partly[n] = fold(results)
        keep(n, HeaderCache.pack(partly[n]), HeaderCache.pack(results))
    for _ in read:
        raise RuntimeError("more results than tasks")
    whole = iter(run_whole([tasks[runs[n].start : runs[n].stop] for n in missed if n not in partly], True))
    for n, r in enumerate(runs):
        key = keys[n][0]
        if key in held:
            yield len(r), held.pop(key)
        elif n in partly:
            yield len(r), partly.pop(n)
        else:
            packed, listed = next(whole)
            keep(n, packed, listed)
            yield len(r), pickle.loads(zlib.decompress(packed))
    cache.store(pending)
