"""The ISA-Tab writer and reader: read(write(x)) == x, for the example and for arbitrary text."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isaprofile.dataset import load_dataset
from isaprofile.isatab.write import write_isatab
from isaprofile.model import DataFile, Investigation, Person, Sample, Scan, Segmentation, Study, Subject, Term, Value
from isaprofile.pipeline import check


def test_example_round_trip(example: Path, tmp_path: Path) -> None:
    checked = load_dataset(example)
    inv, prof, report = checked.investigation, checked.profile, checked.report
    assert report.issues == []
    out = tmp_path / "isa"
    names = [p.name for p in write_isatab(inv, out, prof)]
    assert names == ["a_HCC-MRI_MRI.txt", "a_MASH-CT_CT.txt", "i_investigation.txt", "s_HCC-MRI.txt", "s_MASH-CT.txt"]
    checked = check(out, data_root=example)
    back, prof2, rep2 = checked.investigation, checked.profile, checked.report
    assert rep2.issues == []
    assert prof2 is not None and prof2.id == prof.id
    assert back.studies == inv.studies
    assert (back.contacts, back.licences, back.funding, back.publications, back.keywords) == (
        inv.contacts,
        inv.licences,
        inv.funding,
        inv.publications,
        inv.keywords,
    )


def test_output_is_deterministic_utf8_lf(example: Path, tmp_path: Path) -> None:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    a = write_isatab(inv, tmp_path / "a", prof)
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    b = write_isatab(inv, tmp_path / "b", prof)
    for x, y in zip(a, b, strict=True):
        data = x.read_bytes()
        assert data == y.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data


def test_longitudinal_samples_carry_time_point_factor(example: Path, tmp_path: Path) -> None:
    checked = load_dataset(example)
    inv, _prof, _ = checked.investigation, checked.profile, checked.report
    study = inv.study("HCC-MRI")
    weeks = sorted({s.factors["time point"].value for s in study.samples if s.subject == "HCC-03"})
    assert weeks == [0, 4, 8]
    assert study.factors == ["time point"]
    assert [t.accession for t in study.design_types] == ["OBI:0500020"]
    assert study.samples[0].factors["time point"].unit == Term("week", "UO", "UO:0000034")


def test_rewrite_replaces_previous_output(example: Path, tmp_path: Path) -> None:
    checked = load_dataset(example)
    inv, prof, _ = checked.investigation, checked.profile, checked.report
    out = tmp_path / "isa"
    write_isatab(inv, out, prof)
    (out / "stale.txt").write_text("old")
    write_isatab(inv, out, prof)
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["isa", "preclinical-liver"]  # no temporary folders left


_text = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\x00\x0b\x0c\x1c\x1d\x1e\x1f\x85"
        "\u2028\u2029" + "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r"),
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and s != "")
_ident = _text.filter(lambda s: not any(c in s for c in "\t\n\r"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=_ident,
    sample=_ident,
    scan=_ident,
    char=_text,
    param=_text,
    comment=_text,
    path=_ident,
    name=_ident.filter(lambda s: "[" not in s and "]" not in s),
)
def test_any_text_round_trips(tmp_path_factory, subject, sample, scan, char, param, comment, path, name) -> None:
    study = Study(
        identifier="S1",
        title='a title with\ttab and "quotes"',
        subjects=[Subject(id=subject, characteristics={name: Value(char)}, comments={"note": Value(comment)})],
        samples=[
            Sample(
                id=sample,
                subject=subject,
                factors={"time point": Value(Term("week 1", "UO", "UO:0000034"))},
                characteristics={name: Value(param, Term("gram", "UO", "UO:0000021"))},
            )
        ],
        scans=[
            Scan(
                id=scan,
                sample=sample,
                modality="MRI",
                parameters={name: Value(param)},
                comments={"note": Value(comment)},
                files=[DataFile(path=path)],
                segmentations=[Segmentation(values={"organ": Value(char)}, path=path + ".seg")],
            )
        ],
    )
    study.factors = ["time point"]
    inv = Investigation(
        identifier="inv",
        title=char,
        description=comment,
        contacts=[Person(last_name=subject, orcid="0000")],
        studies=[study],
    )
    out = tmp_path_factory.mktemp("rt")
    write_isatab(inv, out / "isa", None)
    checked = check(out / "isa", None)
    back, _, _ = checked.investigation, checked.profile, checked.report
    assert back.title == inv.title and back.description == inv.description
    assert back.studies[0].title == study.title
    assert back.studies[0].subjects == study.subjects
    assert back.studies[0].samples == study.samples
    assert back.studies[0].scans == study.scans


def test_repeated_acquisition_rows_give_one_scan_and_a_segmentation_per_row(enhance: Path, tmp_path: Path) -> None:
    """ENHANCE's CT assay repeats a scan's acquisition on each labelled structure's row: the reader keeps the
    scan once (its values from its first row) and gives every row its own segmentation, located there; a bad
    value on a repeated acquisition is reported once, at the scan's first row."""
    from isaprofile.isatab.read import read_isatab

    checked = load_dataset(enhance)
    out = tmp_path / "isa"
    write_isatab(checked.investigation, out, checked.profile)
    table = next(out.glob("a_*_CT.txt"))
    back = read_isatab(out, None).investigation
    scans = [s for s in back.studies[0].scans if s.modality == "CT"]
    first = scans[0]
    rows = [g.provenance.line for s in scans for g in s.segmentations]
    assert len(rows) == len(set(rows)) == sum(len(s.segmentations) for s in scans) > len(scans)
    assert {v.provenance.line for v in first.parameters.values()} == {first.provenance.line}
    text = table.read_text().split("\n")
    lines = [n for n, row in enumerate(text, 1) if row.split("\t")[0] == first.sample]
    assert first.provenance.line == lines[0] and len(lines) == len(first.segmentations)
    # the first scan's kilovoltage made unreadable on all its rows: one finding, at its first row
    col = text[0].split("\t").index("Parameter Value[peak kilovoltage]")
    for n in lines:
        cells = text[n - 1].split("\t")
        cells[col] = "lots"
        text[n - 1] = "\t".join(cells)
    table.write_text("\n".join(text))
    found = check(out, checked.profile, data_root=enhance).report
    bad = [(i.code, i.line, i.column) for i in found.issues if i.code == "value-type"]
    assert bad == [("value-type", lines[0], col + 1)]


def test_generated_rows_share_repeated_cells_within_a_bound() -> None:
    """A reader that keeps no row (the data package) bounds the cells shared; the rows are the same rows."""
    from isaprofile.isatab.parse import generated_rows

    data = "".join("Sample Name\tUnit\n" if n == 0 else f"s{n % 5}\tmm\tx{n}\n" for n in range(200)).encode()
    plain = list(generated_rows(data, share=False))
    for share in (True, 3, 1 << 16):
        rows = list(generated_rows(data, share=share))
        assert rows == plain
        assert rows[1][1] is rows[-1][1] or share == 3  # "mm" is one object unless the table was emptied
    bounded = list(generated_rows(data, share=3))
    assert bounded[2][1] is bounded[3][1] and len({id(r[1]) for r in bounded[1:]}) > 1  # shared, then emptied
    assert len({id(r[1]) for r in plain[1:]}) == len(plain) - 1


def test_segmentations_sharing_one_dict_of_values_write_the_table_of_unshared_copies(tmp_path: Path) -> None:
    """The writer makes a shared dict's cells once (ENHANCE: 130 dicts for 207,610 segmentations)."""
    checked = check(Path(__file__).resolve().parent.parent / "examples" / "enhance-petct", skip=("linked", "phi"))
    inv = checked.investigation
    segs = [seg for scan in inv.studies[0].scans for seg in scan.segmentations]
    assert len({id(seg.values) for seg in segs}) < len(segs)
    shared = {p.name: p.read_bytes() for p in write_isatab(inv, tmp_path / "shared", profile=checked.profile)}
    for seg in segs:
        seg.values = dict(seg.values)
    copies = {p.name: p.read_bytes() for p in write_isatab(inv, tmp_path / "copies", profile=checked.profile)}
    assert shared == copies and any(name.startswith("a_") for name in shared)
