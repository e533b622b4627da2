"""Harvest the headers of image files: walk folders, dispatch by file type, group, check.

:func:`harvest_files` is the entry point: DICOM files (by the "DICM" prefix at byte 128, or read by
force when they look like DICOM without it) are grouped into series; ``.nii`` / ``.nii.gz`` files are
read with their JSON sidecar (same stem, ``.json``); other JSON files are left alone (they are not
images); any other file is skipped with a ``not-dicom`` finding. Files are read serially or on a
process pool (:func:`isaprofile.engine.map_files`); results are the same either way.
"""

from __future__ import annotations

import functools
import itertools
import os
import posixpath
import stat
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isaprofile.cache import CacheWarning, HeaderCache, Unfingerprintable, cached_runs, fingerprint, read_run
from isaprofile.engine import map_files
from isaprofile.findings.issues import Issue, Report
from isaprofile.harvest.config import dataset_inputs
from isaprofile.harvest.mapping import to_profile_values
from isaprofile.harvest.nifti import Inspect, is_nifti, nifti_stem, read_nifti_file
from isaprofile.harvest.readers import load_readers
from isaprofile.harvest.types import HarvestedImage, Segment

if TYPE_CHECKING:
    from isaprofile.harvest.series import SeriesGroups, SeriesPart

__all__ = ["HarvestedImage", "Segment", "collect_files", "harvest_files", "to_profile_values"]

SKIPPED_NAMES = {"DICOMDIR", "Thumbs.db"}
POOL_MIN_FILES = 256  # with the cache: fewer files left to read than this are read in this process
# kind ("dicom" | "nifti"), the root (one string shared by all), relative path, sidecar relative path; the
# absolute paths are joined where the file is opened (holding both forms of CRLM's 17,840 paths was 3.5 MiB)
Task = tuple[str, str, str, str | None]
# wraps the header pass's stream of one item per file (e.g. a tqdm bar over it: the items themselves are
# internal); byte/file counters use isaprofile.progress.Progress
ResultWrapper = Callable[[Iterable[Any], int], Iterable[Any]]


def _rel(path: str, root: str) -> str:
    if path.startswith(root) and path[len(root) : len(root) + 1] == os.sep:  # the common case, 20x cheaper
        return path[len(root) + 1 :].replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")


def _absolute(path: str) -> str:
    """``os.path.abspath(path)``, the same string when it is absolute and normal already: a dataset's harvest
    names its 17,840 files that way, and abspath would make a copy of each (3 MiB on CRLM)."""
    if os.sep == "/" and path.startswith("/") and not path.endswith(("/", "/.", "/..")):
        if "//" not in path and "/./" not in path and "/../" not in path:
            return path
    return os.path.abspath(path)


def _root_of(paths: Sequence[str]) -> str:
    if len(paths) == 1:
        return paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0]) or "."
    parents = [p if os.path.isdir(p) else os.path.dirname(p) or "." for p in paths]
    return os.path.commonpath([os.path.abspath(p) for p in parents])


def _walk(path: str) -> list[str]:
    out: list[str] = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(folder, f) for f in sorted(files) if not f.startswith("."))
    return out


def collect_files(
    paths_or_root: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    root: str | None = None,
    *,
    relative: bool = False,
) -> tuple[str, list[Task]]:
    """The harvest root and the files to read under it, sorted by relative path, sidecars attached.

    ``paths_or_root`` is a folder (walked recursively, hidden entries skipped), a file, or several of
    those; without ``root`` the root is the folder, or the common folder of the paths given. A folder that is
    a dataset (it has an ``isaprofile.yaml``) leaves out its other inputs: the config, the sheets and workbook
    it names, TCIA's lists (:func:`isaprofile.harvest.config.dataset_inputs`). With ``relative``, the paths
    are names of files relative to ``root`` (``/`` separators), taken as they are: the tasks hold those very
    strings (a dataset's harvest names its files so, and a copy of each was 2.4 MiB for CRLM).
    """
    if isinstance(paths_or_root, str | os.PathLike):
        given = [os.fspath(paths_or_root)]
    else:
        given = [os.fspath(p) for p in paths_or_root]
    if not given:
        raise ValueError("no paths to harvest")
    if relative:
        base = os.path.abspath(root if root is not None else ".")
        names = sorted(set(given))
        skip: set[str] = set()
    else:
        folders = set()
        for p in given:  # one stat each
            try:
                if stat.S_ISDIR(os.stat(p).st_mode):
                    folders.add(p)
            except OSError:
                raise FileNotFoundError(p) from None
        base = os.path.abspath(root if root is not None else _root_of(given))
        skip = {_rel(str(f), base) for p in folders for f in dataset_inputs(Path(os.path.abspath(p)))}
        # a walk from an absolute folder names its files absolutely already (abspath per file was 50 ms on CRLM)
        files = {f for p in given for f in (_walk(os.path.abspath(p)) if p in folders else [_absolute(p)])}
        names = sorted(_rel(f, base) for f in files)
        del files
    jsons = {f for f in names if f.lower().endswith(".json")}
    tasks: list[Task] = []
    for f in names:
        if f in jsons or posixpath.basename(f) in SKIPPED_NAMES or f in skip:
            continue
        if is_nifti(f):
            side = posixpath.join(posixpath.dirname(f), nifti_stem(f) + ".json")
            has = side in jsons or (not jsons and os.path.isfile(os.path.join(base, side)))
            tasks.append(("nifti", base, f, side if has else None))
        else:
            tasks.append(("dicom", base, f, None))
    return base, tasks


def read_one(task: Task, inspect: Inspect | None = None) -> tuple[str, Any]:
    """Read one file of :func:`collect_files` (runs in worker processes)."""
    kind, root, rel, side_rel = task
    path = os.path.join(root, rel)
    if kind == "nifti":
        side = os.path.join(root, side_rel) if side_rel is not None else None
        return kind, read_nifti_file(path, rel, side, side_rel, inspect)
    from isaprofile.harvest.dicom import read_dicom_file  # pydicom (0.3 s to import) only where DICOM is read

    return kind, read_dicom_file(path, rel, inspect)


def harvest_files(
    paths_or_root: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    workers: int = 1,
    progress: ResultWrapper | None = None,
    root: str | None = None,
    inspect: Inspect | None = None,
    cache: bool = False,
    relative: bool = False,
) -> tuple[list[HarvestedImage], Report]:
    """Harvest the image headers under ``paths_or_root``: one item per DICOM series, SEG or NIfTI file.

    ``workers`` > 1 reads files on that many processes; ``progress(iterable, total)`` may wrap the
    stream of one item per file (e.g. a tqdm bar). Paths in items and findings are relative to
    ``root`` (default: see :func:`collect_files`). Bad files become findings in the report; the
    harvest of the other files goes on. Raises ``FileNotFoundError`` for a path that does not exist.
    ``inspect(kind, parsed header, rel)`` (picklable) runs on each header in the same read; its results
    are the items' ``inspected``. ``cache``: take the results of files unchanged since an earlier run
    from the header cache (:mod:`isaprofile.cache`: a folder whose files are all unchanged at once, its
    series finished), read only the others, and store their results; ``stats["cache"]`` then counts
    the files whose results came from it and the others. ``relative``: the paths are files named relative to
    ``root`` (see :func:`collect_files`).
    """
    base, tasks = collect_files(paths_or_root, root, relative=relative)
    reader = read_one if inspect is None else functools.partial(read_one, inspect=inspect)
    store = _open_cache(base, inspect) if cache else None

    def pool(files: int) -> int:
        # a pool pays off only past a few hundred files; with most files cached, fewer are left to read
        few = store is not None and files < len(tasks) and files < POOL_MIN_FILES
        return 1 if few else workers

    def run(todo: Sequence[Task]) -> Iterable[tuple[str, Any]]:
        load_readers({t[0] for t in todo})
        return map_files(reader, todo, pool(len(todo)))

    def run_whole(runs: list[Sequence[Task]], pack: bool) -> Iterable[Any]:
        load_readers({t[0] for r in runs for t in r})
        read = functools.partial(read_run, read=reader, fold=_fold, pack=pack)
        return map_files(read, runs, pool(sum(map(len, runs))))

    def ticks() -> Iterator[Any]:  # one item per file for the progress wrapper: a run's fold, then None
        done = 0
        for files, part in cached_runs(store, tasks, run, run_whole, _fold, _shared):
            _own_paths(part, tasks[done : done + files])
            done += files
            yield part
            yield from itertools.repeat(None, files - 1)

    parts: Iterable[Any] = ticks() if progress is None else progress(ticks(), len(tasks))
    groups: SeriesGroups | None = None  # the DICOM series, merged run by run
    items: list[HarvestedImage] = []
    found: list[Issue] = []
    try:
        for part in parts:
            if part is None:
                continue
            series, nifti = part
            if series is not None:
                if groups is None:
                    from isaprofile.harvest.series import SeriesGroups

                    groups = SeriesGroups()
                groups.merge(series)
            for item, issues in nifti:
                found.extend(issues)
                if item is not None:
                    items.append(item)
    finally:
        if store is not None:
            store.close()
    if groups is not None:
        from isaprofile.harvest.series import check_seg_sources

        series_items, series_issues = groups.finish()
        found.extend(series_issues)
        items.extend(series_items)
        items.sort(key=lambda i: i.path)
        found.extend(check_seg_sources(items))
    else:
        items.sort(key=lambda i: i.path)
    stats: dict[str, Any] = {
        "files": len(tasks),
        "dicom_series": sum(i.kind == "dicom-series" for i in items),
        "dicom_seg": sum(i.kind == "dicom-seg" for i in items),
        "nifti": sum(i.kind == "nifti" for i in items),
    }
    if store is not None:
        stats["cache"] = {"hits": store.hits, "misses": store.misses}
    return items, Report(found, stats)


def _fold(results: list[tuple[str, Any]]) -> tuple[SeriesPart | None, list[tuple[HarvestedImage | None, list[Issue]]]]:
    """One run's results (a folder's files, :func:`isaprofile.cache.runs_of`) as the header cache keeps them:
    its DICOM series, finished (:meth:`SeriesGroups.part`), and its NIfTI items with their findings."""
    nifti = [result for kind, result in results if kind != "dicom"]
    if len(nifti) == len(results):
        return None, nifti
    from isaprofile.harvest.series import SeriesGroups

    groups = SeriesGroups()
    for kind, result in results:
        if kind == "dicom":
            groups.add(result)
    return groups.part(), nifti


def _own_paths(part: tuple[SeriesPart | None, list[tuple[HarvestedImage | None, list[Issue]]]],
               run: Sequence[Task]) -> None:  # fmt: skip
    """Let the items of one run's fold name their files with the tasks' own path strings. The fold comes
    from a worker or the cache, as a copy of each; this process holds the tasks' for the whole pass, so
    keeping both was one more copy of every path (CRLM's 17,836 slices: 3.3 MiB; ENHANCE: NIfTI files and
    sidecars alike)."""
    series, nifti = part
    own = {t[2]: t[2] for t in run}
    own.update((t[3], t[3]) for t in run if t[3] is not None)
    for item in itertools.chain((d.item for d in series[1].values()) if series is not None else (),
                                (item for item, _ in nifti if item is not None)):  # fmt: skip
        item.paths = [own.get(p, p) for p in item.paths]
        if item.sidecar is not None:
            item.sidecar = own.get(item.sidecar, item.sidecar)
        if item.inspected:
            item.inspected = {own.get(p, p): facts for p, facts in item.inspected.items()}


def _short(text: Any) -> Any:
    return sys.intern(text) if type(text) is str and len(text) <= 80 else text


def _shared(result: tuple[str, Any]) -> tuple[str, Any]:
    """A cached DICOM record with one copy of each field name across records (as one process's reads share
    them). Its header values are left as unpickled: :class:`~isaprofile.harvest.series.SeriesGroups` keeps
    them only for a series' first instance, and shares the consistent ones itself."""
    kind, rec = result
    if kind != "dicom":
        return result
    rec = {sys.intern(k): v for k, v in rec.items()}
    if rec.get("geo"):
        rec["geo"] = {sys.intern(k): v for k, v in rec["geo"].items()}
    rec["uid"] = _short(rec.get("uid"))  # a series' UID, in each of its slices
    return kind, rec


def _open_cache(base: str, inspect: Inspect | None) -> HeaderCache | None:
    """The header cache of ``base`` for this ``inspect`` hook; None when the hook has no canonical
    description (e.g. a lambda: its results cannot be told apart from another's) or the cache is unusable."""
    try:
        fp = fingerprint(inspect)
    except Unfingerprintable:
        return None
    except OSError as exc:  # isaprofile's own source files cannot be read (a frozen or zipped install)
        warnings.warn(f"isaprofile header cache not used: {exc}", CacheWarning, stacklevel=3)
        return None
    return HeaderCache.open(base, fp)
