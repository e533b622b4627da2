"""The dataset config: its schema (published copy identical), sheet/file entries and their checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from isaprofile.harvest.config import config_schema, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_published_schema_is_the_packaged_one() -> None:
    published = json.loads((ROOT / "schemas" / "dataset-config.schema.json").read_text(encoding="utf-8"))
    assert published == config_schema()
    packaged = ROOT / "isaprofile" / "harvest" / "dataset-config.schema.json"
    assert packaged.read_bytes() == (ROOT / "schemas" / "dataset-config.schema.json").read_bytes()


def test_examples_configs_load() -> None:
    for name in ("preclinical-liver", "crlm-ct", "enhance-petct"):
        config, report = load_config(ROOT / "examples" / name)
        assert report.flatten() == [], name
        assert config is not None


def test_sheet_and_file_entries_parsed() -> None:
    config, _ = load_config(ROOT / "examples" / "crlm-ct")
    clinical, nbia = config.sheets
    assert (clinical.entity, clinical.sheet, clinical.header_row) == ("subject", "TCIA_n=197", 1)
    assert clinical.values == {"sex": {"1": "male", "2": "female"}}
    assert clinical.missing == frozenset({"-999", "999"})
    assert nbia.link == {"subject": "Subject ID", "file": "File Location"}
    [files] = config.files
    groups = files.pattern.fullmatch("CRLM-CT-1001/a/b/1-001.dcm").groupdict()
    assert files.sample_id(groups) == "CRLM-CT-1001-preop"


def _broken(tmp_path: Path, change) -> list[tuple]:
    root = Path(shutil.copytree(ROOT / "examples" / "enhance-petct", tmp_path / "e"))
    data = yaml.safe_load((root / "isaprofile.yaml").read_text())
    change(data)
    (root / "isaprofile.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    config, report = load_config(root)
    assert config is None
    return [(i.code, i.file, i.path) for i in report.issues]


def test_bad_pattern(tmp_path: Path) -> None:
    found = _broken(tmp_path, lambda d: d["files"][0].update(pattern="images/(?P<subject"))
    assert found == [("config-invalid", "isaprofile.yaml", "$['files'][0]['pattern']")]


def test_unknown_sheet_entity(tmp_path: Path) -> None:
    found = _broken(tmp_path, lambda d: d["sheets"][0].update(entity="patient"))
    assert found == [("config-invalid", "isaprofile.yaml", "$['sheets'][0]['entity']")]


def test_unknown_sheet_key(tmp_path: Path) -> None:
    found = _broken(tmp_path, lambda d: d["sheets"][1].update(colums={}))
    assert found == [("config-invalid", "isaprofile.yaml", "$['sheets'][1]")]
