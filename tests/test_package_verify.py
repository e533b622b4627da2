"""verify_package: a corruption matrix over payload and tag files, zips, split deposits, hooks, CLI."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import bagit as bagit_python
import pytest
from _package_helpers import BAG_INFO, DATE, build, make_sources
from click.testing import CliRunner

from isaprofile.bagit import build_bag, build_split, plan_parts, verify_package
from isaprofile.bagit.ziputil import write_zip
from isaprofile.cli.main import cli
from isaprofile.findings.issues import Report, issue

PAYLOAD = "data/scans/series-0/img-000.dcm"
MANIFESTS = ("manifest-sha256.txt", "manifest-sha512.txt")
TAGMANIFESTS = ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt")


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def append(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\n")


def empty(path: Path) -> None:
    path.write_bytes(b"")


def found(report: Report) -> set[tuple[str, str | None, str | None]]:
    return set(report.flatten(("code", "file", "path")))


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    return build(tmp_path).path


def fixity(manifests: tuple[str, ...], path: str) -> set:
    return {("fixity-mismatch", m, path) for m in manifests}


OXUM = ("oxum-mismatch", "bag-info.txt", None)


@pytest.mark.parametrize(
    ("damage", "extra"),
    [(flip, set()), (truncate, {OXUM}), (append, {OXUM}), (empty, {OXUM})],
    ids=["flip", "truncate", "append", "empty"],
)
def test_payload_content_damage(bag: Path, damage, extra: set) -> None:
    damage(bag / PAYLOAD)
    report = verify_package(bag)
    assert found(report) == fixity(MANIFESTS, PAYLOAD) | extra
    mismatch = report.issues[0] if report.issues[0].code == "fixity-mismatch" else report.issues[-1]
    assert "the manifest says" in mismatch.message and not report.valid


def test_payload_deleted(bag: Path) -> None:
    (bag / PAYLOAD).unlink()
    assert found(verify_package(bag)) == {("file-missing-from-payload", m, PAYLOAD) for m in MANIFESTS} | {OXUM}


def test_payload_renamed(bag: Path) -> None:
    (bag / PAYLOAD).rename(bag / "data/scans/renamed.dcm")
    assert found(verify_package(bag)) == {("file-missing-from-payload", m, PAYLOAD) for m in MANIFESTS} | {
        ("unexpected-file", m, "data/scans/renamed.dcm") for m in MANIFESTS
    }


def test_payload_extra_file(bag: Path) -> None:
    (bag / "data/extra.txt").write_bytes(b"smuggled")
    assert found(verify_package(bag)) == {("unexpected-file", m, "data/extra.txt") for m in MANIFESTS} | {OXUM}


@pytest.mark.parametrize("tag", ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"])
@pytest.mark.parametrize("damage", [flip, truncate, append, empty], ids=["flip", "truncate", "append", "empty"])
def test_tag_file_damage_is_caught_by_the_tag_manifests(bag: Path, tag: str, damage) -> None:
    damage(bag / tag)
    report = verify_package(bag)
    assert fixity(TAGMANIFESTS, tag) <= found(report)
    assert not report.valid


@pytest.mark.parametrize("tag", ["bagit.txt", "bag-info.txt", "manifest-sha512.txt"])
def test_tag_file_deleted(bag: Path, tag: str) -> None:
    (bag / tag).unlink()
    report = verify_package(bag)
    assert {("file-missing-from-payload", m, tag) for m in TAGMANIFESTS} <= found(report)
    if tag == "bagit.txt":
        assert ("bag-declaration", "bagit.txt", None) in found(report)


def test_tag_file_renamed_and_extra(bag: Path) -> None:
    (bag / "bag-info.txt").rename(bag / "bag-info.old")
    report = verify_package(bag)
    assert {("file-missing-from-payload", m, "bag-info.txt") for m in TAGMANIFESTS} | {
        ("tag-file-unlisted", m, "bag-info.old") for m in TAGMANIFESTS
    } == found(report)
    # without its bag-info.txt the bag no longer says it is ours: an unlisted tag file is then a warning
    assert {i.severity for i in report.issues if i.code == "tag-file-unlisted"} == {"warning"}


def test_tagmanifest_damage(bag: Path) -> None:
    text = (bag / "tagmanifest-sha256.txt").read_text()
    first = text[0]
    (bag / "tagmanifest-sha256.txt").write_text(("0" if first != "0" else "1") + text[1:])
    assert found(verify_package(bag)) == {("fixity-mismatch", "tagmanifest-sha256.txt", "bag-info.txt")}
    (bag / "tagmanifest-sha512.txt").unlink()
    assert ("tag-manifest-missing", "tagmanifest-sha512.txt", None) in found(verify_package(bag))


def test_tagmanifest_emptied_leaves_tag_files_unlisted(bag: Path) -> None:
    empty(bag / "tagmanifest-sha512.txt")
    assert found(verify_package(bag)) == {
        ("tag-file-unlisted", "tagmanifest-sha512.txt", "bag-info.txt"),
        ("tag-file-unlisted", "tagmanifest-sha512.txt", "bagit.txt"),
    } | {("tag-manifest-incomplete", "tagmanifest-sha512.txt", m) for m in MANIFESTS}
    assert {i.severity for i in verify_package(bag).issues} == {"error"}  # ours list every tag file


def test_manifest_line_garbage_and_symlink(bag: Path) -> None:
    with open(bag / "manifest-sha256.txt", "a") as fh:
        fh.write("not a line\n")
    (bag / "data/link.dcm").symlink_to(bag / PAYLOAD)
    report = verify_package(bag)
    assert ("manifest-invalid", "manifest-sha256.txt", None) in found(report)
    assert ("unsafe-path", str(bag), "data/link.dcm") in found(report)


def test_zipped_bag_verifies_without_extraction(tmp_path: Path) -> None:
    result = build(tmp_path, "out.zip", zip=True)
    assert verify_package(result.path).issues == []
    folder = build(tmp_path, "folder").path
    flip(folder / PAYLOAD)
    write_zip(folder, tmp_path / "bad.zip", root="bad")
    assert found(verify_package(tmp_path / "bad.zip")) == fixity(MANIFESTS, PAYLOAD)
    assert list(tmp_path.glob("bad/*")) == []


def test_unreadable_packages(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert verify_package(tmp_path / "junk.zip").codes() == ["package-unreadable"]
    assert verify_package(tmp_path / "missing").codes() == ["package-unreadable"]


def test_registered_checks_run_and_a_crash_is_a_finding(bag: Path) -> None:
    seen: list[list[str]] = []

    def isatab_present(view) -> Report:
        seen.append(view.files())
        with view.open("data/i_investigation.txt") as fh:
            ok = fh.read().startswith(b"INVESTIGATION")
        return Report([] if ok else [issue("bag-info-invalid", file="x", reason="y")])

    def broken(view) -> Report:
        raise RuntimeError("boom")

    assert verify_package(bag, checks=[isatab_present, broken]).codes() == ["package-check-failed"]
    assert "data/i_investigation.txt" in seen[0]
    assert verify_package(bag, checks=[isatab_present]).issues == [] and len(seen) == 2
    assert verify_package(bag).issues == [] and len(seen) == 2  # no checks unless asked for


# ---- split deposits -------------------------------------------------------------------------


def test_plan_keeps_small_deposits_whole_and_bundles_series_when_needed() -> None:
    sizes = {f"ct/s{s}/{i:03d}.dcm": 10 for s in range(3) for i in range(40)}
    plan = plan_parts(sizes, max_files=100, reserved_files=7)
    # 120 files do not fit in one part of 93 entries: bundling one series (40 -> 1) is enough
    assert [(p.name, len(p.files), [b.name for b in p.bundles]) for p in plan.parts] == [
        ("part-001", 80, ["ct/s0.zip"])
    ]
    assert plan.parts[0].bundles[0].files == tuple(f"ct/s0/{i:03d}.dcm" for i in range(40))
    many = plan_parts({f"ct/s{s}/{i:03d}.dcm": 10 for s in range(300) for i in range(2)}, max_files=100)
    assert len(many.parts) == 3 and all(p.entries <= 100 for p in many.parts)
    small = plan_parts({f"a/{i}.dcm": 1 for i in range(5)}, max_files=100)
    assert [(p.name, p.files) for p in small.parts] == [("part-001", [f"a/{i}.dcm" for i in range(5)])]


def test_plan_respects_byte_and_file_limits() -> None:
    sizes = {f"f{i:02d}.nii.gz": 30 for i in range(10)} | {"huge.nii": 500}
    plan = plan_parts(sizes, max_files=4, max_bytes=100)
    assert plan.report.flatten(("code", "path")) == [("part-too-large", "huge.nii")]
    for part in plan.parts:
        assert part.entries <= 4 and part.size <= 100
    listed = [f for p in plan.parts for f in p.files] + [f for p in plan.parts for b in p.bundles for f in b.files]
    assert sorted(listed) == sorted(set(sizes) - {"huge.nii"})


def split_deposit(tmp_path: Path) -> Path:
    payload = make_sources(tmp_path, n=12, size=500)
    flat = tmp_path / "src" / "flat"
    flat.mkdir()
    for i in range(3):
        (flat / f"seg-{i}.nii").write_bytes(b"seg" * (i + 1))
        payload[f"seg-{i}.nii"] = flat / f"seg-{i}.nii"
    result = build_split(
        tmp_path / "split", payload, {"i_investigation.txt": b"INVESTIGATION\n"},
        bag_info=BAG_INFO, bagging_date=DATE, max_files=10, max_bytes=4000, workers=1,
    )  # fmt: skip
    assert result.report.issues == [] and result.path is not None
    return result.path


def test_split_deposit_builds_and_verifies(tmp_path: Path) -> None:
    root = split_deposit(tmp_path)
    parts = sorted(p.name for p in root.iterdir())
    assert parts[-1] == "parts-index.json" and len(parts) >= 3
    for part in parts[:-1]:
        bagit_python.Bag(str(root / part)).validate()
        files = [p for p in (root / part).rglob("*") if p.is_file()]
        assert len(files) <= 10
    index = json.loads((root / "parts-index.json").read_text())
    listed = sorted(f["path"] for p in index["parts"] for f in p["files"])
    assert len(listed) == 16 and "scans/series-0/img-000.dcm" in listed
    assert verify_package(root).issues == []


def test_split_deposit_damage(tmp_path: Path) -> None:
    root = split_deposit(tmp_path)
    index = json.loads((root / "parts-index.json").read_text())
    bundled = next(f for p in index["parts"] for f in p["files"] if "member" in f)
    holder = next(p["name"] for p in index["parts"] if bundled in p["files"])
    bundle = root / holder / bundled["in"]
    with zipfile.ZipFile(bundle) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members[bundled["member"]] = b"changed"
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    report = verify_package(root)
    assert ("part-file-mismatch", f"{holder}/{bundled['in']}", bundled["member"]) in found(report)
    assert ("fixity-mismatch", f"{holder}/manifest-sha256.txt", bundled["in"]) in found(report)

    last = index["parts"][-1]["name"]
    shutil.rmtree(root / last)
    (root / "part-999").mkdir()
    report = verify_package(root)
    assert {("part-missing", "parts-index.json", last), ("part-unexpected", "parts-index.json", "part-999")} <= found(
        report
    )


def test_split_top_index_tampered(tmp_path: Path) -> None:
    root = split_deposit(tmp_path)
    index = json.loads((root / "parts-index.json").read_text())
    index["parts"][0]["files"][0]["sha256"] = "0" * 64
    (root / "parts-index.json").write_text(json.dumps(index))
    codes = verify_package(root).codes()
    assert "parts-index-invalid" in codes


# ---- CLI ------------------------------------------------------------------------------------


def test_cli_verify_exit_codes_and_json(bag: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(bag), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["valid"] is True
    flip(bag / PAYLOAD)
    bad = runner.invoke(cli, ["verify", str(bag), "--format", "json"])
    assert bad.exit_code == 1
    issues = json.loads(bad.output)["issues"]
    assert {(i["code"], i["path"]) for i in issues} == {("fixity-mismatch", PAYLOAD)}
    gone = runner.invoke(cli, ["verify", str(tmp_path / "nothing")])
    assert gone.exit_code == 2


def _crate(files: dict[str, tuple[str, int]]) -> bytes:
    graph = [{"@id": "./", "@type": "Dataset", "hasPart": [{"@id": p} for p in files]}]
    graph += [{"@id": p, "@type": "File", "sha256": sha, "contentSize": str(size)} for p, (sha, size) in files.items()]
    graph.append({"@id": "#series", "@type": "Dataset", "contentSize": "1"})  # not a file: ignored
    return json.dumps({"@context": "https://w3id.org/ro/crate/1.2/context", "@graph": graph}).encode()


def _deposit(tmp_path: Path, crate) -> Path:
    """An isaprofile-made bag (its bag-info names a profile) whose crate is made from the copy digests."""
    from isaprofile.package.metadata_checks import MARKER

    payload = make_sources(tmp_path)
    return build_bag(
        tmp_path / "deposit", payload, {}, bag_info={**BAG_INFO, MARKER: "clinical-ct 1"}, bagging_date=DATE,
        late_metadata=lambda d: {"ro-crate-metadata.json": crate(d)},
    ).path  # fmt: skip


def test_crate_sha256_and_size_are_checked_against_the_manifest(tmp_path: Path) -> None:
    from isaprofile.package.metadata_checks import check_crate_digests

    good = _deposit(tmp_path / "a", lambda d: _crate({p: (x.digests["sha256"], x.size) for p, x in d.items()}))
    assert verify_package(good, checks=[check_crate_digests]).issues == []

    def wrong(d):
        files = {p: (x.digests["sha256"], x.size) for p, x in d.items()}
        files["scans/series-0/img-000.dcm"] = ("0" * 64, files["scans/series-0/img-000.dcm"][1])
        files["scans/series-1/img-001.dcm"] = (files["scans/series-1/img-001.dcm"][0], 1)
        files["scans/gone.dcm"] = ("1" * 64, 5)
        return _crate(files)

    report = verify_package(_deposit(tmp_path / "b", wrong), checks=[check_crate_digests])
    crate = "data/ro-crate-metadata.json"
    assert report.flatten(("code", "file", "path")) == [
        ("crate-file-mismatch", crate, "data/scans/gone.dcm"),
        ("crate-file-mismatch", crate, "data/scans/series-0/img-000.dcm"),
        ("crate-file-mismatch", crate, "data/scans/series-1/img-001.dcm"),
    ]
    assert "sha256 is 0000" in report.issues[1].message and "contentSize is 1 " in report.issues[2].message


def test_crate_check_skips_bags_made_elsewhere(tmp_path: Path) -> None:
    from isaprofile.package.metadata_checks import check_crate_digests

    bag = build(tmp_path, metadata={"ro-crate-metadata.json": _crate({"scans/x.dcm": ("0" * 64, 3)})}).path
    assert verify_package(bag, checks=[check_crate_digests]).issues == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("CON", "unportable-name"),
        ("aux.txt", "unportable-name"),
        ("scans/COM1.dcm", "unportable-name"),
        ("scans/lpt9", "unportable-name"),
        ("scans/a:b.dcm", "unportable-name"),
        ("a:b.dcm", "unsafe-path"),  # a drive letter
        ('scans/q"?*<>|.dcm', "unportable-name"),
        ("scans/trailing.", "unportable-name"),
        ("scans/trailing ", "unportable-name"),
        ("scans /x.dcm", "unportable-name"),
        ("scans/tab\there.dcm", "unportable-name"),
    ],
)
def test_names_windows_cannot_hold_are_refused_at_build(tmp_path: Path, name: str, code: str) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    result = build(tmp_path, payload={name: src, "scans/ok.dcm": src})
    assert result.path is None and not (tmp_path / "out").exists()
    assert result.report.flatten(("code", "path")) == [(code, name)]


@pytest.mark.parametrize("name", ["COM0.dcm", "console.txt", "auxiliary/x.dcm", "scans/.keep", "nul-data.txt"])
def test_names_that_only_look_reserved_are_packaged(tmp_path: Path, name: str) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    result = build(tmp_path, payload={name: src})
    assert result.path is not None and verify_package(result.path).issues == []


def test_verify_on_two_workers_finds_the_same(bag: Path, monkeypatch) -> None:
    from isaprofile.bagit import hashing

    flip(bag / PAYLOAD)
    (bag / "data/scans/series-1/img-001.dcm").unlink()
    serial = verify_package(bag, workers=1)
    monkeypatch.setattr(hashing, "PARALLEL_MIN_BYTES", 0)
    done: list[int] = []
    parallel = verify_package(bag, workers=2, progress=done.append)
    assert parallel.issues == serial.issues and parallel.stats == serial.stats
    assert sum(done) == serial.stats["bytes_checked"]
