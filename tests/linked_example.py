"""A small, realistic preclinical investigation for the linked-data tests (built in code, no files).

Four mice in a liver-disease study: MRI at weeks 0, 4 and 8, CT at week 8, liver and spleen
segmentations (one stated without a mask), units and ontology terms from the preclinical profile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from isaprofile.model import (
    DataFile,
    Investigation,
    Person,
    Sample,
    Scan,
    Segmentation,
    Study,
    Subject,
    Term,
    Value,
)
from isaprofile.profile import Profile, load_profile

UO = {
    "d": Term("day", "UO", "UO:0000033"),
    "wk": Term("week", "UO", "UO:0000034"),
    "g": Term("gram", "UO", "UO:0000021"),
    "ms": Term("millisecond", "UO", "UO:0000028"),
    "mm": Term("millimetre", "UO", "UO:0000016"),
    "T": Term("tesla", "UO", "UO:0000228"),
    "deg": Term("degree", "UO", "UO:0000185"),
    "kV": Term("kilovolt", "UO", "UO:0000248"),
}


def profile() -> Profile:
    """The built-in preclinical-imaging@1.0 profile."""
    return load_profile("preclinical-imaging@1.0")


def _term(key: str, label: str) -> Term:
    f = profile().field(key)
    t = f.find_term(label)
    assert t is not None, (key, label)
    return t


def investigation() -> Investigation:
    """The example investigation (fresh objects on every call)."""
    mice = ["M01", "M02", "M03", "M04"]
    subjects, samples, scans = [], [], []
    for i, m in enumerate(mice):
        sick = i < 3
        subjects.append(
            Subject(
                id=m,
                characteristics={
                    "organism": Value(_term("organism", "Mus musculus")),
                    "animal_strain": Value("C57BL/6J"),
                    "health_status": Value(_term("health_status", "not healthy" if sick else "healthy")),
                    "disease_model": Value(_term("disease_model", "HCC" if sick else "none")),
                    "sex": Value(_term("sex", "male" if i % 2 else "female")),
                    "age": Value(56 + i, UO["d"]),
                },
            )
        )
        for week in (0, 4, 8):
            sid = f"{m}_w{week}"
            samples.append(
                Sample(
                    id=sid,
                    subject=m,
                    factors={"study_week": Value(week, UO["wk"])},
                    characteristics={"body_weight": Value(22.5 + i + week / 4, UO["g"])},
                )
            )
    for i, m in enumerate(mice):
        for week in (0, 4, 8):
            sid = f"{m}_w{week}"
            scans.append(
                Scan(
                    id=f"{sid}_MRI",
                    sample=sid,
                    modality="MRI",
                    parameters={
                        "brand": Value(_term("brand", "Bruker")),
                        "device_name": Value("BioSpec 94/20"),
                        "field_strength": Value(9.4, UO["T"]),
                        "repetition_time": Value(2500.0, UO["ms"]),
                        "echo_time": Value(33.0, UO["ms"]),
                        "flip_angle": Value(90, UO["deg"]),
                        "scanning_sequence": Value(_term("scanning_sequence", "SE")),
                        "contrast_agent": Value(_term("contrast_agent", "Primovist")),
                        "time_point": Value(20, Term("minute", "UO", "UO:0000031")),
                    },
                    comments={"data_format": Value("NIfTI"), "data_type": Value(_term("data_type", "reconstructed"))},
                    files=[DataFile(path=f"images/MRI/{sid}.nii.gz")],
                    segmentations=[
                        Segmentation(
                            values={
                                "organ": Value(_term("organ", "liver")),
                                "diseased_status": Value(_term("diseased_status", "diseased" if i < 3 else "healthy")),
                                "segmentation_method": Value(_term("segmentation_method", "manual")),
                            },
                            path=f"masks/{sid}_liver.nii.gz",
                        )
                    ]
                    if week == 8
                    else [],
                )
            )
    for m in mice:
        sid = f"{m}_w8"
        scans.append(
            Scan(
                id=f"{sid}_CT",
                sample=sid,
                modality="CT",
                parameters={
                    "brand": Value(_term("brand", "MILabs")),
                    "kvp": Value(50.0, UO["kV"]),
                    "slice_thickness": Value(0.1, UO["mm"]),
                },
                comments={"data_format": Value("DICOM")},
                files=[DataFile(path=f"images/CT/{sid}")],
                segmentations=[Segmentation(values={"organ": Value(_term("organ", "spleen"))})],
            )
        )
    study = Study(
        identifier="LIVER-HCC",
        title="Longitudinal MRI of DEN-induced HCC in mice",
        description="Mice imaged by MRI at weeks 0, 4 and 8 after DEN injection, CT at week 8.",
        subjects=subjects,
        samples=samples,
        scans=scans,
        comments={"longitudinal": Value(True)},
        design_types=[Term("time series design", "OBI", "OBI:0500020")],
        factors=["time point"],
    )
    _key_values_by_isa_name(study)
    return Investigation(
        identifier="PRECLIN-LIVER",
        title="Preclinical liver CT and MRI",
        description="Mouse liver CT and MRI scans with organ segmentations.",
        submission_date="2025-11-03",
        public_release_date="2026-01-15",
        contacts=[
            Person(
                last_name="Schraven",
                first_name="Sophie",
                email="s.schraven@example.org",
                affiliation="RWTH Aachen University",
                orcid="0000-0002-1825-0097",
                roles=("author",),
            ),  # fmt: skip
            Person(
                last_name="Kiessling",
                first_name="Fabian",
                email="",
                affiliation="RWTH Aachen University",
                orcid="",
                roles=("principal investigator",),
            ),
        ],
        licences=["CC-BY-4.0", "CC-BY-NC-4.0"],
        keywords=["liver", "MRI", "CT", "mouse", "hepatocellular carcinoma"],
        publications=[{"doi": "10.1038/s41597-026-07003-x", "title": "Preclinical liver imaging data"}],
        funding=[{"funder": "Deutsche Forschungsgemeinschaft", "award": "SFB 1382"}],
        studies=[study],
        profile="preclinical-imaging@1.0",
        comments={"publisher": "RWTH Aachen University"},
    )


def _key_values_by_isa_name(study: Study) -> None:
    """The model keys values by their ISA name (``strain``); the fixture is written with field keys."""

    def named(entity: str, values: dict) -> dict:
        return {profile().field(k).name: v for k, v in values.items()}

    study.comments = named("study", study.comments)
    for s in study.subjects:
        s.characteristics, s.comments = named("subject", s.characteristics), named("subject", s.comments)
    for s in study.samples:
        s.factors, s.characteristics = named("sample", s.factors), named("sample", s.characteristics)
    for s in study.scans:
        s.parameters, s.comments = named("scan", s.parameters), named("scan", s.comments)
        for g in s.segmentations:
            g.values = named("segmentation", g.values)


def write_files(inv: Investigation, root: Path) -> None:
    """Create small deterministic data files for every path of ``inv`` under ``root``."""
    for study in inv.studies:
        for scan in study.scans:
            for df in scan.files:
                if df.path.endswith(".nii.gz"):
                    _write(root / df.path, df.path.encode())
                else:  # a DICOM series folder with two slices
                    for n in (1, 2):
                        _write(root / df.path / f"1-{n:03d}.dcm", f"{df.path}/{n}".encode())
            for seg in scan.segmentations:
                if seg.path:
                    _write(root / seg.path, seg.path.encode())


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hashlib.sha256(data).digest() * 4)


def pv_id(doc: dict, owner: str, name: str) -> str:
    """The ``@id`` of the PropertyValue named ``name`` that entity ``owner`` of crate ``doc`` refers to
    (PropertyValue ids derive from their content, so tests find them through their owner)."""
    ents = {e["@id"]: e for e in doc["@graph"]}
    own = ents[owner]
    refs = [r["@id"] for key in ("additionalProperty", "parameterValue") for r in own.get(key, [])]
    (found,) = [r for r in refs if ents[r]["name"] == name]
    return found
