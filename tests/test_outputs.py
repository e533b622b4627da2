"""Never destroy: every writing command refuses an output that would replace an input or a folder it
did not make (exit 2, nothing touched), replaces its own earlier outputs, follows the umask, and
names a ``--zip`` package ``.zip``."""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isaprofile.cli._outputs import OutputRefused, check_output, is_our_isatab
from isaprofile.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("four years of work\n")
    return folder


WRITERS = [
    ("isatab", "isa"),
    ("jsonld", "crate.json"),
    ("package", "pkg"),
    ("validate", "report.json"),
]


@pytest.mark.parametrize(("cmd", "name"), WRITERS)
def test_output_inside_the_input_is_refused(example: Path, cmd: str, name: str) -> None:
    before = snapshot(example)
    result = run(cmd, example, "-o", example / name)
    assert result.exit_code == 2, result.output
    assert "is inside the input" in result.output
    assert snapshot(example) == before


@pytest.mark.parametrize("cmd", ["isatab", "package"])
def test_output_that_is_the_input_is_refused(example: Path, cmd: str) -> None:
    before = snapshot(example)
    result = run(cmd, example, "-o", example)
    assert result.exit_code == 2, result.output
    assert "is the input" in result.output
    assert snapshot(example) == before


@pytest.mark.parametrize("cmd", ["isatab", "package"])
def test_output_that_contains_the_input_is_refused(example: Path, cmd: str) -> None:
    before = snapshot(example)
    result = run(cmd, example, "-o", example.parent)
    assert result.exit_code == 2, result.output
    assert "contains the input" in result.output
    assert snapshot(example) == before


@pytest.mark.parametrize("cmd", ["isatab", "package"])
def test_dot_inside_the_dataset_is_refused(example: Path, cmd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(example)
    monkeypatch.chdir(example)
    for dataset in (".", str(example)):
        result = run(cmd, dataset, "-o", ".")
        assert result.exit_code == 2, result.output
        assert "is the input" in result.output
        assert "Traceback" not in result.output
    assert snapshot(example) == before


@pytest.mark.parametrize("cmd", ["isatab", "package"])
def test_non_empty_foreign_folder_is_refused(example: Path, precious: Path, cmd: str) -> None:
    result = run(cmd, example, "-o", precious)
    assert result.exit_code == 2, result.output
    assert "is not empty and is not" in result.output and "nothing was written" in result.output
    assert snapshot(precious) == {"thesis.tex": b"four years of work\n"}


def test_dot_elsewhere_is_a_foreign_folder(example: Path, precious: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(precious)
    result = run("isatab", example, "-o", ".")
    assert result.exit_code == 2, result.output
    assert (precious / "thesis.tex").read_text() == "four years of work\n"


@pytest.mark.parametrize(("cmd", "extra"), [("jsonld", []), ("validate", []), ("template", [])])
def test_file_output_that_is_a_folder_is_refused(example: Path, precious: Path, cmd: str, extra: list[str]) -> None:
    source = "preclinical-imaging" if cmd == "template" else example
    result = run(cmd, source, "-o", precious, *extra)
    assert result.exit_code == 2, result.output
    assert "is a folder" in result.output or "is a directory" in result.output  # ours, or click's dir_okay=False
    assert snapshot(precious) == {"thesis.tex": b"four years of work\n"}


def test_template_refuses_to_overwrite_its_own_profile_file(tmp_path: Path) -> None:
    prof = tmp_path / "profile.yaml"
    prof.write_bytes(
        next((ROOT / "isaprofile" / "profiles" / "preclinical-imaging").rglob("profile.yaml")).read_bytes()
    )
    result = run("template", prof, "-o", prof)
    assert result.exit_code == 2, result.output
    assert "is the input" in result.output


def test_isatab_replaces_its_own_output_but_not_one_with_a_user_file(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "isa"
    assert run("isatab", example, "-o", out).exit_code == 0
    assert is_our_isatab(out)
    first = snapshot(out)
    assert run("isatab", example, "-o", out).exit_code == 0  # its own earlier output: replaced
    assert snapshot(out) == first
    (out / "notes.md").write_text("mine\n")
    result = run("isatab", example, "-o", out)
    assert result.exit_code == 2 and "is not empty" in result.output
    assert (out / "notes.md").read_text() == "mine\n"


def test_isatab_into_the_folder_of_earlier_packages_is_refused(example: Path, tmp_path: Path) -> None:
    """The CRLM tutorial's `-o out/` after `package -o out/pkg`: the packages must survive."""
    out = tmp_path / "out"
    assert run("package", example, "-o", out / "pkg").exit_code == 0
    before = snapshot(out)
    result = run("isatab", example, "-o", out)
    assert result.exit_code == 2, result.output
    assert snapshot(out) == before


def test_package_replaces_its_own_package_and_zip_gets_its_suffix(example: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    assert run("package", example, "-o", pkg).exit_code == 0
    assert "Bag-Software-Agent: isaprofile" in (pkg / "bag-info.txt").read_text()
    result = run("package", example, "-o", pkg)  # ours: replaced
    assert result.exit_code == 0, result.output

    result = run("package", example, "-o", tmp_path / "zz", "--zip")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "zz").exists()
    assert zipfile.is_zipfile(tmp_path / "zz.zip")
    assert result.output.strip().endswith("zz.zip")
    assert run("package", example, "-o", tmp_path / "zz.zip", "--zip").exit_code == 0  # ours: replaced

    foreign = tmp_path / "other.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("photos/cat.jpg", b"not a bag")
    result = run("package", example, "-o", foreign, "--zip")
    assert result.exit_code == 2 and "not a package zip" in result.output
    assert zipfile.ZipFile(foreign).namelist() == ["photos/cat.jpg"]


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_template_and_jsonld_follow_the_umask(example: Path, tmp_path: Path, umask: None) -> None:
    assert run("template", "preclinical-imaging", "-o", tmp_path / "t.xlsx").exit_code == 0
    assert run("jsonld", example, "-o", tmp_path / "crate.json").exit_code == 0
    assert _mode(tmp_path / "t.xlsx") == 0o640
    assert _mode(tmp_path / "crate.json") == 0o640
    # an existing file is replaced, and the new one again gets the umask's mode
    (tmp_path / "crate.json").chmod(0o600)
    assert run("jsonld", example, "-o", tmp_path / "crate.json").exit_code == 0
    assert _mode(tmp_path / "crate.json") == 0o640


def test_atomic_writer_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    from isaprofile._atomic import atomic_path, write_text

    target = write_text(tmp_path / "a.txt", "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_check_output_cases(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x").write_text("x")
    assert check_output(tmp_path / "new", "isatab", [data]) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert check_output(tmp_path / "empty", "package", [data]) == tmp_path / "empty"
    assert check_output(tmp_path / "p", "zip", [data]) == tmp_path / "p.zip"
    assert check_output(tmp_path / "p.ZIP", "zip", [data]) == tmp_path / "p.ZIP"
    link = tmp_path / "link"
    link.symlink_to(data)
    with pytest.raises(OutputRefused, match="is the input"):
        check_output(link, "isatab", [data])  # a symlink to the input is the input
    with pytest.raises(OutputRefused, match="exists and is not a folder"):
        check_output(data / "x", "isatab", [tmp_path / "elsewhere"])
