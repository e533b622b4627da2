"""Crates read one entity at a time (GraphStream) and checked as they are read (CrateChecker)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isaprofile._json import Encoded, FlatWriter, flat_item, pretty_json
from isaprofile.linked.context import GraphStream
from isaprofile.linked.metadata import check_crate

DOCS = [
    {"@context": "x", "@graph": [{"@id": "a", "n": 1}, {"@id": "b", "v": [1, 2.5, "é", {"deep": [True, None]}]}]},
    {"@context": ["x", {"a": "b"}], "@graph": []},
    {"@graph": [{"@id": "a"}, 12345678901234567890], "@context": "late", "other": 3},
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_streamed_graph_is_the_document(doc: dict, indent: int | None, chunk: int) -> None:
    raw = json.dumps(doc, indent=indent, ensure_ascii=False).encode()
    stream = GraphStream(io.BytesIO(raw), "c.json", chunk=chunk)
    entities = [ent for _, ent in stream]
    assert stream.streamable and stream.report.issues == []
    assert {**stream.head, "@graph": entities, **stream.tail} == doc


@pytest.mark.parametrize("raw", [b"[1, 2]", b'{"@context": 1}', b'"text"', b""])
def test_other_documents_are_not_streamed(raw: bytes) -> None:
    stream = GraphStream(io.BytesIO(raw))
    assert not stream.streamable and list(stream) == []


@pytest.mark.parametrize("chunk", [2, 1 << 20])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"@context": 1, "@graph": [{"@id": "a"},\n {"@id": }]}', ("jsonld-not-json", 2, 10)),
        (b'{"@context": 1, "@graph": [{"@id": "a"}', ("jsonld-not-json", 1, 40)),  # where json.loads says
        (b'{"@graph": [1 2]}', ("jsonld-not-json", 1, 15)),
        (b'{"@graph": [{"a": "\xff"}]}', ("jsonld-not-json", None, None)),
    ],
)
def test_a_fault_ends_the_stream_with_a_located_finding(raw: bytes, expected: tuple, chunk: int) -> None:
    stream = GraphStream(io.BytesIO(raw), "c.json", chunk=chunk)
    list(stream)
    assert [(i.code, i.line, i.column) for i in stream.report.issues] == [expected]  # one fault, one finding


def test_an_entity_nested_too_deep_is_refused_at_its_path() -> None:
    raw = b'{"@graph": [{"@id": "a"}, ' + b"[" * 100 + b"]" * 100 + b"]}"
    stream = GraphStream(io.BytesIO(raw), "c.json")
    assert [i for i, _ in stream] == [0]
    (found,) = stream.report.issues
    assert found.code == "jsonld-too-deep" and found.path is not None and found.path.startswith("$['@graph'][1][0]")


def _crate(*entities: dict) -> dict:
    return {"@context": "https://w3id.org/ro/crate/1.2/context", "@graph": list(entities)}


DESCRIPTOR = {"@id": "ro-crate-metadata.json", "about": {"@id": "./"}}
ROOT = {"@id": "./", "license": {"@id": "https://spdx.org/licenses/CC-BY-4.0"}, "creator": {"@id": "#p"},
        "datePublished": "2024-05-01"}  # fmt: skip


def test_root_before_descriptor_and_last_entity_of_an_id_count() -> None:
    """The first descriptor names the root wherever it is; an @id given twice means its last entity."""
    person = {"@id": "#p", "name": "Ada Lovelace"}
    assert check_crate(_crate(ROOT, person, DESCRIPTOR)).issues == []
    bare_root = {"@id": "./"}
    found = check_crate(_crate(bare_root, person, DESCRIPTOR)).flatten(("code", "path"))
    assert found == [("licence-missing", "$['@graph'][0].license"), ("creator-missing", "$['@graph'][0].creator")]
    found = check_crate(_crate(DESCRIPTOR, ROOT, person, {"@id": "#p"})).flatten(("code", "path"))
    assert found == [("creator-name-missing", "$['@graph'][3].name")]
    found = check_crate(_crate(DESCRIPTOR, ROOT, person, {"@id": "./", "name": "later"})).flatten(("code", "path"))
    assert ("licence-missing", "$['@graph'][3].license") in found


def test_an_unhashable_id_is_no_entity() -> None:
    person = {"@id": "#p", "name": "Ada Lovelace"}
    assert check_crate(_crate(DESCRIPTOR, {"@id": ["x"]}, ROOT, person)).issues == []
    odd = {"@id": "ro-crate-metadata.json", "about": {"@id": ["./"]}}  # a descriptor about a list
    assert check_crate(_crate(odd, ROOT, person)).flatten(("code", "path")) == [("jsonld-no-root", "$['@graph']")]


_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
    | st.just([]) | st.just({})
)  # fmt: skip
_json = st.recursive(  # containers hold at least one value, so the recursion is real
    _scalars,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, min_size=1, max_size=4)
        | st.dictionaries(st.integers(), inner, min_size=1, max_size=2)
    ),
    max_leaves=25,
)


@given(_json, st.integers(min_value=0, max_value=3), st.booleans())
def test_pretty_json_is_the_standard_encoders_text(value: object, level: int, sort_keys: bool) -> None:
    """The fast writer gives json.dumps's own text (indent 2, UTF-8, keys sorted or not), nested at any level."""
    text = json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    assert pretty_json(value, level, sort_keys=sort_keys) == text.replace("\n", "\n" + "  " * level)


_finite = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_finite_json = st.recursive(
    _finite,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, min_size=1, max_size=4)
        | st.dictionaries(st.integers(), inner, min_size=1, max_size=2)
    ),
    max_leaves=25,
)


@given(st.lists(_finite_json, max_size=4), st.booleans())
def test_record_lists_are_one_item_per_line(items: list[object], sort_keys: bool) -> None:
    """The items of a ``flat`` list are each one compact line holding the same JSON (integer keys, and ints
    beyond 64 bits, which orjson refuses, through the standard encoder); the rest keeps its indent."""
    doc = {"head": {"b": 1, "a": [2]}, "@graph": items}
    text = pretty_json(doc, sort_keys=sort_keys, flat=frozenset({"@graph"}))
    assert json.loads(text) == json.loads(json.dumps(doc))
    lines = text.split("\n")
    assert lines[:2] == ["{", '  "head": {' if not sort_keys else '  "@graph": ' + ("[]," if not items else "[")]
    if items:
        start = lines.index('  "@graph": [') + 1
        got = [line.strip().rstrip(",") for line in lines[start : start + len(items)]]
        assert got == [flat_item(i, sort_keys=sort_keys) for i in items]
        assert [json.loads(line) for line in got] == [json.loads(json.dumps(i)) for i in items]
        assert all(", " not in line or '"' in line for line in got)  # compact: spaces only inside strings


def test_a_flat_item_is_compact_and_keeps_what_orjson_refuses() -> None:
    assert flat_item({"b": [1, 2.5], "a": "x"}) == '{"a":"x","b":[1,2.5]}'
    assert flat_item({"b": 1, "a": 2}, sort_keys=False) == '{"b":1,"a":2}'
    assert flat_item({2: "b", 1: "a"}) == '{"1":"a","2":"b"}'
    assert flat_item({"big": 2**70}) == '{"big":1180591620717411303424}'
    assert flat_item([float("nan"), float("inf")]) == "[null,null]"  # JSON has no NaN
    # and so where orjson refuses the record as it is (a key that is not text), made plain first
    assert flat_item({"a": [float("inf")], "b": {0: None}}) == '{"a":[null],"b":{"0":null}}'
    assert flat_item({True: 1, None: 2, 1.5: 3}, sort_keys=False) == '{"true":1,"null":2,"1.5":3}'
    # a float is spelt as orjson spells it whatever else its item holds (a shared list is written apart)
    small = 2.7151406380055883e-05
    assert flat_item({"k": {0: None}, "v": [small]}) == '{"k":{"0":null},"v":[0.000027151406380055883]}'
    assert flat_item({"big": [2**70, small]}) == '{"big":[1180591620717411303424,0.000027151406380055883]}'
    assert json.loads(flat_item({"s": f"{2**70}", "n": 2**70})) == {"s": f"{2**70}", "n": 2**70}


@given(st.lists(_json, min_size=1, max_size=3), st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=6))
def test_records_sharing_a_list_are_written_as_if_written_whole(lists: list[object], picks: list[int]) -> None:
    """FlatWriter writes a list shared by records (the same object) from its first text: the same bytes as
    the record written whole."""
    shared = [[v] for v in lists]
    records = [{"name": f"r{n}", "parameterValues": shared[p % len(shared)], "inputs": shared[0], "z": [n]}
               for n, p in enumerate(picks)]  # fmt: skip
    write = FlatWriter(("parameterValues", "inputs"))
    assert [write(r) for r in records] == [flat_item(r) for r in records]


def test_a_shared_list_beside_a_value_orjson_refuses_is_written_as_if_written_whole() -> None:
    """The record needs the plain path (an int key) while its shared list of a small float does not: once
    the two spelt that float two ways (CI, Hypothesis)."""
    shared = [2.7151406380055883e-05]
    record = {"name": "r0", "parameterValues": shared, "inputs": [{0: None}]}
    assert FlatWriter(("parameterValues", "inputs"))(record) == flat_item(record)


def test_a_value_holding_the_placeholder_is_written_with_another() -> None:
    write = FlatWriter(("parameterValues",))
    values = [{"category": "x", "value": 1}]
    first = {"name": "a", "parameterValues": values}
    assert write(first) == '{"name":"a","parameterValues":[{"category":"x","value":1}]}'
    hostile = {"name": f"{write._token}0", "parameterValues": values}  # the very text of the placeholder
    assert write(hostile) == flat_item(hostile)
    assert json.loads(write(hostile)) == hostile


def test_an_encoded_value_is_written_as_its_text() -> None:
    write = FlatWriter(("parameterValues",), encoded=("about",))
    refs = [{"@id": "#process-segmentation-1-0"}, {"@id": "#process-segmentation-1-1"}]
    record = {"@id": "#assay", "about": Encoded(flat_item(refs)), "name": "CT", "parameterValues": [{"v": 1}]}
    whole = {**record, "about": refs}
    assert write(record) == flat_item(whole)
    hostile = {**record, "name": f"{write._token}0"}
    assert json.loads(write(hostile)) == {**whole, "name": hostile["name"]}


def test_an_encoded_value_stays_a_piece_of_its_own() -> None:
    # the crate's writer takes a record in pieces: ENHANCE's assay's 14 MB of references are not copied into it
    write = FlatWriter((), encoded=("about",))
    text = flat_item([{"@id": f"#process-segmentation-{n}"} for n in range(3)])
    record = {"@id": "#assay", "about": Encoded(text), "name": "CT"}
    pieces = list(write.pieces(record))
    assert any(p is text for p in pieces)
    assert "".join(pieces) == write(record) == flat_item({**record, "about": json.loads(text)})
    runs = ['{"@id":"#a"}', "", '{"@id":"#b"},{"@id":"#c"}']  # runs of items, as the assay makes them
    listed = {**record, "about": Encoded.items(runs)}
    assert [p for p in write.pieces(listed) if p in runs] == [runs[0], runs[2]]
    assert json.loads(write(listed))["about"] == [{"@id": "#a"}, {"@id": "#b"}, {"@id": "#c"}]
    assert Encoded.items([]).text == "[]" and Encoded.items(["", ""]).text == "[]"
    # a run may be made when written: a scan's references from its count (jsonld._Numbered)
    from isaprofile.linked.jsonld import _Numbered

    prefix = flat_item({"@id": "#process-segmentation-CT-1"})[:-2]
    lazy = {**record, "about": Encoded.items([runs[0], _Numbered(prefix, 5000), ""])}
    about = json.loads(write(lazy))["about"]
    assert about[0] == {"@id": "#a"} and about[1:] == [{"@id": f"#process-segmentation-CT-1-{n}"} for n in range(5000)]
    assert write(lazy) == write(lazy)  # read again, made again


@given(st.lists(st.text(max_size=40), max_size=12), st.integers(min_value=1, max_value=16))
def test_utf8_chunks_are_the_whole_encoded(pieces: list[str], size: int) -> None:
    from isaprofile._json import utf8_chunks

    chunks = list(utf8_chunks(pieces, size))
    assert b"".join(chunks) == "".join(pieces).encode("utf-8")
    assert all(0 < len(c.decode("utf-8")) < 2 * size for c in chunks)  # bounded, whatever the pieces' lengths
