"""Linked data of the bundled examples: ISA-Tab → model → JSON-LD → model, and ISA-JSON schema validity."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_linked_isajson import _validator

from isaprofile.dataset import load_dataset
from isaprofile.isatab.write import write_isatab
from isaprofile.linked.isajson import build_isa_json
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.linked.readback import from_jsonld
from isaprofile.pipeline import check

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["preclinical-liver", "crlm-ct", "enhance-petct"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_isatab_to_jsonld_and_back(name: str, tmp_path: Path) -> None:
    root = ROOT / "examples" / name
    checked = load_dataset(root)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid
    write_isatab(inv, tmp_path / "isa", prof)
    checked = check(tmp_path / "isa", data_root=root, skip=("phi",))  # the PHI policy lives in the config
    from_isa, _, rep = checked.investigation, checked.profile, checked.report
    assert rep.valid
    doc, _ = build_ro_crate(from_isa, prof)
    back, rep = from_jsonld(doc, prof)
    assert rep.valid and back is not None
    for a, b in zip(from_isa.studies, back.studies, strict=True):
        assert (a.subjects, a.samples, a.scans) == (b.subjects, b.samples, b.scans)


@pytest.mark.parametrize("name", EXAMPLES)
def test_isa_json_of_examples_is_schema_valid(name: str) -> None:
    checked = load_dataset(ROOT / "examples" / name)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    errors = sorted(_validator().iter_errors(build_isa_json(inv, prof)), key=lambda e: list(e.absolute_path))
    assert [(list(e.absolute_path), e.message) for e in errors] == []
