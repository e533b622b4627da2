"""isatools as a conformance oracle: with our imaging configurations its validator reports no error on our
ISA-Tab, and its loader reads back exactly the sources, samples, assays and data files we wrote.

Covers the example and a generated longitudinal dataset (100 mice × 3 time points, MRI and CT, segmentations:
600 assay rows).
The configurations are regenerated from the profiles and compared with the committed copies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest

from isaprofile.dataset import load_dataset
from isaprofile.isatab.isaconfig import (
    builtin_config_targets,
    isaconfig_documents,
    packaged_config_dir,
    write_isaconfig,
)
from isaprofile.isatab.write import write_isatab
from isaprofile.model import DataFile, Investigation, Sample, Scan, Segmentation, Study, Value
from isaprofile.profile.model import Profile, load_profile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "preclinical-liver"
WEEKS = (0, 4, 8)


def synthetic(n_mice: int, sampleless: bool = False) -> tuple[Investigation, Profile]:
    """A longitudinal study shaped like the example: ``n_mice`` mice, each imaged by MRI and CT at every
    week of ``WEEKS``; the scans of every second mouse carry a liver segmentation. With ``sampleless``
    every tenth mouse has no sample (a source row with nothing after it)."""
    checked = load_dataset(EXAMPLE)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid
    hcc, mash = inv.study("HCC-MRI"), inv.study("MASH-CT")
    subj_t, sample_t = hcc.subjects[0], hcc.samples[0]
    mri_t = next(s for s in hcc.scans if s.segmentations)
    ct_t = mash.scans[0]
    study = Study(
        identifier="SYN",
        title="Generated longitudinal MRI and CT",
        design_types=list(hcc.design_types),
        factors=list(hcc.factors),
    )
    for m in range(n_mice):
        mouse = f"M{m:04d}"
        study.subjects.append(dataclasses.replace(subj_t, id=mouse, characteristics=dict(subj_t.characteristics)))
        if sampleless and m % 10 == 9:
            continue
        for week in WEEKS:
            factors = dict(sample_t.factors)
            factors["time point"] = dataclasses.replace(sample_t.factors["time point"], value=week)
            sample = f"{mouse}-w{week}"
            study.samples.append(
                Sample(id=sample, subject=mouse, factors=factors, characteristics=dict(sample_t.characteristics))
            )
            for tmpl in (mri_t, ct_t):
                scan_id = f"{sample}-{tmpl.modality.lower()}"
                segs = []
                if m % 2 == 0:
                    segs = [
                        Segmentation(
                            values=dict(tmpl.segmentations[0].values), path=f"masks/{mouse}/{scan_id}_liver.nii.gz"
                        )
                    ]
                files = [DataFile(path=f"images/{mouse}/{scan_id}.nii.gz", comments=dict(tmpl.files[0].comments))]
                study.scans.append(
                    Scan(
                        id=scan_id,
                        sample=sample,
                        modality=tmpl.modality,
                        parameters=dict(tmpl.parameters),
                        comments=dict(tmpl.comments),
                        files=files,
                        segmentations=segs,
                    )
                )
    return Investigation(
        identifier="synthetic",
        title="Synthetic preclinical imaging",
        contacts=list(inv.contacts),
        studies=[study],
        profile=prof.id,
    ), prof


def isatools_validate(folder: Path, config_dir: Path) -> tuple[dict, str]:
    """isatools' validation result and what it printed (its rules print exceptions instead of raising)."""
    from isatools import isatab

    out = io.StringIO()
    with contextlib.redirect_stdout(out), (folder / "i_investigation.txt").open(encoding="utf-8") as fh:
        result = isatab.validate(fh, config_dir=str(config_dir))
    return result, out.getvalue()


def isatools_counts(folder: Path) -> list[tuple[str, int, int, int, int]]:
    """Per study: (identifier, sources, samples, assays, distinct data files) as isatools loads them."""
    from isatools import isatab

    with (folder / "i_investigation.txt").open(encoding="utf-8") as fh:
        inv = isatab.load(fh)
    return [
        (
            st.identifier,
            len(st.sources),
            len(st.samples),
            len(st.assays),
            len({d.filename for a in st.assays for d in a.data_files}),
        )
        for st in inv.studies
    ]


def our_counts(inv: Investigation) -> list[tuple[str, int, int, int, int]]:
    out = []
    for st in inv.studies:
        files = {f.path for s in st.scans for f in s.files}
        files |= {g.path for s in st.scans for g in s.segmentations if g.path}
        out.append((st.identifier, len(st.subjects), len(st.samples), len(st.modalities), len(files)))
    return out


@pytest.fixture(scope="module")
def example_isatab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Investigation]:
    checked = load_dataset(EXAMPLE)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid
    out = tmp_path_factory.mktemp("example") / "isa"
    write_isatab(inv, out, prof)
    return out, inv


@pytest.fixture(scope="module")
def synthetic_isatab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Investigation]:
    inv, prof = synthetic(100)
    out = tmp_path_factory.mktemp("synthetic") / "isa"
    write_isatab(inv, out, prof)
    return out, inv


def test_isatools_without_imaging_configs_stops_with_4002(example_isatab: tuple[Path, Investigation]) -> None:
    from isatools.isatab.defaults import default_config_dir

    result, _ = isatools_validate(example_isatab[0], Path(default_config_dir))
    assert 4002 in {e["code"] for e in result["errors"]}


def _explained(warning: dict) -> str:
    """Why isatools warns; every warning on our output is one of these, or "unexplained"."""
    code, text = warning["code"], warning["supplemental"]
    if code == 3008 and text.startswith("Incomplete values for ontology headers"):
        return "empty optional ontology cell"  # isatools warns on an empty cell of a column with ontologies
    if code == 4012 and "'Sample Name' in the file 's_" in text:
        return "subject without sample"
    if code == 4007 and "'Factor Value[time point]'" in text and " in s_" in text:
        return "subject without sample"
    return "unexplained"


def test_isatools_validates_the_example_with_zero_errors(example_isatab: tuple[Path, Investigation]) -> None:
    result, printed = isatools_validate(example_isatab[0], packaged_config_dir("preclinical-imaging"))
    assert result["errors"] == []
    assert result["validation_finished"] is True
    assert printed == ""  # a rule that crashed would have printed its exception instead of reporting it
    assert [(w["code"], _explained(w)) for w in result["warnings"]] == [(3008, "empty optional ontology cell")]


def test_isatools_validates_the_synthetic_dataset_with_zero_errors(
    synthetic_isatab: tuple[Path, Investigation],
) -> None:
    result, printed = isatools_validate(synthetic_isatab[0], packaged_config_dir("preclinical-imaging"))
    assert result["errors"] == []
    assert result["validation_finished"] is True
    assert printed == ""
    reasons = {(w["code"], _explained(w)) for w in result["warnings"]}
    assert reasons == {(3008, "empty optional ontology cell")}


def test_isatools_validates_subjects_without_samples_with_zero_errors(tmp_path: Path) -> None:
    """A subject without samples is a source row ending there: isatools warns (empty Sample Name and factor
    value), it reports no error. (isatools' *loader* cannot read such a row; see docs/isatools.md.)"""
    inv, prof = synthetic(20, sampleless=True)
    write_isatab(inv, tmp_path / "isa", prof)
    result, printed = isatools_validate(tmp_path / "isa", packaged_config_dir(prof))
    assert (result["errors"], printed) == ([], "")
    reasons = [(w["code"], _explained(w)) for w in result["warnings"]]
    assert "unexplained" not in {r for _c, r in reasons}
    assert reasons.count((4012, "subject without sample")) == 2  # mice 9 and 19
    assert reasons.count((4007, "subject without sample")) == 2


def test_synthetic_dataset_has_the_intended_size(synthetic_isatab: tuple[Path, Investigation]) -> None:
    folder, inv = synthetic_isatab
    assert our_counts(inv) == [("SYN", 100, 300, 2, 600 + 300)]
    rows = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in folder.glob("a_*.txt"))
    assert rows == 600


@pytest.mark.parametrize("dataset", ["example_isatab", "synthetic_isatab"])
def test_isatools_load_counts_equal_ours(dataset: str, request: pytest.FixtureRequest) -> None:
    folder, inv = request.getfixturevalue(dataset)
    assert isatools_counts(folder) == our_counts(inv)


def test_isatools_load_counts_of_the_example_are_exact(example_isatab: tuple[Path, Investigation]) -> None:
    assert isatools_counts(example_isatab[0]) == [("HCC-MRI", 5, 15, 1, 20), ("MASH-CT", 3, 3, 1, 6)]


def test_assay_configs_match_the_assay_types_the_writer_declares(example_isatab: tuple[Path, Investigation]) -> None:
    from isatools.io import isatab_configurator

    configs = isatab_configurator.load(str(packaged_config_dir("preclinical-imaging")))
    prof = load_profile("preclinical-imaging")
    expected = {(a.measurement.label.lower(), a.technology.label.lower()) for a in prof.assays.values()}
    assert set(configs) == expected | {("[investigation]", ""), ("[sample]", "")}
    text = (example_isatab[0] / "i_investigation.txt").read_text(encoding="utf-8")
    rows = {line.split("\t", 1)[0]: line.split("\t")[1:] for line in text.splitlines()}
    assert ("magnetic resonance imaging", "magnetic resonance imaging assay") in configs
    assert rows["Study Assay Technology Type"][0].lower() in {t for _m, t in expected}


def test_committed_configs_equal_regenerated(tmp_path: Path) -> None:
    targets = builtin_config_targets(ROOT)
    assert any(p.name == "preclinical-imaging" for p, _ in targets)
    for prof, folders in targets:
        expected = isaconfig_documents(prof)
        for folder in folders:
            committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.xml"))}
            assert committed == expected, f"{folder} is stale: run python -m isaprofile.isatab.isaconfig"


def test_write_isaconfig_is_deterministic_and_replaces_stale_files(tmp_path: Path) -> None:
    prof = load_profile("preclinical-imaging")
    (tmp_path / "old.xml").write_text("<old/>", encoding="utf-8")
    (tmp_path / "old.json").write_text("{}", encoding="utf-8")
    first = {p.name: p.read_bytes() for p in write_isaconfig(prof, tmp_path)}
    second = {p.name: p.read_bytes() for p in write_isaconfig(prof, tmp_path)}
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(first)
    assert sorted(first) == [
        "imaging_ct.json",
        "imaging_ct.xml",
        "imaging_mri.json",
        "imaging_mri.xml",
        "imaging_mri_ct.json",
        "imaging_mri_ct.xml",
        "imaging_us.json",
        "imaging_us.xml",
        "investigation.xml",
        "studySample.xml",
        "study_config.json",
    ]


def test_segmentation_parameters_are_not_required_per_row() -> None:
    text = isaconfig_documents(load_profile("preclinical-imaging"))["imaging_mri.xml"]
    line = next(x for x in text.splitlines() if 'header="Parameter Value[segmented organ]"' in x)
    assert 'is-required="false"' in line
    line = next(x for x in text.splitlines() if 'header="Parameter Value[manufacturer]"' in x)
    assert 'is-required="true"' in line


def test_unknown_profile_has_no_packaged_configs() -> None:
    prof = dataclasses.replace(load_profile("preclinical-imaging"), name="my-lab-profile")
    with pytest.raises(FileNotFoundError, match="my-lab-profile"):
        packaged_config_dir(prof)


def test_values_without_profile_terms_keep_validating(tmp_path: Path) -> None:
    """A free-text value in an open term column (no Term Source REF) is not an isatools error."""
    inv, prof = synthetic(3)
    scan = inv.studies[0].scans[0]
    scan.parameters["contrast agent"] = Value("an experimental agent")
    write_isatab(inv, tmp_path / "isa", prof)
    result, printed = isatools_validate(tmp_path / "isa", packaged_config_dir(prof))
    assert (result["errors"], printed) == ([], "")


@pytest.mark.parametrize("name", ["crlm-ct", "enhance-petct"])
def test_isatools_accepts_the_other_bundled_examples(name: str, tmp_path: Path) -> None:
    """The configurations are generic over ``profile.assays``: clinical CT and PET/CT validate and load too."""
    checked = load_dataset(ROOT / "examples" / name)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.valid
    write_isatab(inv, tmp_path / "isa", prof)
    result, printed = isatools_validate(tmp_path / "isa", packaged_config_dir(prof))
    assert (result["errors"], printed) == ([], "")
    assert {(w["code"], _explained(w)) for w in result["warnings"]} <= {(3008, "empty optional ontology cell")}
    assert isatools_counts(tmp_path / "isa") == our_counts(inv)
