"""Bag building: BagIt conformance (bagit-python as oracle), tag files, path safety, atomicity."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import bagit as bagit_python
import pytest
from _package_helpers import BAG_INFO, DATE, build, make_sources
from hypothesis import given
from hypothesis import strategies as st

from isaprofile.bagit import (
    DestinationNotPackageError,
    DiskFullError,
    InputVanishedError,
    PackageError,
    _io,
    build_bag,
    cleanup_leftovers,
    hash_files,
    hashing,
    verify_package,
)
from isaprofile.bagit.build import Separate
from isaprofile.bagit.errors import WriteFailedError
from isaprofile.bagit.tags import decode_path, encode_path, manifest_txt, parse_manifest


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "isaprofile-" in p.name)


def test_bagit_python_validates_our_bag(tmp_path: Path) -> None:
    payload = make_sources(tmp_path)
    odd = tmp_path / "src" / "odd"
    odd.mkdir()
    (odd / "half done é.nii").write_bytes(b"nifti")
    payload["odd/half done é.nii"] = odd / "half done é.nii"
    result = build(tmp_path, payload=payload)
    bag = bagit_python.Bag(str(result.path))
    bag.validate()
    assert sorted(bag.algorithms) == ["sha256", "sha512"]
    assert bag.info["Payload-Oxum"] == f"{result.payload_bytes}.{len(payload) + 1}"
    assert verify_package(result.path).issues == []


def test_tag_files_are_exact(tmp_path: Path) -> None:
    result = build(tmp_path)
    root = result.path
    assert (root / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    info = (root / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    assert info[:3] == [
        "Source-Organization: Example University",
        "External-Description: test bag",
        "Bagging-Date: 2024-01-02",
    ]
    assert info[3] == f"Payload-Oxum: {result.payload_bytes}.5"
    assert info[4].startswith("Bag-Software-Agent: isaprofile")
    for name in ("manifest-sha256.txt", "manifest-sha512.txt"):
        lines = (root / name).read_bytes().split(b"\n")
        assert lines[-1] == b"" and b"\r" not in b"".join(lines)
        paths = [line.split(b"  ", 1)[1] for line in lines[:-1]]
        assert paths == sorted(paths) and len(paths) == 5
    tags = (root / "tagmanifest-sha256.txt").read_text().splitlines()
    assert [line.split("  ")[1] for line in tags] == [
        "bag-info.txt", "bagit.txt", "manifest-sha256.txt", "manifest-sha512.txt",
    ]  # fmt: skip
    src = make_sources(tmp_path / "again")["scans/series-0/img-000.dcm"]
    expected = hashlib.sha512(src.read_bytes()).hexdigest()
    assert f"{expected}  data/scans/series-0/img-000.dcm" in (root / "manifest-sha512.txt").read_text()


def test_percent_cr_lf_are_encoded(tmp_path: Path) -> None:
    text = manifest_txt({"data/a%b\r\nc": "ab" * 32})
    assert text == ("ab" * 32 + "  data/a%25b%0D%0Ac\n").encode()
    entries, problems = parse_manifest(io.BytesIO(text))
    assert entries == {"data/a%b\r\nc": "ab" * 32} and problems == []
    src = tmp_path / "p"
    src.write_bytes(b"1")
    # RFC 8493 percent-encodes '%', which bagit-python 1.9 does not decode: the build refuses the name
    result = build_bag(tmp_path / "out", {"100%.dcm": src}, {}, bag_info={}, bagging_date=DATE)
    assert result.path is None and not (tmp_path / "out").exists()
    assert result.report.flatten(("code", "path")) == [("unportable-name", "100%.dcm")]


def test_a_manifest_read_line_by_line_keeps_its_line_numbers_and_leaves_the_file_open() -> None:
    digest = "AB" * 32
    raw = f"{digest}  data/a\r\n\nnot a line\n{digest} *data/b\n{digest}  data/a\n\xff{digest}  x".encode("latin-1")
    fh = io.BytesIO(raw)
    entries, problems = parse_manifest(fh)
    assert entries == {"data/a": digest.lower(), "data/b": digest.lower()}
    assert problems == [
        (3, "expected a hexadecimal digest, whitespace and a path"),
        (5, "data/a is listed twice"),
        (6, "expected a hexadecimal digest, whitespace and a path"),  # not UTF-8: replaced, then refused
    ]
    assert not fh.closed


@given(st.text(min_size=1, max_size=30))
def test_path_encoding_round_trips(name: str) -> None:
    assert decode_path(encode_path(name)) == name
    assert "\n" not in encode_path(name) and "\r" not in encode_path(name)


def test_parallel_hashing_matches_serial_and_reports_progress(tmp_path: Path, monkeypatch) -> None:
    payload = make_sources(tmp_path, n=6, size=50_000)
    serial = hash_files(payload, workers=1)
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    done: list[int] = []
    parallel = hash_files(payload, workers=2, progress=done.append)
    assert parallel == serial
    assert sum(done) == sum(p.stat().st_size for p in payload.values())
    for rel, src in payload.items():
        assert serial[rel].digests["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()


def test_many_small_files_are_copied_on_the_pool_and_few_in_this_process(tmp_path: Path, monkeypatch) -> None:
    """Below 16 MiB in all a pool costs more than it saves, unless the files are many: then opening, creating
    and closing each one is the work (ENHANCE: 14,377 files of 11 MB)."""
    pools: list[int] = []
    real = hashing.map_files

    def counted(func, items, workers=1, chunksize=None):
        pools.append(len(items))
        return real(func, items, workers, chunksize)

    monkeypatch.setattr(hashing, "PARALLEL_MIN_FILES", 40)
    monkeypatch.setattr(hashing, "map_files", counted)
    for n in (39, 40):
        src = tmp_path / f"src{n}"
        src.mkdir()
        pairs = {}
        for i in range(n):
            (src / f"{i}.dat").write_bytes(b"x" * i)
            pairs[i] = (src / f"{i}.dat", tmp_path / f"dst{n}-{i}.dat")
        digests = hashing.copy_files(pairs, workers=2)
        assert [digests[i].size for i in range(n)] == list(range(n))
    assert pools == [40]  # 39 files of a few bytes: copied here; 40: on the pool


def test_parallel_build_is_identical_to_serial(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    payload = make_sources(tmp_path, n=6)
    one = build(tmp_path, "one", payload=payload, workers=1).path
    two = build(tmp_path, "two", payload=payload, workers=2).path
    for name in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha512.txt"):
        assert (one / name).read_bytes() == (two / name).read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_work_alongside_the_copies_runs_once_while_the_pool_copies(tmp_path: Path, monkeypatch, workers: int) -> None:
    """``copy_files(alongside=...)``: the metadata of a bag is written while the pool copies its payload. On a
    pool, the work starts once a copy has come back; serially, after the copies (as before there was a pool)."""
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    payload = make_sources(tmp_path, n=12, size=20_000)
    (tmp_path / "dst").mkdir()
    pairs = {rel: (src, tmp_path / "dst" / rel.replace("/", "_")) for rel, src in payload.items()}
    copied_then: list[int] = []

    def count() -> None:
        copied_then.append(len(list((tmp_path / "dst").iterdir())))

    digests = hashing.copy_files(pairs, workers=workers, alongside=count)
    assert digests == hash_files(payload, workers=1)
    assert len(copied_then) == 1
    assert copied_then[0] == len(pairs) if workers == 1 else copied_then[0] >= 1
    assert all(dst.read_bytes() == src.read_bytes() for src, dst in pairs.values())


def test_a_failure_of_the_work_alongside_stops_the_pool_and_is_raised(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    payload = make_sources(tmp_path, n=12, size=20_000)
    (tmp_path / "dst").mkdir()
    pairs = {rel: (src, tmp_path / "dst" / rel.replace("/", "_")) for rel, src in payload.items()}

    def fails() -> None:
        raise WriteFailedError("data/metadata/isa.json", reason="No space left on device")

    with pytest.raises(WriteFailedError):
        hashing.copy_files(pairs, workers=2, alongside=fails)


def test_a_failed_copy_is_raised_after_the_work_alongside(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    payload = make_sources(tmp_path, n=12, size=20_000)
    (tmp_path / "dst").mkdir()
    pairs = {rel: (src, tmp_path / "dst" / rel.replace("/", "_")) for rel, src in payload.items()}
    last = sorted(pairs)[-1]
    pairs[last] = (tmp_path / "vanished.dcm", pairs[last][1])
    ran: list[bool] = []
    with pytest.raises(InputVanishedError):
        hashing.copy_files(pairs, workers=2, alongside=lambda: ran.append(True))
    assert ran == [True]


def test_sources_are_copied_never_moved_or_linked(tmp_path: Path) -> None:
    payload = make_sources(tmp_path)
    before = {rel: (src.read_bytes(), src.stat().st_mtime_ns, src.stat().st_ino) for rel, src in payload.items()}
    result = build(tmp_path, payload=payload)
    for rel, src in payload.items():
        data, mtime, inode = before[rel]
        copy = result.path / "data" / rel
        assert src.read_bytes() == data and src.stat().st_mtime_ns == mtime
        assert copy.read_bytes() == data and copy.stat().st_ino != inode and copy.stat().st_nlink == 1


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("../escape.dcm", "empty, '.' or '..' path component"),
        ("/abs.dcm", "absolute path"),
        ("a\\b.dcm", "backslash in the name"),
        ("C:x.dcm", "drive letter"),
        ("a//b.dcm", "empty, '.' or '..' path component"),
    ],
)
def test_unsafe_names_are_refused_before_writing(tmp_path: Path, rel: str, reason: str) -> None:
    src = tmp_path / "s.dcm"
    src.write_bytes(b"x")
    result = build_bag(tmp_path / "out", {rel: src}, {}, bag_info={})
    assert result.path is None
    assert result.report.flatten(("code", "path")) == [("unsafe-path", rel)]
    assert reason in result.report.issues[0].message
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_symlink_fifo_and_collisions_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.dcm"
    real.write_bytes(b"x")
    link = tmp_path / "link.dcm"
    link.symlink_to(real)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    nfc = unicodedata.normalize("NFC", "café.dcm")
    nfd = unicodedata.normalize("NFD", "café.dcm")
    payload = {"a/link.dcm": link, "a/pipe.dcm": fifo, "A.dcm": real, "a.dcm": real, nfc: real, nfd: real}
    result = build_bag(tmp_path / "out", payload, {"a": b"file named like a folder"}, bag_info={})
    assert result.path is None
    found = sorted(result.report.flatten(("code", "path")))
    assert found == sorted([
        ("unsafe-path", "a/link.dcm"),
        ("unsafe-path", "a/pipe.dcm"),
        ("path-collision", "a.dcm"),
        ("path-collision", sorted([nfc, nfd])[1]),
        ("path-collision", "a"),
    ])  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_collisions_are_found_across_folders_that_fold_alike() -> None:
    from isaprofile.bagit.paths import check_paths

    names = ["p1/series/2.dcm", "p1/Series/2.dcm/extra.txt", "P1/Series/1.dcm", "p1/other.txt", "p1/series/1.DCM"]
    found = sorted((i.code, i.path, i.message) for i in check_paths(names))
    assert [(code, path) for code, path, _ in found] == [
        ("path-collision", "p1/series/1.DCM"),
        ("path-collision", "p1/series/2.dcm"),
    ]
    assert "P1/Series/1.dcm" in found[0][2] and "the folder p1/Series/2.dcm/" in found[1][2]


def test_rebuild_replaces_previous_package(tmp_path: Path) -> None:
    build(tmp_path, metadata={"v.txt": b"one"})
    result = build(tmp_path, metadata={"v.txt": b"two"})
    assert (result.path / "data" / "v.txt").read_bytes() == b"two"
    assert verify_package(result.path).issues == [] and leftovers(tmp_path) == []


def test_refuses_to_replace_a_folder_that_is_not_a_package(tmp_path: Path) -> None:
    precious = tmp_path / "out"
    precious.mkdir()
    (precious / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(DestinationNotPackageError) as info:
        build(tmp_path)
    assert info.value.issue.code == "destination-not-package"
    assert (precious / "thesis.docx").read_bytes() == b"years of work"
    assert leftovers(tmp_path) == []


class Injector:
    """Counts durable I/O operations and fails the k-th with ``err``."""

    def __init__(self, monkeypatch, fail_at: int | None, err: int = errno.EIO) -> None:
        self.count = 0
        self.fail_at = fail_at
        self.err = err
        for name in ("write_all", "fsync", "sync_filesystem", "replace", "create"):
            real = getattr(_io, name)
            monkeypatch.setattr(_io, name, self._wrap(real))

    def _wrap(self, real):
        def op(*args, **kwargs):
            self.count += 1
            if self.count == self.fail_at:
                raise OSError(self.err, os.strerror(self.err))
            return real(*args, **kwargs)

        return op


@pytest.mark.parametrize(("zipped", "modes"), [(False, (True, False)), (True, (True,))])
def test_failure_at_every_io_operation_leaves_previous_or_nothing(
    tmp_path: Path, monkeypatch, zipped: bool, modes: tuple[bool, ...]
) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # counted and failed by the injector, not slow
    payload = make_sources(tmp_path, n=2, size=200)
    name = "out.zip" if zipped else "out"
    with monkeypatch.context() as m:
        counter = Injector(m, None)
        build(tmp_path, name, payload=payload, zip=zipped, metadata={"v.txt": b"old"})
    total = counter.count
    assert total > 20
    for k in range(1, total + 1):
        for keep_previous in modes:
            if not keep_previous:
                cleanup_leftovers(tmp_path / name)
                target = tmp_path / name
                target.unlink() if zipped else shutil.rmtree(target)
            with monkeypatch.context() as m:
                Injector(m, k)
                with pytest.raises(PackageError):
                    build(tmp_path, name, payload=payload, zip=zipped, metadata={"v.txt": b"new"})
            assert leftovers(tmp_path) == [], k
            out = tmp_path / name
            # only a failure after the final rename (the directory fsync) can leave the new package
            committed = k >= total
            if keep_previous or committed:
                assert verify_package(out).issues == [], k
                content = _content(out, zipped)
                assert content == b"old" or (committed and content == b"new"), k
            else:
                assert not out.exists(), k
            build(tmp_path, name, payload=payload, zip=zipped, metadata={"v.txt": b"old"})


def _content(out: Path, zipped: bool) -> bytes:
    if not zipped:
        return (out / "data" / "v.txt").read_bytes()
    import zipfile

    with zipfile.ZipFile(out) as zf:
        return zf.read("out/data/v.txt")


def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    payload = make_sources(tmp_path)
    real = _io.write_all
    calls = {"n": 0}

    def full(fd, data):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(_io, "write_all", full)
    with pytest.raises(DiskFullError) as info:
        build(tmp_path, payload=payload)
    assert info.value.issue.code == "disk-full"
    assert info.value.issue.file == "data/scans/series-0/img-002.dcm"
    assert "no space left" in info.value.issue.message
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_vanished_input_names_the_source(tmp_path: Path, monkeypatch) -> None:
    payload = make_sources(tmp_path)
    gone = payload["scans/series-1/img-001.dcm"]
    real = _io.open_read

    def open_read(path):
        if Path(path) == gone:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return real(path)

    monkeypatch.setattr(_io, "open_read", open_read)
    with pytest.raises(InputVanishedError) as info:
        build(tmp_path, payload=payload)
    assert (info.value.issue.code, info.value.issue.file) == ("input-vanished", str(gone))
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


_SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from isaprofile.bagit import _io, build_bag
    stage, root = sys.argv[1], Path(sys.argv[2])
    real_write, real_replace = _io.write_all, _io.replace
    def write_all(fd, data):
        real_write(fd, data)
        if stage == "copy":
            print("writing", flush=True); time.sleep(60)
    def replace(src, dst):
        real_replace(src, dst)
        if stage == "swap":
            print("swapped", flush=True); time.sleep(60)
    _io.write_all, _io.replace = write_all, replace
    payload = {p.name: p for p in sorted((root / "src").rglob("*.dcm"))}
    build_bag(root / "out", payload, {"v.txt": b"new"}, bag_info={})
    """
)


@pytest.mark.parametrize("stage", ["copy", "swap"])
def test_killed_build_leaves_previous_package(tmp_path: Path, stage: str) -> None:
    payload = make_sources(tmp_path, n=2)
    build(tmp_path, payload=payload, metadata={"v.txt": b"old"})
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_BUILD, stage, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() in ("writing", "swapped")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = tmp_path / "out"
    if stage == "copy":
        assert (out / "data" / "v.txt").read_bytes() == b"old"
    else:
        assert not out.exists()  # the previous package is aside; the new one never arrived
    assert leftovers(tmp_path) != []
    cleanup_leftovers(out)
    assert leftovers(tmp_path) == []
    assert (out / "data" / "v.txt").read_bytes() == b"old"
    assert verify_package(out).issues == []


def test_leftovers_of_a_running_build_are_kept(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = tmp_path / f".out.isaprofile-tmp-{proc.pid}"
        busy.mkdir()
        assert cleanup_leftovers(tmp_path / "out") == []
        assert busy.exists()
    finally:
        proc.kill()
        proc.wait()
    assert cleanup_leftovers(tmp_path / "out") == [busy]


def test_bag_info_values_are_folded_and_reserved_labels_ignored(tmp_path: Path) -> None:
    info = {**BAG_INFO, "External-Description": "line one\nline two", "Payload-Oxum": "1.1"}
    src = tmp_path / "x"
    src.write_bytes(b"12345")
    result = build_bag(tmp_path / "out", {"x.dcm": src}, {}, bag_info=info, bagging_date=DATE)
    text = (result.path / "bag-info.txt").read_text()
    assert "External-Description: line one\n  line two\n" in text
    assert text.count("Payload-Oxum") == 1 and "Payload-Oxum: 5.1" in text
    bagit_python.Bag(str(result.path)).validate()


def _imports(module_file: Path) -> set[str]:
    """Every ``isaprofile`` module a file imports (anywhere in it, lazily or not)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(module_file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("isaprofile"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("isaprofile"))
    return found


def test_the_bagit_engine_knows_nothing_of_the_dataset_and_has_no_import_cycle() -> None:
    import isaprofile.bagit

    folder = Path(isaprofile.bagit.__file__).parent
    graph = {f"isaprofile.bagit.{p.stem}": _imports(p) for p in folder.glob("*.py") if p.stem != "__init__"}
    forbidden = ("model", "harvest", "linked", "isatab", "profile", "package", "dataset", "pipeline")
    for name, deps in sorted(graph.items()):
        bad = sorted(
            d for d in deps if any(d == f"isaprofile.{f}" or d.startswith(f"isaprofile.{f}.") for f in forbidden)
        )
        assert not bad, f"{name} imports {bad}"
    edges = {name: {d for d in deps if d in graph} for name, deps in graph.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(name for name in edges if reaches(name, name, {name}))
    assert not cycles, f"import cycle through {cycles}"


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    from isaprofile import _atomic  # the library's one atomic single-file writer

    target = tmp_path / "report.json"
    _atomic.write_bytes(target, b"old")
    _atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new"

    def broken(src, dst):
        raise OSError(errno.EIO, "injected")

    monkeypatch.setattr(_atomic.os, "replace", broken)
    with pytest.raises(OSError):
        _atomic.write_bytes(target, b"half")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_streamed_metadata_is_written_and_digested_like_bytes(tmp_path: Path) -> None:
    """A metadata file given as a producer of chunks gives the same bag as the same bytes given whole."""
    src = tmp_path / "scan.dcm"
    src.write_bytes(b"\x00" * 300)
    pieces = [b'{"a": ', b"1", b"}\n"]
    whole = build_bag(tmp_path / "whole", {"scan.dcm": src}, {"meta.json": b"".join(pieces)}, bag_info=BAG_INFO,
                      bagging_date=DATE)  # fmt: skip
    streamed = build_bag(tmp_path / "streamed", {"scan.dcm": src}, {"meta.json": lambda: iter(pieces)},
                         bag_info=BAG_INFO, bagging_date=DATE)  # fmt: skip
    assert whole.path is not None and streamed.path is not None
    for name in ("data/meta.json", "manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt"):
        assert (streamed.path / name).read_bytes() == (whole.path / name).read_bytes()
    bagit_python.Bag(str(streamed.path)).validate()


def test_digest_chunks_digests_and_sinks_in_order_and_stops_the_producer_on_a_sink_error() -> None:
    from isaprofile.bagit.hashing import _AHEAD, digest_chunks, hash_bytes

    chunks = [os.urandom(n) for n in (0, 1, 70_000, 3, 1 << 20, 5)]
    sunk: list[bytes] = []
    assert digest_chunks(iter(chunks), sunk.append) == hash_bytes(b"".join(chunks))
    assert sunk == chunks
    made = 0

    def producer():
        nonlocal made
        for n in range(1000):
            made += 1
            yield bytes([n % 256]) * 4096

    def full(chunk: bytes) -> None:
        if len(sunk) >= 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        sunk.append(chunk)

    sunk = []
    with pytest.raises(OSError, match="No space"):
        digest_chunks(producer(), full)
    assert len(sunk) == 10 and made <= 11 + _AHEAD + 1  # asked for no more once the failure was seen


# ---------------------------------------------------------------- metadata written by a process of its own


@pytest.fixture
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other tests may leave idle threads in this process (a pool's, Dask's): the build would then write the
    separate metadata here, not in a child, so the thread count it checks is the one a command would see."""
    import threading

    monkeypatch.setattr(threading, "active_count", lambda: 1)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the processes the build forks (multiprocessing's fork context), as they start."""
    import multiprocessing

    started: list[int] = []
    process = multiprocessing.get_context("fork").Process
    real_start = process.start

    def start(proc) -> None:
        real_start(proc)
        started.append(proc.pid)

    monkeypatch.setattr(process, "start", start)
    return started


def _big(tag: bytes) -> Separate:
    return Separate(lambda: (tag + bytes([i]) * 70_000 for i in range(40)))  # 2.8 MB in 40 chunks


def _pids_alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` still running (not gone, not a zombie)."""
    alive = {p for p in pids if os.path.exists(f"/proc/{p}")}
    return {p for p in alive if Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written in a forked process on Linux only")
def test_metadata_written_by_its_own_process_is_the_same_bag(tmp_path: Path, forks, single_threaded) -> None:
    started = forks
    payload = make_sources(tmp_path, n=6)
    meta = {"metadata/isa.json": _big(b"i"), "i_investigation.txt": b"INVESTIGATION\n"}
    forked = build(tmp_path, "two", payload=payload, metadata=meta, workers=2).path
    assert len(started) == 1  # the child that wrote isa.json
    here = build(tmp_path, "one", payload=payload, metadata=meta, workers=1).path  # no fork with one worker
    assert len(started) == 1
    names = sorted(p.relative_to(forked) for p in forked.rglob("*"))
    assert names == sorted(p.relative_to(here) for p in here.rglob("*"))
    for path in forked.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (here / path.relative_to(forked)).read_bytes(), path
    assert bagit_python.Bag(str(forked)).is_valid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written in a forked process on Linux only")
def test_a_disk_full_in_the_metadata_process_is_the_same_clear_error(
    tmp_path: Path, monkeypatch, single_threaded
) -> None:
    payload = make_sources(tmp_path)
    real = _io.write_all

    def full(fd, data):
        if len(data) == 70_001:  # only the separate writer's chunks (inherited by its child through the fork)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(_io, "write_all", full)
    with pytest.raises(DiskFullError) as info:
        build(tmp_path, payload=payload, metadata={"metadata/isa.json": _big(b"x")}, workers=2)
    assert info.value.issue.file == "data/metadata/isa.json"
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written in a forked process on Linux only")
def test_a_killed_metadata_process_stops_the_build_and_leaves_nothing(tmp_path: Path, single_threaded) -> None:
    parent = os.getpid()

    def killed():
        yield b"{"
        if os.getpid() == parent:
            raise AssertionError("written in this process, not in a child")
        os.kill(os.getpid(), signal.SIGKILL)  # the child: out of memory, say

    with pytest.raises(WriteFailedError) as info:
        build(tmp_path, metadata={"metadata/isa.json": Separate(killed)}, workers=2)
    assert info.value.issue.file == "data/metadata/isa.json"
    assert "writer process ended (exit code -9)" in info.value.issue.message
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written in a forked process on Linux only")
def test_a_bug_in_the_metadata_process_is_raised_with_its_traceback(tmp_path: Path, single_threaded) -> None:
    def buggy():
        yield b"{"
        raise KeyError("no such field")

    with pytest.raises(RuntimeError, match=r"(?s)data/metadata/isa.json failed in its own process.*KeyError"):
        build(tmp_path, metadata={"metadata/isa.json": Separate(buggy)}, workers=2)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written in a forked process on Linux only")
def test_a_build_that_stops_first_ends_the_metadata_process(
    tmp_path: Path, monkeypatch, forks, single_threaded
) -> None:
    started = forks
    payload = make_sources(tmp_path)
    gone = payload[sorted(payload)[-1]]
    real = _io.open_read

    def open_read(path):  # the source goes away between the preflight and its copy
        if Path(path) == gone:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return real(path)

    monkeypatch.setattr(_io, "open_read", open_read)

    parent = os.getpid()

    def slow():
        while os.getpid() != parent:  # (in this process it would never end: refuse)
            yield b" " * 1024
        raise AssertionError("written in this process, not in a child")

    with pytest.raises(InputVanishedError):
        build(tmp_path, payload=payload, metadata={"metadata/isa.json": Separate(slow)}, workers=2)
    assert len(started) == 1 and _pids_alive(set(started)) == set()
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_tag_files_written_piece_by_piece_are_the_tag_files(tmp_path: Path) -> None:
    # the bag's writer streams each payload manifest and digests it as it writes; the bytes are tag_files'
    from isaprofile.bagit.build import write_tags
    from isaprofile.bagit.hashing import hash_bytes
    from isaprofile.bagit.tags import manifest_chunks, manifest_txt, tag_files

    payload = {f"data/s{n:03d}/100%\n{n}.dcm": hash_bytes(bytes([n]) * n) for n in range(40)}
    hexes = {p: d.hexdigest("sha512") for p, d in payload.items()}
    assert b"".join(manifest_chunks(hexes, hexes.__getitem__, size=300)) == manifest_txt(hexes)
    assert len(list(manifest_chunks(hexes, hexes.__getitem__, size=300))) > 10  # pieces, not one text
    extra = {"phi-exceptions.json": b"{}\n"}
    write_tags(tmp_path, payload, bag_info=BAG_INFO, bagging_date=DATE, extra_tags=extra, durable=False)
    expected = tag_files(payload, BAG_INFO, bagging_date=DATE, extra_tags=extra)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == expected
    with pytest.raises(ValueError, match="clashes"):
        write_tags(tmp_path / "x", payload, bag_info=BAG_INFO, extra_tags={"bag-info.txt": b""}, durable=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_payload_digests_are_named_in_the_bag_and_the_pool_gets_the_payloads_own_names(
    tmp_path: Path, monkeypatch, workers: int
) -> None:
    """A build's digests are by path in the bag (``data/...``, sorted, as in its manifests); the copies are
    asked for by the payload's own strings, not by copies of them."""
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    payload = make_sources(tmp_path, n=8)
    items: list[object] = []
    real = hashing.map_files

    def spy(func, batch, n, *args, **kwargs):
        items.extend(batch)
        return real(func, batch, n, *args, **kwargs)

    monkeypatch.setattr(hashing, "map_files", spy)
    result = build(tmp_path, payload=payload, workers=workers)
    names = [f"data/{rel}" for rel in sorted([*payload, "i_investigation.txt"])]
    assert list(result.digests) == names and len(result.digests) == len(names)
    manifest = (result.path / "manifest-sha256.txt").read_text().splitlines()
    assert [f"{result.digests[n].hexdigest('sha256')}  {n}" for n in names] == manifest
    assert "scans/series-0/img-000.dcm" not in result.digests
    for missing in ("scans/series-0/img-000.dcm", "data/scans/nothing.dcm"):
        with pytest.raises(KeyError, match=missing):
            result.digests[missing]
    if workers > 1:
        own = {id(rel) for rel in payload}  # (a mapping of sources, not a folder: each item names its source)
        keys = [item if isinstance(item, str) else item[0] for item in items]  # type: ignore[index]
        assert len(keys) == len(payload) and all(id(key) in own for key in keys)
