"""``isaprofile jsonld``: writes each flavour for a reference example; bad input exits 2 without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isaprofile.cli.jsonld import command

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "preclinical-liver"


@pytest.mark.parametrize(("flavour", "key"), [("ro-crate", "@graph"), ("isa-json", "studies"),
                                              ("datacite", "titles"), ("zenodo", "metadata"),
                                              ("schema-org", "@type")])  # fmt: skip
def test_writes_each_flavour(tmp_path: Path, flavour: str, key: str) -> None:
    if not EXAMPLE.is_dir():
        pytest.skip("example dataset not present")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(command, [str(EXAMPLE), "-o", str(out), "--flavour", flavour])
    assert result.exit_code == 0, result.output
    assert key in json.loads(out.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_missing_dataset_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, [str(tmp_path / "nope"), "-o", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "o.json").exists()
