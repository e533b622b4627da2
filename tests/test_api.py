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


def test_model_values_come_back_from_pickle_as_they_went() -> None:
    """Worker processes send their values back pickled (a short form: ``model._rebuilt``)."""
    import pickle

    from isaprofile.model import Provenance, Term, Value

    term = Term("millimetre", accession="UO:0000016")  # its source was filled in by __post_init__
    values = [
        Value(1.5, term, Provenance("s/1.nii.gz", path="pixdim[1]")),
        Value("C57BL/6J", None, Provenance("metadata.xlsx", 2, 4, "sheet 'Subjects', column 'Animal strain'")),
        Value(Term("liver", "UBERON", "UBERON:0002107")),
    ]
    back = pickle.loads(pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == values and [v.provenance for v in back] == [v.provenance for v in values]
    assert back[0].unit is not None and back[0].unit.source == "UO"
    assert type(back[0]) is Value and type(back[0].provenance) is Provenance
