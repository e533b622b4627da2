"""Shared fixtures: the example dataset, copied so tests can break it without touching the original."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "preclinical-liver"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of examples/preclinical-liver."""
    dest = tmp_path / "preclinical-liver"
    shutil.copytree(EXAMPLE, dest)
    return dest
