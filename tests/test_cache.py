"""The header cache (isaprofile.cache): a re-run reads only the files that changed, with the same report.

Reads are counted with an audit hook on "open" (every ``open()`` of a file raises it, whichever library
opens it), so "reads no image" means no image file was opened at all.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from click.testing import CliRunner

import isaprofile
from isaprofile import cache
from isaprofile.cli.main import cli
from isaprofile.pipeline import check

ROOT = Path(__file__).resolve().parents[1]
IMAGES = (".dcm", ".nii", ".nii.gz")

_recording: list[tuple[Path, collections.Counter[str]]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _recording or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    for base, counter in _recording:
        if path.startswith(str(base) + os.sep):
            counter[Path(path).relative_to(base).as_posix()] += 1


sys.addaudithook(_hook)


@contextlib.contextmanager
def opens(base: Path) -> Iterator[collections.Counter[str]]:
    """The files under ``base`` opened in this process meanwhile, with how often."""
    counter: collections.Counter[str] = collections.Counter()
    _recording.append((base.resolve(), counter))
    try:
        yield counter
    finally:
        _recording.pop()


def images(counter: collections.Counter[str]) -> dict[str, int]:
    return {k: v for k, v in counter.items() if k.endswith(IMAGES)}


def report_doc(checked: Any) -> dict[str, Any]:
    """The report as ``--format json`` gives it, without the cache's counters."""
    doc = checked.report.to_dict()
    doc["stats"].pop("cache", None)
    return doc


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The copies are seconds old: let their entries be stored (one test checks the window itself)."""
    monkeypatch.setattr(cache, "RACY_NS", 0)


def dicoms(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm"))


# ---------------------------------------------------------------- re-runs


@pytest.mark.parametrize("name", ["crlm-ct", "enhance-petct"])
def test_a_second_validate_gives_the_same_report_and_opens_no_image(name: str, tmp_path: Path) -> None:
    src = Path(shutil.copytree(ROOT / "examples" / name, tmp_path / name))
    first = check(src)
    n = first.report.stats["files"]
    assert n >= 15 and first.report.stats["cache"] == {"hits": 0, "misses": n}
    with opens(src) as seen:
        second = check(src)
    assert images(seen) == {}
    assert second.report.stats["cache"] == {"hits": n, "misses": 0}
    assert report_doc(second) == report_doc(first)
    assert report_doc(second) == report_doc(check(src, cache=False))
    assert second.investigation == first.investigation
    assert second.payload == first.payload
    assert second.phi is not None and first.phi is not None
    assert second.phi.exceptions == first.phi.exceptions


def test_a_rewritten_image_is_the_only_file_read_again_and_its_new_value_is_reported(crlm: Path) -> None:
    first = check(crlm)
    assert "series-inconsistent" not in first.report.codes()
    series = sorted(p for p in dicoms(crlm) if "seg" not in p.as_posix().lower())
    target = series[1]  # not the first of its series, whose values stand for the series
    ds = pydicom.dcmread(target)
    assert ds.KVP != 99
    ds.KVP = 99  # same length on disk is not needed: the key holds size, mtime, ctime and inode
    ds.save_as(target)
    rel = target.relative_to(crlm).as_posix()
    with opens(crlm) as seen:
        second = check(crlm)
    assert images(seen) == {rel: 1}
    assert second.report.stats["cache"] == {"hits": 14, "misses": 1}
    found = [i for i in second.report if i.code == "series-inconsistent"]
    assert [(i.file, i.path) for i in found] == [(rel, "(0018,0060) KVP")]
    assert "99" in found[0].message
    assert report_doc(second) == report_doc(check(crlm, cache=False))


def test_folder_entries_give_what_reading_every_file_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache keeps a run of files (consecutive in one folder) as one entry with its series grouped: a
    series spread over folders, two series in one folder, a subfolder splitting its parent's run and runs cut
    at RUN_FILES merge into the items and findings a read of every file gives."""
    from isaprofile.harvest.images import harvest_files

    src = ROOT / "examples" / "crlm-ct"
    one, two, three = (sorted((src / f"CRLM-CT-100{n}").rglob("*.dcm")) for n in (1, 2, 3))
    layout = {  # CRLM-CT-1001: its SEG sorts first, then slices 1-4
        "a/1-001.dcm": one[1], "a/1-002.dcm": one[2], "a/sub/1-003.dcm": one[3], "a/z-seg.dcm": one[0],
        "b/1-004.dcm": one[4], **{f"b/1002-{i}.dcm": f for i, f in enumerate(two)},
        **{f"c/1003-{i}.dcm": f for i, f in enumerate(three)},
    }  # fmt: skip
    root = tmp_path / "data"
    for rel, source in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / rel)
    ds = pydicom.dcmread(root / "b" / "1-004.dcm")  # the spread series' last slice disagrees with its first
    ds.KVP = 99
    ds.save_as(root / "b" / "1-004.dcm")
    monkeypatch.setattr(cache, "RUN_FILES", 3)
    tasks = isaprofile.harvest.images.collect_files(root)[1]
    assert [len(r) for r in cache.runs_of(tasks)] == [2, 1, 1, 3, 3, 3, 2]

    def harvest() -> tuple[Any, list[Any], dict[str, Any]]:
        items, report = harvest_files(root, cache=True)
        return items, report.issues, report.stats.pop("cache")

    plain_items, plain_report = harvest_files(root)
    # and what grouping every record at once gives (SeriesGroups.add alone, no runs, no merging of parts)
    from isaprofile.harvest.dicom import read_dicom_file
    from isaprofile.harvest.series import check_seg_sources, group_series

    grouped, grouped_issues = group_series(read_dicom_file(os.path.join(t[1], t[2]), t[2]) for t in tasks)
    assert plain_items == grouped and plain_report.issues == grouped_issues + check_seg_sources(grouped)
    assert [(i.code, i.file) for i in plain_report.issues] == [("series-inconsistent", "b/1-004.dcm")]
    first = harvest()
    assert first[2] == {"hits": 0, "misses": 15}
    with opens(root) as seen:
        second = harvest()
    assert images(seen) == {} and second[2] == {"hits": 15, "misses": 0}
    (root / "b" / "1-004.dcm").touch()
    with opens(root) as seen:
        third = harvest()
    assert images(seen) == {"b/1-004.dcm": 1} and third[2] == {"hits": 14, "misses": 1}
    for items, issues, _counts in (first, second, third):
        assert items == plain_items and issues == plain_report.issues
    spread = next(i for i in plain_items if i.kind == "dicom-series" and i.paths[0] == "a/1-001.dcm")
    assert spread.paths == ["a/1-001.dcm", "a/1-002.dcm", "a/sub/1-003.dcm", "b/1-004.dcm"]
    assert spread.values["NumberOfInstances"].value == 4


def test_a_touched_file_is_read_again_and_the_report_stays_the_same(enhance: Path) -> None:
    first = check(enhance)
    target = sorted(enhance.rglob("*.nii.gz"))[0]
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with opens(enhance) as seen:
        second = check(enhance)
    assert images(seen) == {target.relative_to(enhance).as_posix(): 1}
    assert report_doc(second) == report_doc(first)


def test_a_changed_sidecar_is_a_miss_for_its_image(enhance: Path) -> None:
    image = sorted((enhance / "imaging-data" / "images").rglob("*.nii.gz"))[0]
    side = image.with_name(image.name.removesuffix(".nii.gz") + ".json")
    side.write_text(json.dumps({"ConversionSoftware": "dcm2niix"}))
    check(enhance)
    side.write_text(json.dumps({"ConversionSoftware": "dcm2niix v1.0.20220720"}))
    with opens(enhance) as seen:
        second = check(enhance)
    assert images(seen) == {image.relative_to(enhance).as_posix(): 1}
    assert second.report.stats["cache"]["misses"] == 1
    assert report_doc(second) == report_doc(check(enhance, cache=False))
    side.unlink()  # no sidecar now: the task itself differs
    with opens(enhance) as seen:
        third = check(enhance)
    assert images(seen) == {image.relative_to(enhance).as_posix(): 1}
    assert report_doc(third) == report_doc(check(enhance, cache=False))


def test_a_restored_mtime_does_not_hide_a_change(crlm: Path) -> None:
    """``touch -r`` / ``rsync -t`` put the old mtime back; the ctime the kernel sets still differs."""
    check(crlm)
    target = dicoms(crlm)[2]
    before = target.stat()
    ds = pydicom.dcmread(target)
    ds.KVP = 98
    ds.save_as(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    with opens(crlm) as seen:
        check(crlm)
    assert images(seen) == {target.relative_to(crlm).as_posix(): 1}


def test_files_younger_than_the_timestamp_resolution_are_not_stored(
    crlm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed in the same clock tick as the read could change again unseen (git's racy clean)."""
    monkeypatch.setattr(cache, "RACY_NS", 10**18)  # every file counts as just written
    check(crlm)
    with opens(crlm) as seen:
        second = check(crlm)
    assert len(images(seen)) == 15 and second.report.stats["cache"] == {"hits": 0, "misses": 15}


# ---------------------------------------------------------------- invalidation by configuration


def _edit_config(root: Path, change: Any) -> None:
    path = root / "isaprofile.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_changed_phi_policy_reads_every_image_again(crlm: Path) -> None:
    first = check(crlm)
    assert first.report.valid and "phi-exception-applied" in first.report.codes()

    def drop_allow(doc: dict[str, Any]) -> None:
        doc["phi"]["allow"] = [a for a in doc["phi"]["allow"] if a["attribute"] != "StudyDescription"]

    _edit_config(crlm, drop_allow)
    with opens(crlm) as seen:
        second = check(crlm)
    assert len(images(seen)) == 15 and second.report.stats["cache"] == {"hits": 0, "misses": 15}
    refused = [i for i in second.report if i.code.startswith("phi-") and i.severity.value == "error"]
    assert refused and all("StudyDescription" in (i.path or "") for i in refused)
    assert report_doc(second) == report_doc(check(crlm, cache=False))


def test_the_subject_ids_are_part_of_the_fingerprint() -> None:
    """The PHI gate accepts a PatientID that is a known subject (a pseudonym): other subjects, other results."""
    from isaprofile.harvest.config import load_config
    from isaprofile.pipeline import _inspector

    config, _ = load_config(ROOT / "examples" / "crlm-ct")
    assert config is not None
    one = cache.fingerprint(_inspector(frozenset({"CRLM-CT-1001", "CRLM-CT-1002"}), config=config))
    same = cache.fingerprint(_inspector(frozenset({"CRLM-CT-1002", "CRLM-CT-1001"}), config=config))
    other = cache.fingerprint(_inspector(frozenset({"CRLM-CT-1001"}), config=config))
    assert one == same != other
    assert cache.fingerprint(None) not in (one, other)


def test_descriptions_do_not_depend_on_string_hashing() -> None:
    """Sets of strings iterate in a per-process order (PYTHONHASHSEED); their description is sorted."""
    code = ("from isaprofile.cache import describe; import json; "
            "print(json.dumps(describe(frozenset('abcdefghij'))))")  # fmt: skip
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        ).stdout  # fmt: skip
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1


def test_a_hook_without_a_stable_name_is_never_cached(crlm: Path) -> None:
    from isaprofile.harvest.images import harvest_files

    with pytest.raises(cache.Unfingerprintable):
        cache.describe(lambda kind, header, rel: None)
    _, report = harvest_files(crlm, cache=True, inspect=lambda kind, header, rel: rel)
    assert "cache" not in report.stats
    assert not list(cache.cache_dir().glob("*.sqlite"))


# ---------------------------------------------------------------- a cache that cannot be used


def _db(root: Path) -> Path:
    return cache.cache_path(root)


def _same_report_with_one_warning(root: Path, expected: dict[str, Any]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checked = check(root)
    assert report_doc(checked) == expected
    assert [w.category for w in caught if issubclass(w.category, cache.CacheWarning)] == [cache.CacheWarning]
    return checked


def test_a_database_of_garbage_is_ignored_and_replaced(crlm: Path) -> None:
    expected = report_doc(check(crlm, cache=False))
    db = _db(crlm)
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    db.write_bytes(os.urandom(4096))
    db.chmod(0o600)
    checked = _same_report_with_one_warning(crlm, expected)
    assert checked.report.stats["cache"] == {"hits": 0, "misses": 15}  # a fresh database took its place
    with opens(crlm) as seen:
        again = check(crlm)
    assert images(seen) == {} and report_doc(again) == expected


def test_a_database_of_another_schema_is_ignored_and_replaced(crlm: Path) -> None:
    expected = report_doc(check(crlm, cache=False))
    db = _db(crlm)
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE entries (key TEXT, value BLOB)")
        conn.execute("INSERT INTO entries VALUES ('x', x'80049500')")
        conn.commit()
    db.chmod(0o600)
    _same_report_with_one_warning(crlm, expected)
    assert check(crlm).report.stats["cache"] == {"hits": 15, "misses": 0}


def test_a_damaged_entry_is_a_miss(crlm: Path) -> None:
    check(crlm)
    seg = next(p for p in dicoms(crlm) if "Segmentation" in str(p)).relative_to(crlm).as_posix()
    series = sorted(p for p in dicoms(crlm) if "Segmentation" not in str(p))[:4]
    first = series[0].relative_to(crlm).as_posix()
    with contextlib.closing(sqlite3.connect(_db(crlm))) as conn:
        # every run's fold damaged: its files' results come from the run's list of them, two lists damaged
        # (an empty zlib stream; a stamp column of JSON that is not [rel, stamp] pairs)
        assert conn.execute("UPDATE entries SET result = x'00' WHERE rel LIKE '%/'").rowcount == 6
        conn.execute("UPDATE entries SET result = x'789c03000000000001' WHERE rel = ?", (seg + "/*",))  # empty zlib
        conn.execute("UPDATE entries SET stamp = '[1, [2]]' WHERE rel = ?", (first + "/*",))  # JSON, not pairs
        conn.commit()
    with opens(crlm) as seen:
        checked = check(crlm)
    damaged = {seg, *(p.relative_to(crlm).as_posix() for p in series)}
    assert images(seen) == dict.fromkeys(damaged, 1) and checked.report.stats["cache"] == {"hits": 10, "misses": 5}
    assert report_doc(checked) == report_doc(check(crlm, cache=False))
    with opens(crlm) as seen:
        assert check(crlm).report.stats["cache"] == {"hits": 15, "misses": 0}  # stored anew
    assert images(seen) == {}


def test_a_locked_database_is_ignored(crlm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    check(crlm)
    expected = report_doc(check(crlm, cache=False))
    monkeypatch.setattr(cache, "BUSY_MS", 50)
    with contextlib.closing(sqlite3.connect(_db(crlm), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another run in the middle of a write
        checked = _same_report_with_one_warning(crlm, expected)
        other.execute("ROLLBACK")
    assert "cache" not in checked.report.stats


def test_a_cache_folder_others_may_write_is_not_used(
    crlm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries are pickles: a folder another user can write could hand us theirs."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("ISAPROFILE_CACHE_DIR", str(shared))
    expected = report_doc(check(crlm, cache=False))
    checked = _same_report_with_one_warning(crlm, expected)
    assert "cache" not in checked.report.stats and not list(shared.iterdir())


def test_the_cache_is_private_and_outside_the_dataset(crlm: Path) -> None:
    before = sorted(p.relative_to(crlm) for p in crlm.rglob("*"))
    checked = check(crlm)
    assert sorted(p.relative_to(crlm) for p in crlm.rglob("*")) == before
    db = _db(crlm)
    assert db.parent == cache.cache_dir() and db.is_file()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert not any(".isaprofile" in p or p.endswith(".sqlite") for p in checked.payload)


def test_the_default_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ISAPROFILE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "isaprofile"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "isaprofile"


# ---------------------------------------------------------------- commands, workers, package, verify


def test_no_cache_reads_every_file_and_the_cli_reports_the_same(crlm: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["validate", str(crlm), "--format", "json", "-q"])
    assert first.exit_code == 0, first.output
    with opens(crlm) as seen:
        plain = runner.invoke(cli, ["validate", str(crlm), "--format", "json", "-q", "--no-cache"])
    assert plain.exit_code == 0
    assert len(images(seen)) == 15
    with opens(crlm) as seen:
        cached = runner.invoke(cli, ["validate", str(crlm), "--format", "json", "-q"])
    assert images(seen) == {}
    a, b = json.loads(plain.stdout), json.loads(cached.stdout)
    assert b["stats"].pop("cache") == {"hits": 15, "misses": 0} and "cache" not in a["stats"]
    assert a == b


def test_the_harvest_command_uses_the_cache_too(crlm: Path) -> None:
    runner = CliRunner()
    args = ["harvest", str(crlm), "--format", "json", "-q"]
    first = runner.invoke(cli, args)
    with opens(crlm) as seen:
        second = runner.invoke(cli, args)
    assert images(seen) == {}
    with opens(crlm) as seen:
        third = runner.invoke(cli, [*args, "--no-cache"])
    assert len(images(seen)) == 15
    docs = [json.loads(r.stdout) for r in (first, second, third)]
    assert [d["report"]["stats"].pop("cache", None) for d in docs] == [
        {"hits": 0, "misses": 16},
        {"hits": 16, "misses": 0},
        None,
    ]  # fmt: skip (15 images and make_example.py; the config, the sheets and TCIA's lists are not harvested)
    assert docs[0] == docs[1] == docs[2]


def test_pool_and_serial_give_the_same_report_with_the_cache(crlm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from isaprofile.harvest import assemble

    serial = report_doc(check(crlm, workers=1, cache=False))
    monkeypatch.setattr(assemble, "PARALLEL_MIN_FILES", 1)  # the example is small: force the pool
    pooled = check(crlm, workers=2)  # fills the cache from the workers' results
    assert pooled.report.stats["cache"] == {"hits": 0, "misses": 15}
    again = check(crlm, workers=1)
    assert again.report.stats["cache"] == {"hits": 15, "misses": 0}
    pooled_again = check(crlm, workers=2)
    assert report_doc(pooled) == report_doc(again) == report_doc(pooled_again) == serial


def test_package_reuses_headers_but_hashes_every_payload_byte(crlm: Path, tmp_path: Path) -> None:
    import hashlib

    check(crlm)
    with opens(crlm) as seen:
        result = isaprofile.package_dataset(crlm, tmp_path / "pkg", workers=1)
    assert result.path is not None
    assert result.report.stats["cache"] == {"hits": 15, "misses": 0}
    assert set(images(seen)) == {p.relative_to(crlm).as_posix() for p in dicoms(crlm)}  # each copied + hashed
    manifest = dict(reversed(line.split(maxsplit=1)) for line in
                    (result.path / "manifest-sha256.txt").read_text().splitlines())  # fmt: skip
    for path in dicoms(crlm):
        rel = "data/" + path.relative_to(crlm).as_posix()
        assert manifest[rel] == hashlib.sha256(path.read_bytes()).hexdigest()
    before = sorted(cache.cache_dir().iterdir())
    assert isaprofile.verify_package(result.path).valid
    assert sorted(cache.cache_dir().iterdir()) == before  # verify reads no header cache and writes none


_RUN = """
import json, sys, warnings
import isaprofile.cache
isaprofile.cache.RACY_NS = 0  # the copy is seconds old
from isaprofile.pipeline import check
warnings.simplefilter("error", isaprofile.cache.CacheWarning)  # a run that cannot use the cache fails here
doc = check(sys.argv[1], workers=1).report.to_dict()
print(json.dumps(doc["stats"].pop("cache")))
print(json.dumps(doc, sort_keys=True))
"""


def test_concurrent_runs_share_one_database_safely(crlm: Path) -> None:
    """Two runs at once on an empty cache: both use it, both give the report, and the database is whole."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _RUN, str(crlm)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _out, err in outs]
    reports = {out.splitlines()[1] for out, _err in outs}
    assert reports == {json.dumps(report_doc(check(crlm, cache=False)), sort_keys=True)}
    with contextlib.closing(sqlite3.connect(_db(crlm))) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        folders = {p.parent for p in dicoms(crlm)}  # a fold and a list of the files' results per series folder
        assert conn.execute("SELECT COUNT(*) FROM entries WHERE rel LIKE '%/'").fetchone() == (len(folders),)
        assert conn.execute("SELECT COUNT(*) FROM entries WHERE rel LIKE '%/*'").fetchone() == (len(folders),)
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone() == (2 * len(folders),)
    assert check(crlm).report.stats["cache"] == {"hits": 15, "misses": 0}


def test_a_package_built_with_cached_headers_is_byte_identical(crlm: Path, tmp_path: Path) -> None:
    """The deposit's validation report leaves out the cache's counters: how a run read the dataset is no
    part of the deposit."""
    cold = isaprofile.package_dataset(crlm, tmp_path / "cold", workers=1)
    warm = isaprofile.package_dataset(crlm, tmp_path / "warm", workers=1)
    assert cold.path is not None and warm.path is not None
    assert (cold.report.stats["cache"], warm.report.stats["cache"]) == ({"hits": 0, "misses": 15},
                                                                       {"hits": 15, "misses": 0})  # fmt: skip

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert files(cold.path) == files(warm.path)
    deposited = json.loads((warm.path / "data" / "metadata" / "validation-report.json").read_text())
    assert "cache" not in deposited["stats"]


def test_unreadable_sources_of_isaprofile_mean_no_cache(crlm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprint hashes isaprofile's own files; an install where they cannot be read runs uncached."""
    from isaprofile.harvest import images

    def unreadable(*_args: Any, **_kw: Any) -> str:
        raise PermissionError("isaprofile/cache.py")

    monkeypatch.setattr(images, "fingerprint", unreadable)
    expected = report_doc(check(crlm, cache=False))
    checked = _same_report_with_one_warning(crlm, expected)
    assert "cache" not in checked.report.stats


def test_a_database_that_is_a_symbolic_link_is_not_used(crlm: Path, tmp_path: Path) -> None:
    """A link could point the cache at a file of someone else's choosing."""
    expected = report_doc(check(crlm, cache=False))
    db = _db(crlm)
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere.sqlite"
    elsewhere.write_bytes(b"")
    db.symlink_to(elsewhere)
    checked = _same_report_with_one_warning(crlm, expected)
    assert "cache" not in checked.report.stats and elsewhere.read_bytes() == b""


def test_records_from_the_cache_share_their_repeated_parts(crlm: Path) -> None:
    # each entry is unpickled alone: the loader gives the slices of a series one copy of what they repeat
    # (field names, the series UID, the applied PHI exceptions), as one process's reads share them; header
    # values are kept only for a series' first instance (SeriesGroups), so they are left as unpickled
    import functools
    import pickle

    from isaprofile.harvest.config import load_config
    from isaprofile.harvest.dicom import read_dicom_file
    from isaprofile.harvest.images import _shared
    from isaprofile.package.phi import PhiPolicy, inspect_header

    config, _ = load_config(crlm)
    assert config is not None
    inspect = functools.partial(inspect_header, policy=PhiPolicy.from_config(config.raw["phi"]))
    slices = [p for p in dicoms(crlm) if "Segmentation" not in str(p)][:2]
    records = [read_dicom_file(str(p), p.relative_to(crlm).as_posix(), inspect) for p in slices]
    loaded = [_shared(pickle.loads(pickle.dumps(("dicom", r))))[1] for r in records]
    assert loaded == records
    a, b = loaded
    assert a["inspected"].exceptions and a["inspected"].exceptions[0] is b["inspected"].exceptions[0]
    assert a["uid"] == b["uid"] and a["uid"] is b["uid"]
    assert next(k for k in a if k == "values") is next(k for k in b if k == "values")
