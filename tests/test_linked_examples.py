"""Linked data of the bundled examples: ISA-Tab → model → JSON-LD → model, and ISA-JSON schema validity."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_linked_isajson import _validator

from isaprofile.dataset import load_dataset
from isaprofile.isatab.read import read_isatab
from isaprofile.isatab.write import write_isatab
from isaprofile.linked.isajson import build_isa_json
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.readback import from_jsonld

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["preclinical-liver", "crlm-ct", "enhance-petct"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_isatab_to_jsonld_and_back(name: str, tmp_path: Path) -> None:
    root = ROOT / "examples" / name
    inv, prof, report = load_dataset(root)
    assert report.valid
    write_isatab(inv, tmp_path / "isa", prof)
    from_isa, _, rep = read_isatab(tmp_path / "isa", data_root=root)
    assert rep.valid
    doc, _ = build_ro_crate(from_isa, prof)
    back, rep = from_jsonld(doc, prof)
    assert rep.valid and back is not None
    for a, b in zip(from_isa.studies, back.studies, strict=True):
        assert (a.subjects, a.samples, a.scans) == (b.subjects, b.samples, b.scans)


@pytest.mark.parametrize("name", EXAMPLES)
def test_isa_json_of_examples_is_schema_valid(name: str) -> None:
    inv, prof, _ = load_dataset(ROOT / "examples" / name)
    errors = sorted(_validator().iter_errors(build_isa_json(inv, prof)), key=lambda e: list(e.absolute_path))
    assert [(list(e.absolute_path), e.message) for e in errors] == []
