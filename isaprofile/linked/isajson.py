"""ISA-JSON (ISA model 1.0) for an investigation, with deterministic ``@id`` values.

``@id`` values are local fragments derived from identifiers (``#source/M01``,
``#characteristic_category/age``), so the same investigation always gives the same document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from isaprofile._shared import ByIdentity, FirstSeen
from isaprofile.isatab.write import sample_protocol
from isaprofile.linked import _common as c
from isaprofile.linked.context import Lazy, dump_lazy_chunks, dumps, resolve_lazy
from isaprofile.model import Investigation, Person, Scan, Study, Term, Value, Values
from isaprofile.profile.model import Assay, Profile


def _id(kind: str, *parts: str) -> str:
    return "#" + kind + "/" + "/".join(map(c.encoded, parts))


def _oa(term: Term) -> dict[str, Any]:
    out: dict[str, Any] = {"@id": _id("ontology_annotation", term.source or "", term.label),
                           "annotationValue": term.label}  # fmt: skip
    out["termSource"] = term.source or ""
    out["termAccession"] = term.iri or term.accession or ""
    return out


def _name_oa(name: str) -> dict[str, Any]:
    return {"@id": _id("ontology_annotation", "", name), "annotationValue": name, "termSource": "",
            "termAccession": ""}  # fmt: skip


def _value(val: Value) -> dict[str, Any]:
    v = val.value
    out: dict[str, Any] = {}
    if isinstance(v, Term):
        out["value"] = _oa(v)
    elif isinstance(v, bool):
        out["value"] = "true" if v else "false"
    elif isinstance(v, int | float):
        out["value"] = v
    elif isinstance(v, dt.date):
        out["value"] = v.isoformat()
    else:
        out["value"] = str(v)
    if val.unit is not None:
        out["unit"] = {"@id": _id("unit", val.unit.label)}
    return out


class _Builder:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.units: dict[str, dict[str, Any]] = {}
        self.char_cats: dict[str, dict[str, Any]] = {}
        # equal parameter values are one object in memory (written out each time they occur): a study of
        # 1,597 subjects x 130 labelled structures repeats a few hundred values 200,000 times
        self._params: dict[tuple[Any, ...], dict[str, Any]] = {}
        # and a record's whole list, by its dict of values: a label's dict is every subject's (harvest.assemble)
        self._lists: ByIdentity[list[dict[str, Any]]] = ByIdentity(16384)

    def _note_unit(self, val: Value) -> None:
        if val.unit is not None:
            self.units.setdefault(val.unit.label, {**_oa(val.unit), "@id": _id("unit", val.unit.label)})

    def _name(self, entity: str, key: str) -> str:
        f = c.field_for(self.profile, entity, key)
        return f.name if f else key

    def characteristics(self, entity: str, values: Values) -> list[dict[str, Any]]:
        out = []
        for key, val in values.items():
            name = self._name(entity, key)
            cat = self.char_cats.setdefault(name, {"@id": _id("characteristic_category", name),
                                                   "characteristicType": _name_oa(name)})  # fmt: skip
            self._note_unit(val)
            out.append({"category": {"@id": cat["@id"]}, **_value(val)})
        return out

    def factor_values(self, values: Values) -> list[dict[str, Any]]:
        out = []
        for key, val in values.items():
            self._note_unit(val)
            out.append({"category": {"@id": _id("factor", self._name("sample", key))}, **_value(val)})
        return out

    def parameter_values(self, protocol: str, entity: str, values: Values) -> list[dict[str, Any]]:
        """The parameter values of one record; records that share one dict of values share one list (read it,
        do not edit it)."""
        shared = self._lists.get(values, (protocol, entity))
        if shared is not None:
            return shared
        out = []
        for key, val in values.items():
            memo = (protocol, entity, key, type(val.value), val)  # the type too: 1, 1.0 and True are equal
            found = self._params.get(memo)
            if found is None:
                self._note_unit(val)
                pid = _id("parameter", protocol, self._name(entity, key))
                found = self._params[memo] = {"category": {"@id": pid}, **_value(val)}
            out.append(found)
        return self._lists.put(values, out, (protocol, entity))


def build_isa_json(investigation: Investigation, profile: Profile) -> dict[str, Any]:
    """The ISA-JSON document of ``investigation`` (valid against the ISA model 1.0 JSON schemas)."""
    doc = resolve_lazy(_document(investigation, profile))
    doc["ontologySourceReferences"] = _ontology_sources(doc, profile)
    return doc


def isa_json_chunks(investigation: Investigation, profile: Profile) -> Iterator[bytes]:
    """The bytes of :func:`build_isa_json`, with each assay's processes made as they are written (a study of
    1,597 subjects x 130 labelled structures has 200,000 of them): the document is never held whole. The
    term sources, declared before the studies, are those of the parts already made and those the lazy parts
    will use (:func:`_lazy_sources`, from the model)."""
    doc = _document(investigation, profile)
    found = _lazy_sources(investigation, profile)
    _term_sources(doc, found, make=False)
    doc["ontologySourceReferences"] = _declared(found, profile)
    return dump_lazy_chunks(doc)


def _lazy_sources(inv: Investigation, profile: Profile) -> set[str]:
    """The term sources of the :class:`Lazy` parts: the processes' parameter values (their terms), the
    units of every value (``unitCategories``) and the protocols' types."""
    terms: list[Term | None] = [sample_protocol(profile)[1]]
    seg = profile.protocols.get("image segmentation") or Term("image segmentation")
    first = FirstSeen()  # a label's dict of values is every subject's
    for s in inv.studies:
        records = [x.characteristics for x in s.subjects] + [{**x.characteristics, **x.factors} for x in s.samples]
        terms += [v.unit for values in records for v in values.values()]
        for scan in s.scans:
            spec = profile.assays.get(scan.modality)
            terms += [spec.protocol_type if spec else None, seg]
            for values in (scan.parameters, *(g.values for g in scan.segmentations)):
                if first(values):
                    terms += [t for v in values.values() for t in (v.term, v.unit)]
    return {t.source for t in terms if t is not None and t.source}


def _document(inv: Investigation, profile: Profile) -> dict[str, Any]:
    """The document, each assay's process sequence (and what it adds to) a :class:`Lazy` list."""
    return {
        "@id": _id("investigation", inv.identifier),
        "identifier": inv.identifier,
        "filename": f"i_{inv.identifier}.txt",
        "title": inv.title,
        "description": inv.description,
        "submissionDate": inv.submission_date if c.iso_date_ok(inv.submission_date) else "",
        "publicReleaseDate": inv.public_release_date if c.iso_date_ok(inv.public_release_date) else "",
        "ontologySourceReferences": [],
        "people": [_person(p) for p in inv.contacts],
        "publications": [{"doi": p.get("doi", ""), "title": p.get("title", ""), "authorList": p.get("authors", ""),
                          "pubMedID": "", "status": _name_oa("published")} for p in inv.publications],
        "comments": [{"name": k, "value": v} for k, v in inv.comments.items()]
        + [{"name": "License", "value": ", ".join(inv.licences)}],
        "studies": [_study(s, inv, profile) for s in inv.studies],
    }  # fmt: skip


def _ontology_sources(doc: dict[str, Any], profile: Profile) -> list[dict[str, str]]:
    # every term source the document uses, wherever it is used (values, units, protocol, measurement and
    # technology types), is declared: isatools' ISA-JSON validator reports a missing one as error 3009
    found: set[str] = set()
    _term_sources(doc, found)
    return _declared(found, profile)


def _declared(found: set[str], profile: Profile) -> list[dict[str, str]]:
    return [
        {"name": s, "file": str((profile.ontologies.get(s) or {}).get("file", "")),
         "description": str((profile.ontologies.get(s) or {}).get("description", "")), "version": ""}
        for s in sorted(found)
    ]  # fmt: skip


def _term_sources(node: Any, found: set[str], make: bool = True) -> None:
    """Add the non-empty ``termSource`` values anywhere in an ISA-JSON node to ``found``; :class:`Lazy` lists
    are made (in written order) and their items dropped once read, or skipped when not ``make``."""
    if isinstance(node, Lazy):
        for item in node.make() if make else ():
            _term_sources(item, found)
    elif isinstance(node, dict):
        src = node.get("termSource")
        if isinstance(src, str) and src:
            found.add(src)
        for key in sorted(node):
            _term_sources(node[key], found, make)
    elif isinstance(node, list):
        for item in node:
            _term_sources(item, found, make)


def _person(p: Person) -> dict[str, Any]:
    return {"@id": _id("person", p.name), "lastName": p.last_name, "firstName": p.first_name, "midInitials": "",
            "email": p.email, "phone": "", "fax": "", "address": "", "affiliation": p.affiliation,
            "roles": [_name_oa(r) for r in p.roles],
            "comments": [{"name": "Person ORCID", "value": p.orcid}] if p.orcid else []}  # fmt: skip


def _study(s: Study, inv: Investigation, profile: Profile) -> dict[str, Any]:
    b = _Builder(profile)
    collect, collect_type = sample_protocol(profile)  # the profile's own (e.g. "patient at time point")
    sources = [{"@id": _id("source", x.id), "name": x.id, "characteristics": b.characteristics("subject",
                x.characteristics)} for x in s.subjects]  # fmt: skip
    samples: list[dict[str, Any]] = [
        {"@id": _id("sample", x.id), "name": x.id, "derivesFrom": [{"@id": _id("source", x.subject)}],
         "characteristics": b.characteristics("sample", x.characteristics),
         "factorValues": b.factor_values(x.factors)} for x in s.samples]  # fmt: skip
    process = [{"@id": _id("process", "collection", x.id), "name": f"collection of {x.id}",
                "executesProtocol": {"@id": _id("protocol", collect)}, "parameterValues": [],
                "inputs": [{"@id": _id("source", x.subject)}], "outputs": [{"@id": _id("sample", x.id)}]}
               for x in s.samples]  # fmt: skip
    protocols = {
        collect: {
            "@id": _id("protocol", collect),
            "name": collect,
            "protocolType": _oa(collect_type),
            "parameters": [],
            "components": [],
            "description": "",
            "uri": "",
            "version": "",
        }
    }
    modalities = list(dict.fromkeys(x.modality for x in s.scans))
    assays = [_assay(b, s, m, [x for x in s.scans if x.modality == m], protocols) for m in modalities]
    factors = [{"@id": _id("factor", name), "factorName": name, "factorType": _name_oa(name)} for name in s.factors]
    known = {f["@id"] for f in factors}
    for smp in samples:
        for fv in smp["factorValues"]:
            if fv["category"]["@id"] not in known:
                name = unquote(fv["category"]["@id"].split("/", 1)[1])
                factors.append({"@id": fv["category"]["@id"], "factorName": name, "factorType": _name_oa(name)})
                known.add(fv["category"]["@id"])
    return {
        "@id": _id("study", s.identifier), "identifier": s.identifier, "filename": f"s_{s.identifier}.txt",
        "title": s.title, "description": s.description,
        "submissionDate": inv.submission_date if c.iso_date_ok(inv.submission_date) else "",
        "publicReleaseDate": inv.public_release_date if c.iso_date_ok(inv.public_release_date) else "",
        "people": [_person(p) for p in inv.contacts], "publications": [],
        "studyDesignDescriptors": [_oa(t) for t in s.design_types],
        # made after the assays' processes, which add the parameters (and units) they use
        "protocols": Lazy(lambda: list(protocols.values())),
        "materials": {"sources": sources, "samples": samples, "otherMaterials": []},
        "processSequence": process, "assays": assays, "factors": factors,
        "characteristicCategories": Lazy(lambda: list(b.char_cats.values())),
        "unitCategories": Lazy(lambda: list(b.units.values())),
        "comments": [{"name": k, "value": v.text()} for k, v in s.comments.items()],
    }  # fmt: skip


def _assay(b: _Builder, s: Study, modality: str, scans: list[Scan], protocols: dict[str, Any]) -> dict[str, Any]:
    spec = b.profile.assays.get(modality)
    out: dict[str, Any] = {
        "@id": _id("assay", s.identifier, modality), "filename": f"a_{s.identifier}_{modality}.txt",
        "technologyPlatform": spec.platform if spec else "",
        # made as written, like the processes: ENHANCE's 14,377 data files were 6.5 MiB of dicts held meanwhile
        "dataFiles": Lazy(lambda: _data_files(scans)),
        "materials": {"samples": [{"@id": _id("sample", x)} for x in dict.fromkeys(sc.sample for sc in scans)],
                      "otherMaterials": []},
        "characteristicCategories": [], "unitCategories": [], "comments": [],
        "processSequence": Lazy(lambda: _processes(b, scans, spec, spec.protocol if spec else modality, protocols)),
    }  # fmt: skip
    if spec is not None:
        out["measurementType"] = _oa(spec.measurement)
        out["technologyType"] = _oa(spec.technology)
    return out


def _data_files(scans: list[Scan]) -> Iterator[dict[str, Any]]:
    """The data files of an assay's scans, each once (a label map is the mask of each of its labels), in order."""
    seen: set[str] = set()
    for scan in scans:
        for f in scan.files:
            if f.path not in seen:
                seen.add(f.path)
                notes = [{"name": k, "value": v.text()} for k, v in f.comments.items()]
                yield {"@id": _id("data", f.path), "name": f.path, "type": "Raw Data File", "comments": notes}
        for g in scan.segmentations:
            if g.path and g.path not in seen:
                seen.add(g.path)
                yield {"@id": _id("data", g.path), "name": g.path, "type": "Derived Data File", "comments": []}


def _processes(
    b: _Builder, scans: list[Scan], spec: Assay | None, pname: str, protocols: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The assay's processes (``pname``: its acquisition protocol), one at a time; then the protocols get the
    parameters the processes used."""
    seg = "image segmentation"
    params: dict[str, set[str]] = {pname: set(), seg: set()}
    uncounted = FirstSeen()  # a list of parameter values is shared by the records of one dict of values
    acquire, segment = _id("protocol", pname), _id("protocol", seg)
    for scan in scans:
        outs = [{"@id": _id("data", f.path)} for f in scan.files]
        pv = b.parameter_values(pname, "scan", scan.parameters)
        params[pname].update(p["category"]["@id"] for p in pv)
        scan_process = _id("process", "scan", scan.id)
        yield {
            "@id": scan_process,
            "name": scan.id,
            "executesProtocol": {"@id": acquire},
            "parameterValues": pv,
            "inputs": [{"@id": _id("sample", scan.sample)}],
            "outputs": outs,
            "comments": [{"name": k, "value": v.text()} for k, v in scan.comments.items()],
        }
        seg_process = _id("process", "segmentation", scan.id) + "/"  # + N: a number needs no encoding
        for n, g in enumerate(scan.segmentations):
            gpv = b.parameter_values(seg, "segmentation", g.values)
            if uncounted(gpv):
                params[seg].update(p["category"]["@id"] for p in gpv)
            gouts = [{"@id": _id("data", g.path)}] if g.path else []
            yield {"@id": f"{seg_process}{n}", "name": f"{scan.id} segmentation {n}",
                   "executesProtocol": {"@id": segment}, "parameterValues": gpv,
                   "inputs": outs, "outputs": gouts,
                   # the acquisition it follows: isatools walks previousProcess to check the sequence
                   "previousProcess": {"@id": scan_process}}  # fmt: skip
    for name, types in ((pname, spec.protocol_type if spec else Term("data acquisition")),
                        (seg, b.profile.protocols.get(seg) or Term(seg))):  # fmt: skip
        proto = protocols.setdefault(name, {"@id": _id("protocol", name), "name": name, "protocolType": _oa(types),
                                            "parameters": [], "components": [], "description": "", "uri": "",
                                            "version": ""})  # fmt: skip
        have = {p["@id"] for p in proto["parameters"]}
        for pid in sorted(params[name] - have):
            proto["parameters"].append({"@id": pid, "parameterName": _name_oa(unquote(pid.rsplit("/", 1)[1]))})


def isa_json_bytes(investigation: Investigation, profile: Profile) -> bytes:
    """:func:`build_isa_json` serialised deterministically."""
    return dumps(build_isa_json(investigation, profile))
