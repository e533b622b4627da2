"""The direct SHACL checks give the same findings as pyshacl (the oracle) on the examples and broken variants."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import linked_example as ex
import pytest

from isaprofile.linked.jsonld import build_ro_crate, crate_entities
from isaprofile.linked.shacl import validate_crate, validate_entities
from isaprofile.linked.shapes_direct import direct_results
from isaprofile.pipeline import check
from isaprofile.profile.model import Profile

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = ("crlm-ct", "enhance-petct", "preclinical-liver")
FILE = "ro-crate-metadata.json"


def _found(doc: dict, prof: Profile, engine: str) -> list[tuple[str, str | None, str, str]]:
    report = validate_crate(doc, prof, FILE, engine=engine)
    return sorted((i.code, i.path, i.severity.value, i.message) for i in report.issues)


def _same(doc: dict, prof: Profile) -> list[tuple[str, str | None, str, str]]:
    """Both engines' findings (code, path, severity, message) — asserted equal — and the direct ones."""
    direct = _found(doc, prof, "direct")
    assert direct == _found(doc, prof, "pyshacl")
    return direct


@pytest.fixture(scope="module", params=EXAMPLES)
def example_crate(request: pytest.FixtureRequest) -> tuple[dict, Profile]:
    checked = check(REPO / "examples" / request.param, skip=("linked", "phi"))
    assert checked.profile is not None
    doc, _ = build_ro_crate(checked.investigation, checked.profile)
    return doc, checked.profile


def test_examples_take_the_direct_path_and_agree(example_crate: tuple[dict, Profile]) -> None:
    doc, prof = example_crate
    assert direct_results(doc, prof) is not None
    assert _same(doc, prof) == []


_FIELD_TYPES = ("integer", "number", "boolean", "date", "string", "term")


def _mutations(kind: str) -> list[Any]:
    return {
        "integer": ["abc", -1e12, 1e12, 7.5, {"@value": "x", "@type": "xsd:integer"}, True, {"@id": "#nowhere"}],
        "number": ["abc", -1e12, 1e12, [1.0, 2.0], {"@value": "x", "@type": "xsd:float"}, False],
        "boolean": [True, "yes", 1],
        "date": [20200101, "2020/01/01", ["2020-01-01", "2021-01-01"]],
        "string": [5, {"@value": 2.5, "@type": "xsd:double"}],
        "term": ["not-a-term-label", 5, ["a", "b"]],
    }[kind]


def break_crate(doc: dict, prof: Profile) -> dict:
    """A copy of ``doc`` with one mutation on many PropertyValues and records (each shape kind fires)."""
    out = copy.deepcopy(doc)
    graph: list[dict[str, Any]] = out["@graph"]
    fields = {}
    from isaprofile.linked import _common as c

    for f in prof.fields:
        fields.setdefault(c.field_iri(prof, f), f)
    seen: dict[str, int] = {}
    for ent in graph:
        f = fields.get(ent.get("propertyID")) if isinstance(ent.get("propertyID"), str) else None
        if f is None or f.type not in _FIELD_TYPES:
            continue
        n = seen.get(f.type, 0)
        seen[f.type] = n + 1
        options = _mutations(f.type)
        if n % 2 == 0 and n // 2 < len(options):  # every other value of a type keeps its good value
            ent["value"] = options[n // 2]
        if f.unit is not None and "unitCode" in ent and n == 1:
            ent["unitCode"] = ["UCUM:furlong", ent["unitCode"]]
    records = [e for e in graph if e.get("additionalType") in ("Source", "Sample", "Scan", "Segmentation")]
    by_id = {e["@id"]: e for e in graph}
    for i, rec in enumerate(records[:8]):
        link = "additionalProperty" if rec["additionalType"] in ("Source", "Sample") else "parameterValue"
        refs = rec.get(link)
        if not isinstance(refs, list) or not refs:
            continue
        if i % 4 == 0:  # every value missing (required fields: min-count)
            rec[link] = []
        elif i % 4 == 1:  # a field given twice (max-count)
            twin = copy.deepcopy(by_id[refs[0]["@id"]])
            twin["@id"] += f"-twin-{i}"  # values are shared between records: one twin per record
            graph.append(twin)
            rec[link] = [*refs, {"@id": twin["@id"]}]
        elif i % 4 == 2:  # the same reference twice is one RDF triple: no finding
            rec[link] = [*refs, refs[0]]
        elif rec["additionalType"] == "Scan":  # another modality: other required parameters apply
            others = [m for m in prof.assays if m != rec.get("measurementTechnique")]
            if others:
                rec["measurementTechnique"] = others[0]
        else:  # no longer a record of the profile
            del rec["additionalType"]
    return out


def test_broken_examples_agree(example_crate: tuple[dict, Profile]) -> None:
    doc, prof = example_crate
    broken = break_crate(doc, prof)
    assert direct_results(broken, prof) is not None
    found = _same(broken, prof)
    codes = {code for code, *_ in found}
    assert {"shacl-datatype", "shacl-min-count", "shacl-max-count"} <= codes


def test_broken_linked_example_agrees() -> None:
    prof = ex.profile()
    doc, _ = build_ro_crate(ex.investigation(), prof, files={})
    found = _same(break_crate(doc, prof), prof)
    codes = {code for code, *_ in found}
    assert {"shacl-datatype", "shacl-range", "shacl-in", "shacl-unit", "shacl-min-count", "shacl-max-count"} <= codes


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update({"@context": "https://w3id.org/ro/crate/1.2/context"}),  # ISA terms missing
        lambda d: d["@graph"].append(dict(d["@graph"][0])),  # an @id twice: RDF merges the two
        lambda d: d["@graph"][1].update({"schema:value": 1}),  # a compact IRI key
        lambda d: next(e for e in d["@graph"] if "propertyID" in e).update(
            {"value": {"@value": "x", "@language": "en"}}
        ),
        lambda d: d.update({"@id": "x"}),
    ],
)
def test_outside_the_generated_layout_falls_back_to_pyshacl(change: Any) -> None:
    prof = ex.profile()
    doc, _ = build_ro_crate(ex.investigation(), prof, files={})
    doc = copy.deepcopy(doc)
    change(doc)
    assert direct_results(doc, prof) is None
    with pytest.raises(ValueError, match="generated layout"):
        validate_crate(doc, prof, FILE, engine="direct")
    assert _found(doc, prof, "auto") == _found(doc, prof, "pyshacl")


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SHACL engine"):
        validate_crate({}, ex.profile(), FILE, engine="fast")


def _flat(report) -> list[tuple[str, str | None, str, str]]:
    return sorted((i.code, i.path, i.severity.value, i.message) for i in report.issues)


@pytest.mark.parametrize("order", ["generated", "reversed"])
def test_streamed_checks_equal_whole_document_checks(example_crate: tuple[dict, Profile], order: str) -> None:
    """Fed one entity at a time — in the generated order, or with every record before its values (so the
    records wait for them) — the direct checks find what they find on the whole document."""
    doc, prof = example_crate
    broken = break_crate(doc, prof)
    if order == "reversed":
        broken["@graph"] = broken["@graph"][::-1]
    streamed = validate_entities(iter(broken["@graph"]), prof, FILE)
    assert streamed is not None
    assert _flat(streamed) == _found(broken, prof, "direct") != []


def test_streaming_stops_at_an_entity_outside_the_layout() -> None:
    prof = ex.profile()
    doc, _ = build_ro_crate(ex.investigation(), prof, files={})
    graph = [*doc["@graph"], {"@id": "schema:thing", "@type": "Thing"}]  # a compact IRI as @id
    assert validate_entities(iter(graph), prof, FILE) is None


def test_generated_entities_precede_the_values_and_files_they_refer_to() -> None:
    """The order :func:`crate_entities` promises (what lets the streamed checks keep only value nodes)."""
    for name in EXAMPLES:
        checked = check(REPO / "examples" / name, skip=("linked", "phi"))
        assert checked.profile is not None
        graph = list(crate_entities(checked.investigation, checked.profile))
        pos = {e["@id"]: i for i, e in enumerate(graph)}
        assert graph[0]["@id"] == "ro-crate-metadata.json" and graph[-1]["@id"] == "./"
        for i, ent in enumerate(graph):
            for key in ("additionalProperty", "parameterValue", "result", "hasPart"):
                refs = ent.get(key) or []
                for ref in refs if isinstance(refs, list) else [refs]:
                    assert pos[ref["@id"]] < i, (name, ent["@id"], key, ref["@id"])


# ---------------------------------------------------------------- the linked layer's stream (shapes_only)

_NOT_READ = {"Assay": ("about", "hasPart")}  # what the shapes-only stream leaves out, by additionalType


def _projection(ent: dict) -> dict:
    if ent.get("additionalType") == "Segmentation":
        return {k: ent[k] for k in ("@id", "@type", "additionalType", "parameterValue") if k in ent}
    dropped = _NOT_READ.get(ent.get("additionalType"), ()) + (("about",) if ent.get("@type") == "File" else ())
    return {k: v for k, v in ent.items() if k not in dropped}


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_shapes_stream_is_the_crate_without_what_no_shape_reads(name: str) -> None:
    checked = check(REPO / "examples" / name, skip=("linked", "phi"))
    inv, prof = checked.investigation, checked.profile
    assert prof is not None
    full = list(crate_entities(inv, prof))
    slim = list(crate_entities(inv, prof, shapes_only=True))
    assert [e["@id"] for e in slim] == [e["@id"] for e in full]  # the same nodes at the same positions
    assert [_projection(e) for e in slim] == [_projection(e) for e in full]


def _break_model(inv: Any, prof: Profile) -> None:
    """Wrong values in the model itself (the crate is made from them): a required segmentation value gone
    from one shared dict of values, a value of the wrong type in another, a scan parameter out of range."""
    segs = [seg for study in inv.studies for scan in study.scans for seg in scan.segmentations]
    dicts = list({id(seg.values): seg.values for seg in segs}.values())
    required = [f.name for f in prof.fields if f.entity == "segmentation" and f.required]  # (values: by ISA name)
    for values, name in zip(dicts, required, strict=False):
        values.pop(name, None)
    typed = [f for f in prof.fields if f.entity == "segmentation" and f.type in ("integer", "number")]
    for values in dicts[len(required) : len(required) + 1]:
        for f in typed:
            if f.name in values:
                values[f.name] = dataclasses.replace(values[f.name], value="not a number")
    scans = [scan for study in inv.studies for scan in study.scans]
    numeric = [f for f in prof.fields if f.entity == "scan" and f.maximum is not None]
    for scan, f in zip(scans, numeric, strict=False):
        if f.name in scan.parameters:
            scan.parameters[f.name] = dataclasses.replace(scan.parameters[f.name], value=float(f.maximum) * 10)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_shapes_stream_gives_the_crates_findings_where_the_crate_has_them(name: str) -> None:
    checked = check(REPO / "examples" / name, skip=("linked", "phi"))
    inv, prof = checked.investigation, checked.profile
    assert prof is not None
    _break_model(inv, prof)
    slim = validate_entities(crate_entities(inv, prof, shapes_only=True), prof, FILE, shared_links=True)
    full = validate_entities(crate_entities(inv, prof), prof, FILE)
    assert slim is not None and full is not None
    assert _flat(slim) == _flat(full) != []
    doc, _ = build_ro_crate(inv, prof)
    assert _flat(slim) == _found(doc, prof, "pyshacl")  # the oracle, over the whole crate
