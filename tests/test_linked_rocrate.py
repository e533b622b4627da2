"""RO-Crate export: structure, determinism, offline parsing, and roc-validator (offline) on the crate."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import linked_example as ex
import pytest
from linked_example import pv_id

from isaprofile.linked.context import (
    _FILES,
    Lazy,
    _load,
    dump_graph_chunks,
    dump_lazy_chunks,
    dumps,
    resolve_lazy,
    to_graph,
)
from isaprofile.linked.jsonld import build_ro_crate, ro_crate_bytes

PREVIEW = "<!DOCTYPE html>\n<html><head><title>crate</title></head><body>preview</body></html>\n"


@pytest.fixture(scope="module")
def crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crate")
    inv = ex.investigation()
    ex.write_files(inv, root)
    data, report = ro_crate_bytes(inv, ex.profile(), root=root)
    assert report.issues == []
    (root / "ro-crate-metadata.json").write_bytes(data)
    (root / "ro-crate-preview.html").write_text(PREVIEW)
    return root


def _entities(root: Path) -> dict[str, dict]:
    doc = json.loads((root / "ro-crate-metadata.json").read_text())
    return {e["@id"]: e for e in doc["@graph"]}


def test_root_dataset(crate: Path) -> None:
    ents = _entities(crate)
    root = ents["./"]
    assert root["additionalType"] == "Investigation"
    assert root["license"] == [
        {"@id": "https://spdx.org/licenses/CC-BY-4.0"},
        {"@id": "https://spdx.org/licenses/CC-BY-NC-4.0"},
    ]
    assert root["creator"][0] == {"@id": "https://orcid.org/0000-0002-1825-0097"}
    assert root["datePublished"] == "2026-01-15"
    assert ents[root["publisher"]["@id"]]["name"] == "RWTH Aachen University"
    assert ents[root["funding"]["@id"]]["identifier"] == "SFB 1382"
    assert ents["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.2"}


def test_data_entities_have_size_checksum_format_and_parent(crate: Path) -> None:
    ents = _entities(crate)
    nii = ents["images/MRI/M01_w0.nii.gz"]
    data = (crate / "images/MRI/M01_w0.nii.gz").read_bytes()
    import hashlib

    assert nii["contentSize"] == str(len(data))
    assert nii["sha256"] == hashlib.sha256(data).hexdigest()
    assert nii["encodingFormat"] == ["application/gzip", {"@id": "http://edamontology.org/format_3549"}]
    series = ents["images/CT/M01_w8/"]
    assert series["@type"] == "Dataset"
    assert [p["@id"] for p in series["hasPart"]] == ["images/CT/M01_w8/1-001.dcm", "images/CT/M01_w8/1-002.dcm"]
    dcm = ents["images/CT/M01_w8/1-001.dcm"]
    assert dcm["encodingFormat"][0] == "application/dicom"
    parents = {p["@id"] for e in ents.values() for p in _refs(e.get("hasPart"))}
    files = [i for i, e in ents.items() if e.get("@type") == "File"]
    assert files and all(f in parents for f in files)


def _refs(val: object) -> list[dict]:
    if val is None:
        return []
    return val if isinstance(val, list) else [val]  # type: ignore[list-item]


def test_property_values_units_and_terms(crate: Path) -> None:
    ents = _entities(crate)
    doc = json.loads((crate / "ro-crate-metadata.json").read_text())
    age_id = pv_id(doc, "#source-M01", "age")
    assert age_id.startswith("#pv-age-")
    age = ents[age_id]
    assert age == {
        "@id": age_id,
        "@type": "PropertyValue",
        "additionalType": "Characteristic",
        "name": "age",
        "propertyID": "urn:isaprofile:preclinical-imaging:1.0:age",
        "unitCode": "http://purl.obolibrary.org/obo/UO_0000033",
        "unitText": "day",
        "value": 56,
    }
    te = ents[pv_id(doc, "#process-scan-M01_w0_MRI", "echo time")]
    assert te["value"] == {"@value": 33.0, "@type": "xsd:float"}
    sex = ents[pv_id(doc, "#source-M01", "sex")]
    assert sex["valueReference"] == {"@id": "http://purl.obolibrary.org/obo/PATO_0000383"}
    term = ents["http://purl.obolibrary.org/obo/PATO_0000383"]
    assert term["termCode"] == "PATO:0000383"
    assert term["inDefinedTermSet"] == {"@id": "http://purl.obolibrary.org/obo/pato.owl"}
    mask = ents["masks/M01_w8_liver.nii.gz"]
    assert mask["about"] == {"@id": "http://purl.obolibrary.org/obo/UBERON_0002107"}


def test_deterministic_bytes() -> None:
    a, _ = ro_crate_bytes(ex.investigation(), ex.profile(), files={})
    b, _ = ro_crate_bytes(ex.investigation(), ex.profile(), files={})
    assert a == b


def test_missing_file_is_a_finding(tmp_path: Path) -> None:
    _, report = build_ro_crate(ex.investigation(), ex.profile(), root=tmp_path)
    assert ("jsonld-file-missing", "images/CT/M01_w8") in [(i.code, i.path) for i in report]


def test_parses_offline_into_rdflib(crate: Path) -> None:
    doc = json.loads((crate / "ro-crate-metadata.json").read_text())
    graph, report = to_graph(doc)
    assert report.issues == []
    from rdflib import URIRef

    types = set(graph.objects(None, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")))
    assert URIRef("https://bioschemas.org/LabProcess") in types


def _seed_validator_cache(path: Path) -> None:
    """Store the shipped RO-Crate context in a requests-cache database as if it had been fetched."""
    import requests
    import requests_cache
    import urllib3
    from requests.structures import CaseInsensitiveDict

    session = requests_cache.CachedSession(str(path), backend="sqlite")
    for url, name in _FILES.items():
        body = _load(name).encode()
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.encoding = 200, body, url, "utf-8"
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/ld+json"})
        resp.raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers=dict(resp.headers), status=200,
                                        preload_content=False, request_url=url)  # fmt: skip
        resp.request = requests.Request("GET", url).prepare()
        session.cache.save_response(resp)
    session.close()


@pytest.mark.slow
@pytest.mark.parametrize("profile_id", ["ro-crate-1.2", "isa-ro-crate"])
def test_roc_validator_offline(crate: Path, tmp_path: Path, profile_id: str) -> None:
    from _roc import required_issues, roc_validate

    result = roc_validate(crate, profile_id, tmp_path / "http-cache")
    assert required_issues(result) == []
    assert result.passed()


@pytest.mark.slow
def test_roc_validator_still_catches_a_broken_crate(crate: Path, tmp_path: Path) -> None:
    """With the prepared-query cache on, the oracle still fails a crate whose root lacks its licence and name."""
    from _roc import required_issues, roc_validate

    broken = tmp_path / "broken"
    broken.mkdir()
    for f in crate.iterdir():
        if f.is_file():
            (broken / f.name).write_bytes(f.read_bytes())
    doc = json.loads((crate / "ro-crate-metadata.json").read_text())
    root = next(e for e in doc["@graph"] if e["@id"] == "./")
    for key in ("license", "name"):
        root.pop(key, None)
    (broken / "ro-crate-metadata.json").write_text(json.dumps(doc))
    result = roc_validate(broken, "ro-crate-1.2", tmp_path / "http-cache")
    assert not result.passed()
    assert required_issues(result) != []


def test_prepared_queries_give_the_same_answers(tmp_path: Path) -> None:
    """The cache roc-validator runs under returns exactly what rdflib returns for each binding, as pyshacl asks."""
    from _roc import prepared_queries
    from rdflib import Graph, Literal, URIRef

    g = Graph()
    ex_ = "http://example.org/"
    for i in range(6):
        g.add((URIRef(f"{ex_}s{i}"), URIRef(f"{ex_}p"), Literal(i)))
        if i % 2:
            g.add((URIRef(f"{ex_}s{i}"), URIRef(f"{ex_}q"), Literal(f"odd {i}")))
    text = "PREFIX e: <http://example.org/> SELECT ?o ?r WHERE { $this e:p ?o . OPTIONAL { $this e:q ?r } }"

    def answers() -> list[list[tuple]]:
        return [sorted(tuple(row) for row in g.query(text, initBindings={"this": URIRef(f"{ex_}s{i}")}))
                for i in range(6)]  # fmt: skip

    plain = answers()
    with prepared_queries():
        cached, again = answers(), answers()
    assert plain == cached == again
    assert plain[1] == [(Literal(1), Literal("odd 1"))] and plain[2] == [(Literal(2), None)]


def test_no_socket_is_opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every builder and the parser run with socket creation recorded: none may happen."""
    attempts: list[tuple] = []

    def record(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network blocked by test")

    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    inv = ex.investigation()
    ex.write_files(inv, tmp_path)
    doc, _ = build_ro_crate(inv, ex.profile(), root=tmp_path)
    graph, report = to_graph(json.loads(dumps(doc)))
    assert graph is not None and report.issues == []
    assert attempts == []


def test_streamed_bytes_are_the_same_bytes() -> None:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    assert b"".join(dump_lazy_chunks(doc, size=4096)) == dumps(doc)


def test_lazy_lists_are_made_in_written_order_and_give_the_same_bytes() -> None:
    """A Lazy list may rely on one written before it (sorted keys): the protocols list after the assays."""
    made: list[str] = []

    def doc() -> dict:
        def assays():
            made.append("assays")
            yield {"name": "CT", "steps": [1, 2]}

        return {"protocols": Lazy(lambda: list(made)), "assays": Lazy(assays), "empty": Lazy(list), "n": 1}

    pieces = list(dump_lazy_chunks(doc(), size=1))
    assert len(pieces) > 3
    streamed = b"".join(pieces)
    made.clear()
    resolved = resolve_lazy(doc())
    assert resolved == {"assays": [{"name": "CT", "steps": [1, 2]}], "empty": [], "n": 1, "protocols": ["assays"]}
    assert streamed == dumps(resolved)


def test_equal_values_share_one_entity() -> None:
    """Every mouse of the example is Mus musculus: one PropertyValue entity, referenced by each source."""
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    owners = [e["@id"] for e in doc["@graph"] if e.get("additionalType") == "Source"]
    organisms = {pv_id(doc, owner, "organism") for owner in owners}
    assert len(owners) == 4 and len(organisms) == 1


@pytest.mark.parametrize("size", [1, 4096, 1 << 20])
def test_graph_written_one_entity_at_a_time_is_the_same_bytes(size: int) -> None:
    doc, _ = build_ro_crate(ex.investigation(), ex.profile(), files={})
    assert b"".join(dump_graph_chunks(doc["@context"], iter(doc["@graph"]), size=size)) == dumps(doc)
    empty = {"@context": doc["@context"], "@graph": []}
    assert b"".join(dump_graph_chunks(doc["@context"], iter([]))) == dumps(empty)


def test_a_label_map_is_about_every_structure_it_delineates() -> None:
    """ENHANCE-style: one mask file per group holding several labels, each a segmentation of its own."""
    from isaprofile.pipeline import check

    checked = check(Path(__file__).resolve().parent.parent / "examples" / "enhance-petct", skip=("linked", "phi"))
    assert checked.profile is not None
    doc, _ = build_ro_crate(checked.investigation, checked.profile)
    ents = {e["@id"]: e for e in doc["@graph"]}
    scan = checked.investigation.studies[0].scans[0]
    by_mask: dict[str, set[str]] = {}
    for seg in scan.segmentations:
        terms = {v.term.accession for v in seg.values.values() if v.term is not None and v.term.accession}
        by_mask.setdefault(seg.path, set()).update(terms)
    mask, expected = next((m, t) for m, t in by_mask.items() if len(t) > 1)
    about = ents[mask]["about"]
    iris = {ents[a["@id"]]["termCode"] for a in (about if isinstance(about, list) else [about])}
    assert iris == expected


def test_records_sharing_one_dict_of_values_give_the_crate_of_unshared_copies() -> None:
    """ENHANCE's maps share a dict of values per label (harvest.assemble); the crate remembers a dict's
    references, and must make the same entities as from a copy per record, each record with refs of its own."""
    from isaprofile.pipeline import check

    checked = check(Path(__file__).resolve().parent.parent / "examples" / "enhance-petct", skip=("linked", "phi"))
    inv, prof = checked.investigation, checked.profile
    assert prof is not None
    segs = [seg for scan in inv.studies[0].scans for seg in scan.segmentations]
    assert len({id(seg.values) for seg in segs}) < len(segs)  # shared, as harvested
    doc, _ = build_ro_crate(inv, prof)
    processes = [e for e in doc["@graph"] if e.get("additionalType") == "Segmentation"]
    first, second = processes[0]["parameterValue"], processes[1]["parameterValue"]
    assert first is not second and all(a is not b for a in first for b in second)
    for seg in segs:
        seg.values = dict(seg.values)
    assert dumps(build_ro_crate(inv, prof)[0]) == dumps(doc)


def test_a_scan_id_given_twice_describes_each_segmentation_once() -> None:
    """Segmentation processes are numbered per scan; a scan id repeated (in another assay, with more
    segmentations) adds only the numbers not made yet, as every other entity keeps its first @id."""
    import copy

    inv = ex.investigation()
    study = inv.studies[0]
    scan = next(s for s in study.scans if s.segmentations)
    twin = copy.deepcopy(scan)
    twin.segmentations = [*twin.segmentations, *copy.deepcopy(twin.segmentations)]
    study.scans.append(twin)
    doc, _ = build_ro_crate(inv, ex.profile())
    ids = [e["@id"] for e in doc["@graph"]]
    assert len(ids) == len(set(ids))
    prefix = f"#process-segmentation-{scan.id}-"
    numbers = sorted(int(i[len(prefix) :]) for i in ids if i.startswith(prefix))
    assert numbers == list(range(len(twin.segmentations)))


def test_a_slice_named_alone_and_in_its_series_folder_is_one_file_entity() -> None:
    """Data files are known by their paths: a slice that one scan names inside its series folder and another
    names alone is one File, referred to by both (percent-encoded, as every file @id), and a label map named
    by several segmentations in a row is one File too."""
    from isaprofile.model import DataFile, Segmentation

    inv = ex.investigation()
    ct = [s for s in inv.studies[0].scans if s.modality == "CT"]
    folder = ct[0].files[0].path
    slices = [f"{folder}/slice {n}.dcm" for n in (1, 2)]
    ct[1].files = [DataFile(path=slices[1])]
    mask = "masks/shared map.nii.gz"
    ct[1].segmentations = [Segmentation(values={}, path=mask), Segmentation(values={}, path=mask)]
    info = {p: (10, "0" * 64) for p in slices} | {mask: (5, "1" * 64)}
    doc, _ = build_ro_crate(inv, ex.profile(), files=info)
    ids = [e["@id"] for e in doc["@graph"]]
    assert len(ids) == len(set(ids))
    by_id = {e["@id"]: e for e in doc["@graph"]}
    encoded = [s.replace(" ", "%20") for s in slices]
    assert all(by_id[i]["@type"] == "File" for i in encoded)
    assert [r["@id"] for r in _refs(by_id[folder + "/"]["hasPart"])] == encoded
    scan_b = by_id[f"#process-scan-{ct[1].id}"]
    assert [r["@id"] for r in _refs(scan_b["result"])] == [encoded[1]]
    masks = [e for e in doc["@graph"] if e["@id"] == "masks/shared%20map.nii.gz"]
    assert len(masks) == 1
    segs = [by_id[f"#process-segmentation-{ct[1].id}-{n}"] for n in (0, 1)]
    assert [[r["@id"] for r in _refs(s["result"])] for s in segs] == [[masks[0]["@id"]]] * 2
