"""The public API: every name in ``__all__`` resolves, lazily, and import stays light."""

from __future__ import annotations

import subprocess
import sys

import isaprofile


def test_every_public_name_resolves() -> None:
    for name in isaprofile.__all__:
        assert getattr(isaprofile, name) is not None, name


def test_import_does_not_load_heavy_dependencies() -> None:
    heavy = "('pydicom', 'nibabel', 'rdflib', 'openpyxl')"
    code = f"import sys, isaprofile; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
