"""DICOM SEG harvest on pydicom's liver_1frame.dcm: segments, coded terms, referenced series."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from isaprofile.harvest.images import harvest_files
from isaprofile.model import Provenance, Term

SOURCE_UID = "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"


def _seg(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(get_testdata_file("liver_1frame.dcm"), folder / "1-1.dcm")


# the three CT instances liver_1frame.dcm lists in ReferencedSeriesSequence[0] > ReferencedInstanceSequence
SOURCE_SOPS = [f"1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.{n}.1" for n in (23433, 23432, 23431)]


def _source_ct(folder: Path, sops: list[str] = SOURCE_SOPS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, sop in enumerate(sops, 1):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SeriesInstanceUID = SOURCE_UID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.save_as(folder / f"1-{n:03d}.dcm")


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
    # legacy SRT codes become their SNOMED CT equivalents (DICOM's SRT→SCT mapping, via pydicom)
    assert v["SegmentedPropertyCategoryCodeSequence"].value == Term("Tissue", "SNOMED", "SNOMED:85756007")
    assert v["SegmentedPropertyTypeCodeSequence"].value == Term("Liver", "SNOMED", "SNOMED:10200004")
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


def test_seg_instance_missing(tmp_path: Path) -> None:
    _seg(tmp_path / "seg")
    _source_ct(tmp_path / "ct", SOURCE_SOPS[:1] + SOURCE_SOPS[2:])  # the second listed slice is absent
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        (
            "seg-instance-missing",
            "seg/1-1.dcm",
            "(0008,1115) ReferencedSeriesSequence[0]>(0008,114A) ReferencedInstanceSequence[1]>"
            "(0008,1155) ReferencedSOPInstanceUID",
        )
    ]
    assert SOURCE_SOPS[1] not in report.issues[0].message


def test_seg_frame_source_missing(tmp_path: Path) -> None:
    """A per-frame Source Image the series-level list does not name is resolved too."""
    _seg(tmp_path / "seg")
    path = tmp_path / "seg" / "1-1.dcm"
    ds = pydicom.dcmread(path)
    frame = ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    frame.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ds.save_as(path)
    _source_ct(tmp_path / "ct")
    _, report = harvest_files(tmp_path)
    assert report.flatten(("code", "file", "path")) == [
        (
            "seg-instance-missing",
            "seg/1-1.dcm",
            "(5200,9230) PerFrameFunctionalGroupsSequence[0]>(0008,9124) DerivationImageSequence[0]>"
            "(0008,2112) SourceImageSequence[0]>(0008,1155) ReferencedSOPInstanceUID",
        )
    ]


def _recode(seg_file: Path, codes: dict[int, tuple[str, str]]) -> None:
    """Give segment ``i`` (0-based) of ``seg_file`` the property type ``(code value, scheme)``."""
    ds = pydicom.dcmread(seg_file)
    for i, (value, scheme) in codes.items():
        item = ds.SegmentSequence[i].SegmentedPropertyTypeCodeSequence[0]
        item.CodeValue, item.CodingSchemeDesignator = value, scheme
    category = ds.SegmentSequence[0].SegmentedPropertyCategoryCodeSequence[0]
    category.CodeValue, category.CodingSchemeDesignator, category.CodeMeaning = "T-D0050", "SRT", "Tissue"
    ds.save_as(seg_file)


def test_crlm_seg_coded_with_srt_validates(crlm: Path) -> None:
    from isaprofile.dataset import load_dataset

    seg_file = next(crlm.glob("CRLM-CT-1001/*/100.000000-*/1-1.dcm"))
    _recode(seg_file, {0: ("T-62000", "SRT"), 1: ("T-62000", "SRT"), 2: ("T-48720", "SRT")})
    checked = load_dataset(crlm)
    inv, _prof, report = checked.investigation, checked.profile, checked.report
    assert report.flatten() == []
    liver = inv.studies[0].scans[0].segmentations[0]
    assert liver.values["segmented property type"].value == Term("Liver", "SNOMED", "SNOMED:10200004")


def test_crlm_seg_unknown_srt_code_located_in_seg(crlm: Path) -> None:
    from isaprofile.cli.main import main
    from isaprofile.dataset import load_dataset
    from isaprofile.linked.metadata import check_metadata

    seg_file = next(crlm.glob("CRLM-CT-1001/*/100.000000-*/1-1.dcm"))
    _recode(seg_file, {3: ("X-00000", "SRT")})  # no SNOMED CT equivalent: stays SRT
    checked = load_dataset(crlm)
    inv, prof, _report = checked.investigation, checked.profile, checked.report
    found = check_metadata(inv, prof, "isaprofile.yaml").flatten(("code", "file", "path"))
    assert [f for f in found if f[0] == "term-ontology-undeclared"] == [
        (
            "term-ontology-undeclared",
            seg_file.relative_to(crlm).as_posix(),
            "(0062,0002) SegmentSequence[3]>(0062,000F) SegmentedPropertyTypeCodeSequence[0]",
        )
    ]
    assert main(["validate", str(crlm)]) == 1


def test_crlm_example_seg_is_shaped_like_the_collection() -> None:
    """The example's DSOs carry what the real ones do (domain.md §1d): semi-automatic segments, per-frame
    derivation from the CT slices, a filled Referenced Instance Sequence; folders, headers and metadata.csv agree."""
    import csv

    root = Path(__file__).resolve().parents[1] / "examples" / "crlm-ct"
    rows = list(csv.DictReader((root / "manifest-1669817128730/Colorectal-Liver-Metastases/metadata.csv").open()))
    for seg_file in sorted(root.glob("CRLM-CT-*/*/100.000000-Segmentation-*/1-1.dcm")):
        seg = pydicom.dcmread(seg_file)
        ct_files = sorted(p for p in seg_file.parent.parent.glob("*/1-*.dcm") if p.parent != seg_file.parent)
        cts = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files]
        assert {s.SegmentAlgorithmType for s in seg.SegmentSequence} == {"SEMIAUTOMATIC"}
        types = [s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning for s in seg.SegmentSequence]
        assert types[:4] == ["Liver", "Liver", "Vein", "Vein"] and set(types[4:]) == {"Mass"}
        [ref] = seg.ReferencedSeriesSequence
        assert ref.SeriesInstanceUID == cts[0].SeriesInstanceUID
        assert [r.ReferencedSOPInstanceUID for r in ref.ReferencedInstanceSequence] == [c.SOPInstanceUID for c in cts]
        frames = seg.PerFrameFunctionalGroupsSequence
        assert len(frames) == int(seg.NumberOfFrames) == len(seg.SegmentSequence) * len(cts)
        sources = {f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID for f in frames}
        assert sources == {c.SOPInstanceUID for c in cts}
        assert "PixelMeasuresSequence" in seg.SharedFunctionalGroupsSequence[0]
        for ds, folder in ((seg, seg_file.parent), (cts[0], ct_files[0].parent)):
            number, desc = folder.name.split("-", 1)[0], folder.name.split("-", 1)[1].rsplit("-", 1)[0]
            assert int(float(number)) == ds.SeriesNumber
            assert ds.get("SeriesDescription", "NA") == desc
            month, day, year = folder.parent.name[:10].split("-")
            assert ds.StudyDate == f"{year}{month}{day}" and ds.StudyDescription in folder.parent.name
            [row] = [r for r in rows if r["Series UID"] == ds.SeriesInstanceUID]
            assert row["File Location"] == "./" + folder.relative_to(root).as_posix()
            assert row["Series Description"] == ds.get("SeriesDescription", "")


def _raw_seg(path: Path) -> pydicom.Dataset:
    """The SEG read as the header pass reads it: its per-frame groups still raw bytes."""
    from isaprofile.harvest.dicom_header import read_header

    with open(path, "rb") as fh:
        ds = read_header(fh, path.stat().st_size)
    assert ds is not None
    return ds


def _defined_lengths(path: Path, edit=None) -> None:
    """The SEG saved with sequences of defined length (as the CRLM replica's are; pydicom's test file has
    undefined ones, which the header pass reads whole), after ``edit(ds)``."""

    def walk(ds: pydicom.Dataset) -> None:
        for elem in ds:
            if elem.VR == "SQ":
                elem.is_undefined_length = False
                for item in elem.value:
                    item.is_undefined_length_sequence_item = False
                    walk(item)

    ds = pydicom.dcmread(path)
    if edit is not None:
        edit(ds)
    walk(ds)
    ds.save_as(path)


def test_the_frames_source_uids_from_their_bytes_are_those_their_items_give(tmp_path: Path) -> None:
    from isaprofile.harvest.dicom_flat import raw_uids

    _seg(tmp_path / "seg")
    path = tmp_path / "seg" / "1-1.dcm"
    _defined_lengths(path)
    frames = pydicom.dcmread(path).PerFrameFunctionalGroupsSequence
    walked = {str(s.ReferencedSOPInstanceUID) for f in frames for d in f.DerivationImageSequence
              for s in d.SourceImageSequence}  # fmt: skip
    found = raw_uids(_raw_seg(path), "PerFrameFunctionalGroupsSequence", "ReferencedSOPInstanceUID")
    assert walked and found == walked
    assert raw_uids(_raw_seg(path), "SegmentSequence", "ReferencedSOPInstanceUID") == set()  # none there

    # a value that is not one plain UID (here two) cannot be read from the bytes: the items must be read
    def two(ds: pydicom.Dataset) -> None:
        ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[
            0
        ].ReferencedSOPInstanceUID = [
            "1.2.3",
            "1.2.4",
        ]

    _defined_lengths(path, two)
    assert raw_uids(_raw_seg(path), "PerFrameFunctionalGroupsSequence", "ReferencedSOPInstanceUID") is None


@pytest.mark.parametrize("uids", [[SOURCE_SOPS[0], "1.2.3.4.5"], "1.2.3.4.5"], ids=["two-uids", "another-uid"])
def test_a_frame_source_not_in_the_series_list_is_found_in_a_seg_of_defined_lengths(tmp_path: Path, uids) -> None:
    # two UIDs in one source: the bytes cannot vouch for it; another UID: the bytes name one the series list does
    # not. Either way the frames are walked, and the value (no slice of the source series) is located
    _seg(tmp_path / "seg")

    def edit(ds: pydicom.Dataset) -> None:
        ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[
            0
        ].ReferencedSOPInstanceUID = uids

    _defined_lengths(tmp_path / "seg" / "1-1.dcm", edit)
    _source_ct(tmp_path / "ct")
    _, report = harvest_files(tmp_path)
    assert [(i.code, i.path) for i in report.issues] == [
        (
            "seg-instance-missing",
            "(5200,9230) PerFrameFunctionalGroupsSequence[0]>(0008,9124) DerivationImageSequence[0]>"
            "(0008,2112) SourceImageSequence[0]>(0008,1155) ReferencedSOPInstanceUID",
        )
    ]


def test_the_references_of_a_seg_pickle_and_read_as_uid_and_tag_path(tmp_path: Path) -> None:
    # kept as item numbers under shared path templates (types.InstanceRefs): read, they are (UID, tag path)
    import pickle

    from isaprofile.harvest.types import InstanceRefs

    _seg(tmp_path / "seg")
    _source_ct(tmp_path / "ct")
    items, _ = harvest_files(tmp_path, workers=1)
    [seg] = [i for i in items if i.kind == "dicom-seg"]
    [ct] = [i for i in items if i.kind == "dicom-series"]
    refs = seg.referenced_instances
    assert isinstance(refs, InstanceRefs)
    assert [uid for uid, _ in refs] == SOURCE_SOPS
    assert refs[1] == (
        SOURCE_SOPS[1],
        "(0008,1115) ReferencedSeriesSequence[0]>(0008,114A) ReferencedInstanceSequence[1]>"
        "(0008,1155) ReferencedSOPInstanceUID",
    )
    assert refs[-1] == refs[2] and pickle.loads(pickle.dumps(refs)) == list(refs)
    # the SEG's UIDs are the very strings of its source series' instances
    assert {id(u) for u, _ in refs} <= {id(u) for u in ct.instances}
    assert refs[1:] == list(refs)[1:] and len(refs[::2]) == 2
