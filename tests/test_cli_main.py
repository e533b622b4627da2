"""``python -m isaprofile`` and the suggestions for a mistyped command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from isaprofile.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_runs_the_cli() -> None:
    r = subprocess.run([sys.executable, "-m", "isaprofile", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: python -m isaprofile")
    assert all(name in r.stdout for name in COMMANDS)


def test_python_dash_m_passes_the_exit_code() -> None:
    r = subprocess.run([sys.executable, "-m", "isaprofile", "profiles", "no-such-profile"], capture_output=True,
                       text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 2, (r.stdout, r.stderr)


@pytest.mark.parametrize(("typed", "meant"), [("valdate", "validate"), ("pakage", "package"), ("isatb", "isatab"),
                                              ("verfy", "verify"), ("templat", "template")])  # fmt: skip
def test_mistyped_command_suggests_the_real_one(typed: str, meant: str) -> None:
    result = CliRunner().invoke(cli, [typed, "x"])
    assert result.exit_code == 2
    assert f"No such command '{typed}'. Did you mean '{meant}'?" in result.output


def test_unrelated_word_gets_no_suggestion() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'." in result.output and "Did you mean" not in result.output


def test_real_commands_still_resolve() -> None:
    result = CliRunner().invoke(cli, ["profiles"])
    assert result.exit_code == 0, result.output
    assert "preclinical-imaging" in result.output


def test_version_is_the_packages_and_exits_zero() -> None:
    """The installed distribution's version (from a source tree, the package's own): they are the same."""
    from isaprofile import __version__

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"isaprofile, version {__version__}\n"


def test_main_collects_no_old_generation_during_a_command_and_gives_the_settings_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from isaprofile.cli import main as entry

    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(entry.cli, "main", lambda **kw: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    assert entry.main(["--version"]) == 0
    assert seen == [(10_000, 10, 1_000_000)]
    assert gc.get_threshold() == before
