"""Licences as data, from the published facts of ENHANCE.PET 1.6k.

The release's Data-Source values are "AutoPET Challenge", "University Hospital Leipzig (Germany)" and
"Azienda Ospedaliero Universitaria Careggi (IT)"; the AutoPET part is CC BY-NC 4.0, the rest CC BY 4.0
(issue 9). The tests copy examples/enhance-petct, give its three subjects those three sources and check
that every file carries its own licence in the RO-Crate, DataCite lists both, Zenodo gets two records,
and that declaring only CC BY is a located finding.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import isaprofile
from isaprofile.dataset import load_dataset
from isaprofile.licences import (
    LicenceMap,
    RowLicences,
    apply_subject_licences,
    check_deposit_licences,
    data_files,
    dataset_licences,
    files_by_licence,
    licence_parts,
    resolve_licences,
    rules_from_config,
)
from isaprofile.linked.datacite import datacite, schema_org, zenodo_records
from isaprofile.linked.jsonld import build_ro_crate
from isaprofile.model import DataFile, Investigation, Sample, Scan, Study, Subject
from isaprofile.package.datapackage import datapackage

ROOT = Path(__file__).resolve().parents[1]
LEIPZIG = "University Hospital Leipzig (Germany)"
CAREGGI = "Azienda Ospedaliero Universitaria Careggi (IT)"
AUTOPET = "AutoPET Challenge"
SOURCES = {"0001": LEIPZIG, "0002": CAREGGI, "0003": AUTOPET}
RELEASE = {AUTOPET: "CC-BY-NC-4.0", LEIPZIG: "CC-BY-4.0", CAREGGI: "CC-BY-4.0"}
BY, NC = "https://spdx.org/licenses/CC-BY-4.0", "https://spdx.org/licenses/CC-BY-NC-4.0"


def _sheets(root: Path) -> list[Path]:
    return sorted(root.glob("*-details.xlsx"))


def _set_sources(root: Path) -> None:
    """Write the release's Data-Source values into every detail sheet that has the column."""
    for path in _sheets(root):
        wb = openpyxl.load_workbook(path)
        ws = wb.active
        header = [c.value for c in ws[1]]
        if "Data-Source" not in header:
            continue
        pat, src = header.index("Patient") + 1, header.index("Data-Source") + 1
        for row in range(2, ws.max_row + 1):
            ws.cell(row, src).value = SOURCES[f"{int(ws.cell(row, pat).value):04d}"]
        wb.save(path)


def _config(root: Path) -> dict:
    return yaml.safe_load((root / "isaprofile.yaml").read_text())


def _write(root: Path, config: dict) -> None:
    (root / "isaprofile.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """examples/enhance-petct with the release's Data-Source values; licences through the sheets' value map."""
    root = Path(shutil.copytree(ROOT / "examples" / "enhance-petct", tmp_path / "enhance-petct"))
    _set_sources(root)
    config = _config(root)
    config["investigation"]["licences"] = ["CC-BY-4.0", "CC-BY-NC-4.0"]
    for sheet in config["sheets"]:
        if "licence" in (sheet.get("values") or {}):
            sheet["values"] = {**sheet["values"], "licence": dict(RELEASE)}
    _write(root, config)
    return root


@pytest.fixture
def by_rules(release: Path) -> Path:
    """The same release, licences by a ``licence_rules:`` rule on Data-Source instead of the value map."""
    config = _config(release)
    for sheet in config["sheets"]:
        cols = sheet.get("columns") or {}
        if "Data-Source" in cols:
            cols["Data-Source"] = "data_source"
        (sheet.get("values") or {}).pop("licence", None)
    config["licence_rules"] = [{"by": "Data-Source", "map": dict(RELEASE)}]
    _write(release, config)
    return release


def _subject_of(path: str) -> str:
    return re.search(r"(\d{4})\.nii(\.gz)?$", path).group(1)  # type: ignore[union-attr]


def _expected(path: str) -> str:
    return RELEASE[SOURCES[_subject_of(path)]]


def _crate(root: Path):
    checked = load_dataset(root)
    inv, prof, _report = checked.investigation, checked.profile, checked.report
    lmap, rep = dataset_licences(root, inv, prof)
    doc, rep2 = build_ro_crate(inv, prof, root=root, licences=lmap)
    return inv, prof, lmap, rep, doc, rep2


# ------------------------------------------------------------------------------------------- the release


def test_release_validates_and_every_file_gets_its_sources_licence(release: Path) -> None:
    checked = load_dataset(release)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid, report.flatten()
    lmap, rep = dataset_licences(release, inv, prof)
    assert rep.issues == []
    files = data_files(inv)
    assert files and set(lmap.files) == set(files)
    assert {p: lmap.files[p] for p in files} == {p: _expected(p) for p in files}
    assert dict(lmap.subjects) == {"0001": "CC-BY-4.0", "0002": "CC-BY-4.0", "0003": "CC-BY-NC-4.0"}
    assert lmap.used == ("CC-BY-4.0", "CC-BY-NC-4.0")


@pytest.mark.parametrize("form", ["release", "by_rules"])
def test_crate_file_entities_carry_their_licence(form: str, request: pytest.FixtureRequest) -> None:
    root = request.getfixturevalue(form)
    inv, _, lmap, rep, doc, rep2 = _crate(root)
    assert rep.issues == [] and rep2.issues == []
    ents = {e["@id"]: e for e in doc["@graph"]}
    assert ents["./"]["license"] == [{"@id": BY}, {"@id": NC}]
    assert (
        ents[BY]["@type"] == "CreativeWork"
        and ents[NC]["name"] == "Creative Commons Attribution Non Commercial 4.0 International"
    )
    files = [e for e in doc["@graph"] if e.get("@type") == "File"]
    assert len(files) == len(data_files(inv))
    for ent in files:
        assert ent["license"] == {"@id": f"https://spdx.org/licenses/{_expected(ent['@id'])}"}, ent["@id"]
    nc = {e["@id"] for e in files if e["license"]["@id"] == NC}
    assert nc and all(_subject_of(p) == "0003" for p in nc)


def test_datacite_and_schema_org_list_every_licence(release: Path) -> None:
    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    rights = datacite(inv, licences=lmap)["rightsList"]
    assert [(r["rightsIdentifier"], r["rightsUri"], r["rightsIdentifierScheme"]) for r in rights] == [
        ("cc-by-4.0", BY, "SPDX"),
        ("cc-by-nc-4.0", NC, "SPDX"),
    ]
    assert schema_org(inv, licences=lmap)["license"] == [BY, NC]


def test_a_licence_only_the_files_carry_still_reaches_rights_list() -> None:
    inv = Investigation(identifier="x", licences=["CC-BY-4.0"])
    lmap = LicenceMap(("CC-BY-4.0",), {"a.nii": "CC-BY-4.0", "b.nii": "CC0-1.0"}, {})
    assert [r["rightsIdentifier"] for r in datacite(inv, licences=lmap)["rightsList"]] == ["cc-by-4.0", "cc0-1.0"]


def test_two_zenodo_records_one_per_licence(release: Path) -> None:
    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    records = zenodo_records(inv, lmap)
    assert [r.licence for r in records] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
    assert [r.metadata["metadata"]["license"] for r in records] == ["cc-by-4.0", "cc-by-nc-4.0"]
    assert [r.subjects for r in records] == [["0001", "0002"], ["0003"]]
    by, nc = records
    assert sorted(by.files + nc.files) == sorted(data_files(inv))
    assert nc.files and all(_subject_of(p) == "0003" for p in nc.files)
    assert not set(by.files) & set(nc.files)
    assert "CC-BY-NC-4.0" in by.metadata["metadata"]["description"]
    assert nc.metadata["metadata"]["title"].endswith("Non Commercial 4.0 International part")
    assert "notes" in nc.metadata["metadata"]


def test_zenodo_refuses_a_mixed_deposit_unless_split_by_licence(release: Path) -> None:
    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    report = check_deposit_licences(lmap, "zenodo")
    assert report.flatten(("code", "severity", "path")) == [("licence-split-required", "error", "--split")]
    assert "2 licences (CC-BY-4.0, CC-BY-NC-4.0)" in report.issues[0].message
    assert "--split licence" in (report.issues[0].hint or "")
    assert check_deposit_licences(lmap, "zenodo", split_by_licence=True).issues == []
    assert [i.severity for i in check_deposit_licences(lmap, severity="warning")] == ["warning"]
    assert check_deposit_licences(lmap, "bagit").issues == []
    single = LicenceMap(("CC-BY-4.0",), {"a": "CC-BY-4.0"}, {})
    assert check_deposit_licences(single, "zenodo").issues == []


# ------------------------------------------------------------------------------------------- the check


def _data_source_cells(root: Path, subject: str) -> set[tuple[str, int, int]]:
    """Every sheet cell holding ``subject``'s Data-Source: (file, 1-based row, 1-based column)."""
    out = set()
    for path in _sheets(root):
        ws = openpyxl.load_workbook(path).active
        header = [c.value for c in ws[1]]
        if "Data-Source" not in header:
            continue
        pat = header.index("Patient") + 1
        for row in range(2, ws.max_row + 1):
            if f"{int(ws.cell(row, pat).value):04d}" == subject:
                out.add((path.name, row, header.index("Data-Source") + 1))
    return out


def test_only_cc_by_declared_while_autopet_is_cc_by_nc(release: Path) -> None:
    config = _config(release)
    config["investigation"]["licences"] = ["CC-BY-4.0"]
    _write(release, config)
    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    _, report = dataset_licences(release, inv, prof)
    assert [i.code for i in report] == ["licence-undeclared"]
    found = report.issues[0]
    assert (found.file, found.line, found.column) in _data_source_cells(release, "0003")
    assert found.path is not None and "Data-Source" in found.path
    assert found.message == (
        "licence 'CC-BY-NC-4.0' used by the licence value of 1 subject is not among the declared licences (CC-BY-4.0)"
    )


def test_only_cc_by_declared_with_a_rule(by_rules: Path) -> None:
    config = _config(by_rules)
    config["investigation"]["licences"] = ["CC-BY-4.0"]
    _write(by_rules, config)
    report = isaprofile.validate(by_rules)  # the pipeline resolves licences before the rules give them out
    assert [f for f in report.flatten(("code", "file", "line", "column", "path")) if f[0].startswith("licence")] == [
        ("licence-undeclared", "isaprofile.yaml", None, None, "licence_rules[0].map.AutoPET Challenge")
    ]


def test_source_no_rule_maps_leaves_its_files_uncovered(by_rules: Path) -> None:
    config = _config(by_rules)
    config["licence_rules"][0]["map"] = {"AutoPET": "CC-BY-NC-4.0", LEIPZIG: "CC-BY-4.0", CAREGGI: "CC-BY-4.0"}
    _write(by_rules, config)
    checked = load_dataset(by_rules)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, report = dataset_licences(by_rules, inv, prof)
    autopet = sorted(p for p in data_files(inv) if _subject_of(p) == "0003")
    assert report.flatten(("code", "file", "path")) == [
        *(("licence-file-uncovered", p, p) for p in autopet),
        ("licence-rule-unmatched", "isaprofile.yaml", "$['licence_rules'][0]['map']['AutoPET']"),
        ("licence-unused", "isaprofile.yaml", "$['investigation']['licences'][1]"),
    ]
    assert report.issues[0].message == f"data file '{autopet[0]}' (subject 0003) is covered by no declared licence"
    assert not set(autopet) & set(lmap.files)
    assert "0003" not in lmap.subjects


def test_unused_declared_licence_is_a_warning(by_rules: Path) -> None:
    config = _config(by_rules)
    config["investigation"]["licences"] = ["CC-BY-4.0", "CC-BY-NC-4.0", "CC0-1.0"]
    _write(by_rules, config)
    checked = load_dataset(by_rules)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    _, report = dataset_licences(by_rules, inv, prof)
    assert report.flatten(("code", "severity", "file", "path")) == [
        ("licence-unused", "warning", "isaprofile.yaml", "$['investigation']['licences'][2]")
    ]


def test_file_covered_twice(by_rules: Path) -> None:
    config = _config(by_rules)
    config["licence_rules"].append({"glob": "*images/*", "licence": "CC-BY-4.0"})
    _write(by_rules, config)
    checked = load_dataset(by_rules)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, report = dataset_licences(by_rules, inv, prof)
    twice = sorted(p for p in data_files(inv) if _subject_of(p) == "0003" and "/images/" in f"/{p}")
    assert twice
    assert report.flatten(("code", "file")) == [("licence-file-ambiguous", p) for p in twice]
    assert "CC-BY-NC-4.0, CC-BY-4.0" in report.issues[0].message
    assert "$['licence_rules'][1]" in report.issues[0].message
    assert not set(twice) & set(lmap.files)


def test_default_rule_and_subject_rule() -> None:
    inv = _small(["CC-BY-4.0", "CC0-1.0"])
    rules, rep = rules_from_config(
        {"licence_rules": [{"subjects": ["s2"], "licence": "CC0-1.0"}, {"default": "CC-BY-4.0"}]}
    )
    assert rep.issues == []
    lmap, report = resolve_licences(inv, rules)
    assert report.issues == []
    assert dict(lmap.files) == {"s1/a.nii.gz": "CC-BY-4.0", "s2/a.nii.gz": "CC0-1.0", "s2/series": "CC0-1.0"}
    assert lmap.of("s2/series/IM0001.dcm") == "CC0-1.0"
    assert lmap.of("elsewhere/x.dcm") is None


def test_single_declared_licence_covers_everything_without_rules(example: Path) -> None:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, report = dataset_licences(example, inv, prof)
    assert report.issues == []
    assert set(lmap.files) == set(data_files(inv)) and set(lmap.files.values()) == {"CC-BY-4.0"}


def test_two_declared_licences_without_rules_cover_nothing() -> None:
    lmap, report = resolve_licences(_small(["CC-BY-4.0", "CC0-1.0"]))
    assert sorted(report.codes()) == ["licence-file-uncovered"] * 3 + ["licence-unused"] * 2
    assert lmap.files == {}


def test_unknown_spdx_id_in_a_rule() -> None:
    rules, _ = rules_from_config({"licence_rules": [{"default": "CC-BY-4"}]})
    _, report = resolve_licences(_small(["CC-BY-4.0"]), rules)
    assert ("licence-unknown", "$['licence_rules'][0]['default']") in report.flatten(("code", "path"))


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"by": "Data-Source"}, "$['licence_rules'][0]"),
        ({"glob": "*", "default": "CC0-1.0"}, "$['licence_rules'][0]"),
        ({"by": "Data-Source", "map": {"A": 3}}, "$['licence_rules'][0]['map']['A']"),
        ({"subjects": [], "licence": "CC0-1.0"}, "$['licence_rules'][0]['subjects']"),
        ("CC0-1.0", "$['licence_rules'][0]"),
    ],
)
def test_malformed_rules_are_config_findings(rules: object, path: str) -> None:
    _, report = rules_from_config({"licence_rules": [rules]})
    assert report.flatten(("code", "file", "path")) == [("config-invalid", "isaprofile.yaml", path)]


# ------------------------------------------------------------------------------------------- outputs


def test_rocrate_validator_accepts_the_mixed_licence_crate(release: Path, tmp_path: Path) -> None:
    from rocrate_validator import services
    from rocrate_validator.models import ValidationSettings
    from test_linked_rocrate import PREVIEW, _seed_validator_cache

    from isaprofile.linked.context import dumps

    *_, doc, _ = _crate(release)
    (release / "ro-crate-metadata.json").write_bytes(dumps(doc))
    (release / "ro-crate-preview.html").write_text(PREVIEW)
    cache = tmp_path / "http-cache"
    _seed_validator_cache(cache)
    for profile_id in ("ro-crate-1.2", "isa-ro-crate"):
        settings = ValidationSettings(
            rocrate_uri=str(release), profile_identifier=profile_id, requirement_severity="REQUIRED",
            offline=True, cache_path=cache, disable_inherited_profiles_issue_reporting=profile_id == "isa-ro-crate",
        )  # fmt: skip
        result = services.validate(settings)
        required = [(i.check.name, i.message) for i in result.get_issues() if i.severity.name == "REQUIRED"]
        assert required == [], profile_id
        assert result.passed(), profile_id


def test_datapackage_resources_carry_the_licences_of_their_rows(release: Path) -> None:
    from frictionless import Package

    from isaprofile.isatab.write import write_isatab

    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        written = write_isatab(inv, out / "isa", prof)
        tables = {f"isa/{p.name}": p.read_bytes() for p in written if not p.name.startswith("i_")}
        # the licences are found in the same read of each table as its field types
        desc = datapackage(inv.identifier, tables, inv.title, list(inv.licences), RowLicences(inv, lmap))
        # a table holding only Leipzig and Careggi rows names CC BY alone
        name, data = next((k, v) for k, v in tables.items() if k.rsplit("/", 1)[-1].startswith("s_"))
        lines = data.decode().splitlines(keepends=True)
        only = lines[0] + "".join(line for line in lines[1:] if not line.startswith("0003\t"))
        alone = json.loads(datapackage(inv.identifier, {name: only.encode()}, inv.title, list(inv.licences),
                                       RowLicences(inv, lmap)))  # fmt: skip
        assert [x["name"] for x in alone["resources"][0]["licenses"]] == ["CC-BY-4.0"]
        (out / "datapackage.json").write_bytes(desc)
        pkg = json.loads(desc)
        assert [x["name"] for x in pkg["licenses"]] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
        for res in pkg["resources"]:
            assert [x["name"] for x in res["licenses"]] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
            assert res["licenses"][1]["path"] == "https://spdx.org/licenses/CC-BY-NC-4.0.html"
        report = Package(str(out / "datapackage.json")).validate()
        assert report.valid, report.flatten(["type", "note"])


def test_licence_split_by_size_keeps_each_part_to_one_licence(release: Path) -> None:
    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    sizes = {p: (release / p).stat().st_size for p in data_files(inv)}
    parts, report = licence_parts(sizes, lmap)
    assert report.issues == []
    assert [(p.licence, p.part.name) for p in parts] == [("CC-BY-4.0", "part-001"), ("CC-BY-NC-4.0", "part-002")]
    assert parts[1].part.files == sorted(p for p in sizes if _subject_of(p) == "0003")
    parts, report = licence_parts(sizes, lmap, max_files=4)
    assert report.issues == []
    assert [p.part.name for p in parts] == [f"part-{n:03d}" for n in range(1, len(parts) + 1)]
    assert all(p.part.entries <= 4 for p in parts)
    members = {p.part.name: p.part.files + [f for b in p.part.bundles for f in b.files] for p in parts}
    assert sorted(f for fs in members.values() for f in fs) == sorted(sizes)
    for p in parts:
        assert {lmap.of(f) for f in members[p.part.name]} == {p.licence}


def test_files_by_licence_reports_a_payload_file_without_licence() -> None:
    lmap = LicenceMap(("CC-BY-4.0",), {"s1/series": "CC-BY-4.0"}, {})
    groups, report = files_by_licence(["s1/series/1.dcm", "s1/series/2.dcm", "other.txt"], lmap)
    assert groups == {"CC-BY-4.0": ["s1/series/1.dcm", "s1/series/2.dcm"]}
    assert report.flatten(("code", "file")) == [("licence-file-uncovered", "other.txt")]


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-c]/[a-d]{1,3}\.nii", fullmatch=True),
        st.tuples(st.integers(1, 50), st.sampled_from(["CC-BY-4.0", "CC-BY-NC-4.0", "CC0-1.0"])),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 5),
    st.integers(50, 200),
)
def test_licence_parts_partition_property(files: dict, max_files: int, max_bytes: int) -> None:
    lmap = LicenceMap(("CC-BY-4.0",), {p: lic for p, (_, lic) in files.items()}, {})
    sizes = {p: size for p, (size, _) in files.items()}
    parts, report = licence_parts(sizes, lmap, max_files=max_files, max_bytes=max_bytes)
    placed = [f for p in parts for f in p.part.files] + [f for p in parts for b in p.part.bundles for f in b.files]
    assert sorted(placed) == sorted(sizes) and report.issues == []
    for p in parts:
        members = p.part.files + [f for b in p.part.bundles for f in b.files]
        assert {lmap.of(f) for f in members} == {p.licence}
        assert p.part.entries <= max_files and p.part.size <= max_bytes


def _small(licences: list[str]) -> Investigation:
    """Two subjects: s1 with one NIfTI, s2 with a NIfTI and a DICOM series folder."""
    study = Study(
        identifier="S",
        subjects=[Subject(id="s1"), Subject(id="s2")],
        samples=[Sample(id="s1-t0", subject="s1"), Sample(id="s2-t0", subject="s2")],
        scans=[
            Scan(id="s1-CT", sample="s1-t0", modality="CT", files=[DataFile(path="s1/a.nii.gz")]),
            Scan(
                id="s2-CT",
                sample="s2-t0",
                modality="CT",
                files=[DataFile(path="s2/a.nii.gz"), DataFile(path="s2/series")],
            ),
        ],
    )
    return Investigation(identifier="small", licences=licences, studies=[study])


def test_model_alone_gives_the_same_map_for_the_value_map_form(release: Path) -> None:
    """Subjects' own licence values need no config rules: the crate builder's fallback agrees."""
    from isaprofile.licences import licence_map

    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    assert licence_map(inv, prof) == dataset_licences(release, inv, prof)[0]


def test_rule_licences_recorded_on_subjects_reach_the_isatab(by_rules: Path, tmp_path: Path) -> None:
    from isaprofile.isatab.write import write_isatab

    checked = load_dataset(by_rules)  # the pipeline gives each subject its licence before the profile rules
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert "required-missing" not in report.codes()  # pet-ct requires the subject's licence: the rules gave it
    lmap, _ = dataset_licences(by_rules, inv, prof)
    assert apply_subject_licences(inv, lmap) == 0  # values already there are kept
    study = next(p for p in write_isatab(inv, tmp_path / "isa", prof) if p.name.startswith("s_"))
    rows = [line.split("\t") for line in study.read_text().splitlines()]
    col = rows[0].index("Comment[licence]")
    assert {r[0]: r[col] for r in rows[1:]} == {"0001": "CC-BY-4.0", "0002": "CC-BY-4.0", "0003": "CC-BY-NC-4.0"}


# ------------------------------------------------------------------------------------------- datapackage types


def test_datapackage_field_types_units_and_codes(release: Path, tmp_path: Path) -> None:
    """Numbers are numbers, identifiers with leading zeros stay strings, coded columns list their codes,
    the user's sheets are resources with their config's value maps; frictionless validates it all."""
    from frictionless import Package

    from isaprofile.harvest.config import load_config
    from isaprofile.isatab.write import write_isatab
    from isaprofile.package.datapackage import sheet_codes, sheet_resource

    checked = load_dataset(release)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    lmap, _ = dataset_licences(release, inv, prof)
    config, _ = load_config(release)
    assert config is not None
    out = tmp_path / "pkg"
    written = write_isatab(inv, out / "isa", prof)
    tables = {f"isa/{p.name}": p.read_bytes() for p in written if not p.name.startswith("i_")}
    (out / "sources").mkdir()
    extra = []
    for spec in config.sheets:
        data = (release / spec.file).read_bytes()
        (out / "sources" / spec.file).write_bytes(data)
        extra.append(sheet_resource(f"sources/{spec.file}", data, codes=sheet_codes(spec), licences=lmap.all))
    desc = datapackage(inv.identifier, tables, inv.title, list(inv.licences), RowLicences(inv, lmap), extra)
    (out / "datapackage.json").write_bytes(desc)
    report = Package(str(out / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])
    res = {r["name"]: r for r in json.loads(desc)["resources"]}
    study = next(r for name, r in res.items() if name.startswith("s_"))
    fields = {f["title"]: f for f in study["schema"]["fields"]}
    assert fields["Source Name"]["type"] == "string"  # 0001, 0002 …: identifiers, not numbers
    assert fields["Characteristics[age]"]["type"] == "integer"
    assert fields["Characteristics[age]"]["description"] == "Unit: year"
    assert fields["Characteristics[body weight]"]["type"] == "number"
    assert fields["Characteristics[sex]"]["constraints"] == {"enum": ["female", "male"]}
    assert fields["Characteristics[sex]"]["description"] == "Coded: female = PATO:0000383; male = PATO:0000384"
    pt = res["pt-details"]
    assert pt["format"] == "xlsx" and [x["name"] for x in pt["licenses"]] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
    pt_fields = {f["name"]: f for f in pt["schema"]["fields"]}
    assert pt_fields["Age"]["type"] == "integer" and pt_fields["Weight [kg]"]["type"] == "number"
    assert pt_fields["Patient"]["type"] == "string"
    assert "AutoPET Challenge = CC-BY-NC-4.0" in pt_fields["Data-Source"]["description"]


def test_datapackage_type_is_checked_by_frictionless(tmp_path: Path) -> None:
    """The inferred type is a claim frictionless checks: a text cell in an integer column fails."""
    from frictionless import Package

    good = b"Source Name\tCharacteristics[age]\tUnit\n0001\t63\tyear\n0002\t57\tyear\n"
    (tmp_path / "s_x.txt").write_bytes(good)
    desc = json.loads(datapackage("x", {"s_x.txt": good}))
    assert [f["type"] for f in desc["resources"][0]["schema"]["fields"]] == ["string", "integer", "string"]
    (tmp_path / "datapackage.json").write_text(json.dumps(desc))
    assert Package(str(tmp_path / "datapackage.json")).validate().valid
    (tmp_path / "s_x.txt").write_bytes(good.replace(b"\t57\t", b"\tfifty\t"))
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert [e[0] for e in report.flatten(["type"])] == ["type-error"]


@pytest.mark.parametrize("memo", [None, 3])  # 3: the writer's cell memo is emptied many times in a table
def test_datapackage_made_while_the_tables_are_written_equals_the_one_read_back(
    release: Path, tmp_path: Path, memo: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package command describes each ISA table from the rows the writer writes (no second read); the
    description is the one a read of the files gives, cells a spreadsheet would take for formulas and cells
    that need quotes included (the data package describes the cells as the file holds them)."""
    from isaprofile.isatab import write
    from isaprofile.isatab.write import write_isatab
    from isaprofile.licences import RowLicences
    from isaprofile.model import Term, Value
    from isaprofile.package.datapackage import WrittenTables

    if memo is not None:
        monkeypatch.setattr(write._Writer, "_MEMO_MAX", memo)

    checked = load_dataset(release)
    inv, prof = checked.investigation, checked.profile
    lmap, _ = dataset_licences(release, inv, prof)
    tricky = ["=1+1", "-x", "'=y", 'say "so"', "-1.5"]
    for subject, text in zip(inv.studies[0].subjects, tricky, strict=False):
        subject.comments["note"] = Value(text)
    inv.studies[0].subjects[0].characteristics["sex"] = Value(Term("=odd", "PATO", "PATO:0000384"))
    seen = WrittenTables("isa/", RowLicences(inv, lmap))
    written = write_isatab(inv, tmp_path / "isa", prof, observe=seen)
    tables = {f"isa/{p.name}": p for p in written if not p.name.startswith("i_")}
    assert sorted(seen.tables) == sorted(tables) and len(tables) >= 3
    as_written = json.loads(datapackage(inv.identifier, seen.tables, inv.title, list(lmap.all)))
    read_back = json.loads(datapackage(inv.identifier, tables, inv.title, list(lmap.all), RowLicences(inv, lmap)))
    assert as_written == read_back
    study = next(r for r in as_written["resources"] if r["name"].startswith("s_"))
    note = next(f for f in study["schema"]["fields"] if f["title"] == "Comment[note]")
    assert note["type"] == "string"
    sex = next(f for f in study["schema"]["fields"] if f["title"] == "Characteristics[sex]")
    assert sex["constraints"] == {"enum": ["'=odd", "female", "male"]}
    assert b"'=1+1" in (tmp_path / "isa" / study["path"].split("/")[-1]).read_bytes()  # the file's cell, neutralised
    assert [x["name"] for x in as_written["licenses"]] == ["CC-BY-4.0", "CC-BY-NC-4.0"]
