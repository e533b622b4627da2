"""The install a newcomer does: pyproject bounds, the constraints file, and the README commands CI runs."""

from __future__ import annotations

import runpy
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_dependency_is_pinned_within_its_bounds() -> None:
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} outside {req.specifier}"
    assert "isaprofile" not in pins


def test_roc_validator_floor_has_the_offline_setting() -> None:
    """roc-validator gained `offline` in 0.10; the tests use it, so older versions must not resolve."""
    (roc,) = [r for r in _requirements() if canonicalize_name(r.name) == "roc-validator"]
    assert not roc.specifier.contains("0.9.0") and not roc.specifier.contains("0.8.0")
    assert roc.specifier.contains("0.10.0")


def test_dev_extra_has_the_type_checker_and_stubs() -> None:
    dev = {canonicalize_name(Requirement(r).name) for r in _pyproject()["project"]["optional-dependencies"]["dev"]}
    assert {"mypy", "types-pyyaml", "types-tqdm", "types-openpyxl", "types-jsonschema", "ruff", "pytest"} <= dev


def test_readme_quick_start_is_what_ci_runs() -> None:
    blocks = runpy.run_path(str(ROOT / ".ci" / "quickstart.py"))["blocks"]
    first, second = blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert first.startswith("pip install -c constraints.txt . && isaprofile validate ")
    assert "isaprofile package " in first
    assert second.strip() == 'pip install -c constraints.txt ".[dev]" && python -m pytest'
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv" in run and ".ci/quickstart.py README.md" in run
    for step in ("ruff check .", "ruff format --check .", "mypy isaprofile"):
        assert f"step {step}" in run


def test_pytest_config_filters_only_third_party_warnings() -> None:
    ini = _pyproject()["tool"]["pytest"]["ini_options"]
    for entry in ini["filterwarnings"]:
        module = entry.split(":")[3] if entry.count(":") >= 3 else ""
        assert module and not module.startswith(("isaprofile", "tests")), entry
    assert any(m.startswith("slow:") for m in ini["markers"])
