"""Reproducible zips (same bytes under any TZ/umask/order) and the safe zip reader."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
import textwrap
import unicodedata
import zipfile
from pathlib import Path

import pytest

from isaprofile.bagit import SafeZip, ZipLimits, verify_package
from isaprofile.bagit.ziputil import write_zip, zip_date_time

_BUILD = textwrap.dedent(
    """
    import datetime as dt, os, sys
    from pathlib import Path
    from isaprofile.bagit import build_bag
    os.umask(int(sys.argv[3], 8))
    root, order = Path(sys.argv[1]), sys.argv[2]
    src = root / "src"
    names = ["b/2.dcm", "a/1.dcm", "a/0.nii.gz", "c.json"]
    for name in (names if order == "fwd" else names[::-1]):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(name.encode() * 300)
    payload = {n: src / n for n in names}
    build_bag(root / "out.zip", payload, {"i_inv.txt": b"I"}, bag_info={"Source-Organization": "U"},
              zip=True, bagging_date=dt.date(2024, 5, 6), workers=1)
    """
)


def _zip_sha(tmp: Path, tz: str, umask: str, order: str) -> str:
    env = {"TZ": tz, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", _BUILD, str(tmp), order, umask], env=env, check=True)
    return hashlib.sha256((tmp / "out.zip").read_bytes()).hexdigest()


def test_same_zip_bytes_whatever_time_zone_umask_and_order(tmp_path: Path) -> None:
    one = _zip_sha(tmp_path / "one", "UTC", "022", "fwd")
    two = _zip_sha(tmp_path / "two", "Pacific/Kiritimati", "077", "rev")
    assert one == two
    with zipfile.ZipFile(tmp_path / "one" / "out.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    files = [i for i in infos if not i.is_dir()]
    assert {stat.S_IMODE(i.external_attr >> 16) for i in files} == {0o644}
    assert {i.compress_type for i in files if i.filename.endswith(".gz")} == {zipfile.ZIP_STORED}
    assert verify_package(tmp_path / "one" / "out.zip").issues == []


def test_source_date_epoch_sets_the_timestamp(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert zip_date_time() == (2023, 11, 14, 22, 13, 20)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert zip_date_time() == (1980, 1, 1, 0, 0, 0)


def _raw_zip(path: Path, entries: list[tuple[str, bytes, int]], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = compression
            zf.writestr(info, data)
    return path


REG = stat.S_IFREG | 0o644


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "empty, '.' or '..' path component"),
        ("bag/../../evil.txt", "empty, '.' or '..' path component"),
        ("/etc/passwd", "absolute path"),
        ("bag\\..\\evil.txt", "backslash in the name"),
        ("C:/evil.txt", "drive letter"),
    ],
)
def test_zip_slip_names_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    path = _raw_zip(tmp_path / "z.zip", [("ok.txt", b"fine", REG), (name, b"evil", REG)])
    with SafeZip(path) as safe:
        assert list(safe.members) == ["ok.txt"]
        assert safe.report.flatten(("code", "path")) == [("unsafe-path", name)]
        assert reason in safe.report.issues[0].message


def test_symlink_duplicate_and_colliding_entries_are_refused(tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "é.txt"), unicodedata.normalize("NFD", "é.txt")
    entries = [
        ("link", b"/etc/passwd", stat.S_IFLNK | 0o777),
        ("dup.txt", b"1", REG),
        ("dup.txt", b"2", REG),
        ("Case.txt", b"a", REG),
        ("case.txt", b"b", REG),
        (nfc, b"c", REG),
        (nfd, b"d", REG),
        ("fine.txt", b"e", REG),
    ]
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = _raw_zip(tmp_path / "z.zip", entries)
    with SafeZip(path) as safe:
        refused = sorted(safe.report.flatten(("code", "path")))
        assert refused == sorted([
            ("unsafe-path", "link"),
            ("zip-invalid", "dup.txt"),
            ("path-collision", "case.txt"),
            ("path-collision", max(nfc, nfd)),
        ])  # fmt: skip
        assert sorted(safe.members) == sorted(["Case.txt", "fine.txt", min(nfc, nfd)])


def test_zip_bombs_are_refused(tmp_path: Path) -> None:
    zeros = b"\0" * (3 << 20)
    path = _raw_zip(tmp_path / "bomb.zip", [("zeros.bin", zeros, REG), ("small.txt", b"x", REG)])
    with SafeZip(path, ZipLimits(max_ratio=100)) as safe:
        assert safe.report.flatten(("code", "path")) == [("zip-bomb", "zeros.bin")]
        assert list(safe.members) == ["small.txt"]
    with SafeZip(path, ZipLimits(max_total_bytes=1 << 20)) as safe:
        assert safe.report.codes() == ["zip-bomb"] and safe.members == {}
    report = verify_package(path, limits=None)
    assert "zip-bomb" not in report.codes()  # within the default caps: an ordinary (if odd) zip


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    path = _raw_zip(tmp_path / "o.zip", [("a.txt", b"A" * 100, REG), ("b.txt", b"B" * 100, REG)], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        second = zf.getinfo("b.txt")
        offset = zf.getinfo("a.txt").header_offset
    # point b's central directory entry at a's local header: two names, one stream
    central = data.rfind(b"PK\x01\x02")
    assert data[central + 46 : central + 51] == b"b.txt"
    data[central + 42 : central + 46] = offset.to_bytes(4, "little")
    (tmp_path / "o.zip").write_bytes(bytes(data))
    assert second.header_offset != offset
    with SafeZip(tmp_path / "o.zip") as safe:
        assert sorted(safe.report.flatten(("code", "path"))) == [("zip-bomb", "a.txt"), ("zip-bomb", "b.txt")]


def test_write_zip_lists_every_folder(tmp_path: Path) -> None:
    (tmp_path / "bag" / "data" / "x").mkdir(parents=True)
    (tmp_path / "bag" / "data" / "x" / "f.txt").write_bytes(b"f")
    write_zip(tmp_path / "bag", tmp_path / "b.zip", root="bag", durable=False)
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert zf.namelist() == ["bag/", "bag/data/", "bag/data/x/", "bag/data/x/f.txt"]
