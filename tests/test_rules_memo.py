"""apply_profile coerces each distinct value once, and still reports every occurrence where it is."""

from __future__ import annotations

from isaprofile.findings.rules import apply_profile
from isaprofile.model import Investigation, Provenance, Scan, Segmentation, Study, Term, Value
from isaprofile.profile.model import load_profile


def _scan(ident: str, segs: list[Segmentation]) -> Scan:
    return Scan(id=ident, sample=ident, modality="CT", segmentations=segs)


def test_shared_values_are_coerced_once_and_stay_shared() -> None:
    prov = Provenance("labels.json", path="$.Organs")
    liver, label = Value("liver", None, prov), Value(5, None, prov)  # one Value for every subject's map
    segs = [Segmentation(values={"segmented structure": liver, "label value": label}) for _ in range(3)]
    inv = Investigation(identifier="i", studies=[Study(identifier="s", scans=[_scan(f"{n}", [g]) for n, g in
                                                                             enumerate(segs)])])  # fmt: skip
    apply_profile(inv, load_profile("pet-ct"))
    made = [g.values["segmented structure"] for g in segs]
    assert isinstance(made[0].value, Term) and made[0].value.label == "liver" and made[0].value.accession
    assert made[0] is made[1] is made[2]  # the coerced Value is shared as its input was
    assert all(g.values["label value"] is label for g in segs)  # already an integer: kept as it is


def test_a_repeated_bad_value_is_reported_at_each_place() -> None:
    segs = [
        Segmentation(values={"segmented structure": Value("spleen-ish", None, Provenance("a_CT.txt", n, 35))})
        for n in (2, 3, 4)
    ]
    inv = Investigation(identifier="i", studies=[Study(identifier="s", scans=[_scan("x", segs)])])
    report = apply_profile(inv, load_profile("pet-ct"))
    bad = [(i.code, i.file, i.line, i.column) for i in report.issues if i.code == "value-not-allowed"]
    assert bad == [("value-not-allowed", "a_CT.txt", n, 35) for n in (2, 3, 4)]
    assert all(g.values["segmented structure"].value == "spleen-ish" for g in segs)  # kept as read
