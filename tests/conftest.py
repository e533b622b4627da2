"""Shared fixtures: the example dataset, copied so tests can break it without touching the original."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# urllib3 probes for IPv6 support by opening a socket when first imported (no traffic). Importing it here,
# before pytest-socket blocks sockets for each test, keeps that probe from showing as a blocked socket;
# any real connection attempt in a test is still blocked and reported.
import urllib3  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "preclinical-liver"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of examples/preclinical-liver."""
    dest = tmp_path / "preclinical-liver"
    shutil.copytree(EXAMPLE, dest)
    return dest


@pytest.fixture
def crlm(tmp_path: Path) -> Path:
    """A fresh copy of examples/crlm-ct."""
    return Path(shutil.copytree(ROOT / "examples" / "crlm-ct", tmp_path / "crlm-ct"))


@pytest.fixture
def enhance(tmp_path: Path) -> Path:
    """A fresh copy of examples/enhance-petct."""
    return Path(shutil.copytree(ROOT / "examples" / "enhance-petct", tmp_path / "enhance-petct"))


@pytest.fixture(autouse=True)
def _private_header_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own header cache (isaprofile.cache), never the user's ~/.cache."""
    monkeypatch.setenv("ISAPROFILE_CACHE_DIR", str(tmp_path_factory.mktemp("header-cache")))
