"""DICOM SEG harvest on pydicom's liver_1frame.dcm: segments, coded terms, referenced series."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from isaprofile.harvest.images import harvest_files
from isaprofile.model import Provenance, Term

SOURCE_UID = "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"


def _seg(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(get_testdata_file("liver_1frame.dcm"), folder / "1-1.dcm")


def _source_ct(folder: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SeriesInstanceUID = SOURCE_UID
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "1-001.dcm")


def test_liver_segment(tmp_path: Path) -> None:
    _seg(tmp_path / "seg")
    _source_ct(tmp_path / "ct")
    items, report = harvest_files(tmp_path)
    assert report.flatten() == []
    assert [(i.kind, i.path) for i in items] == [("dicom-series", "ct/1-001.dcm"), ("dicom-seg", "seg/1-1.dcm")]
    seg = items[1]
    assert (seg.modality, seg.references) == ("SEG", [SOURCE_UID])
    [liver] = seg.segments
    assert (liver.number, liver.label) == (1, "Liver")
    v = liver.values
    assert v["SegmentedPropertyCategoryCodeSequence"].value == Term("Tissue", "SRT", "SRT:T-D0050")
    assert v["SegmentedPropertyTypeCodeSequence"].value == Term("Liver", "SRT", "SRT:T-62000")
    assert v["SegmentedPropertyTypeCodeSequence"].provenance == Provenance(
        file="seg/1-1.dcm", path="(0062,0002) SegmentSequence[0]>(0062,000F) SegmentedPropertyTypeCodeSequence[0]"
    )
    assert (v["SegmentAlgorithmType"].value, v["SegmentAlgorithmName"].value) == ("SEMIAUTOMATIC", "SlicerEditor")
    assert v["SegmentLabel"].provenance.path == "(0062,0002) SegmentSequence[0]>(0062,0005) SegmentLabel"
    # a SEG's pixel measures sit in its shared functional groups
    assert seg.values["SliceThickness"].value == 1.0
    assert seg.values["SliceThickness"].provenance.path.startswith("(5200,9229) SharedFunctionalGroupsSequence[0]>")


def test_seg_source_missing(tmp_path: Path) -> None:
    _seg(tmp_path / "seg")
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "other-ct.dcm")  # another series
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        (
            "seg-source-missing",
            "seg/1-1.dcm",
            "(0008,1115) ReferencedSeriesSequence[0]>(0020,000E) SeriesInstanceUID",
        )
    ]
    assert SOURCE_UID not in report.issues[0].message


def test_sct_codes_become_snomed_terms(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("liver_1frame.dcm"))
    code = ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    code.CodeValue, code.CodingSchemeDesignator = "10200004", "SCT"
    ds.save_as(tmp_path / "seg.dcm")
    [seg], _ = harvest_files(tmp_path)
    term = seg.segments[0].values["SegmentedPropertyTypeCodeSequence"].value
    assert term == Term("Liver", "SNOMED", "SNOMED:10200004")
    assert term.iri == "http://snomed.info/id/10200004"
