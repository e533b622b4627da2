"""Read a crate written by :mod:`isaprofile.linked.jsonld` back into the dataset model.

A deposited crate can so be re-validated without its ISA-Tab. Values are typed by the profile
field their ``propertyID`` names; units come back from ``unitText``/``unitCode`` and terms from
the ``DefinedTerm`` a value references.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from isaprofile.findings.issues import Report, issue
from isaprofile.linked import _common as c
from isaprofile.linked.context import inline_contexts, read_document
from isaprofile.linked.metadata import check_crate
from isaprofile.model import (
    OBO,
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
    Values,
)
from isaprofile.profile.coerce import coerce
from isaprofile.profile.model import Field, Profile


def _list(val: Any) -> list[Any]:
    if val is None:
        return []
    return val if isinstance(val, list) else [val]


class _Reader:
    def __init__(self, doc: dict[str, Any], profile: Profile, file: str | None, report: Report) -> None:
        raw = doc.get("@graph")
        graph: list[Any] = raw if isinstance(raw, list) else []
        self.ents: dict[str, dict[str, Any]] = {e["@id"]: e for e in graph if isinstance(e, dict) and "@id" in e}
        self.pos = {e.get("@id"): i for i, e in enumerate(graph) if isinstance(e, dict)}
        self.profile, self.file, self.report = profile, file, report
        self.fields = {(f.entity, c.field_iri(profile, f)): f for f in profile.fields}
        self.parent: dict[str, str] = {}
        for ent in self.ents.values():
            if ent.get("@type") == "Dataset" and not ent["@id"].startswith(("#", "./")):
                for ref in _list(ent.get("hasPart")):
                    self.parent[ref["@id"]] = ent["@id"]

    def get(self, ref: Any, where: str) -> dict[str, Any] | None:
        ident = ref.get("@id") if isinstance(ref, dict) else ref
        ent = self.ents.get(ident) if isinstance(ident, str) else None
        if ent is None:
            self.report.add(issue("jsonld-entity-missing", file=self.file, path=where, target=str(ident)))
        return ent

    def refs(self, ent: dict[str, Any], key: str) -> list[dict[str, Any]]:
        i = self.pos.get(ent["@id"])
        where = c.jpath("@graph", i, key) if i is not None else key
        found = [self.get(r, where) for r in _list(ent.get(key))]
        return [x for x in found if x is not None]

    def term(self, ent: dict[str, Any]) -> Term:
        sets = self.refs(ent, "inDefinedTermSet")
        return Term(str(ent.get("name", ent["@id"])), sets[0].get("name") if sets else None, ent.get("termCode"))

    def value(self, pv: dict[str, Any], f: Field | None) -> Value:
        raw = pv.get("value")
        if isinstance(raw, dict):
            raw = raw.get("@value")
        unit = None
        if pv.get("unitText"):
            code = str(pv.get("unitCode", ""))
            acc = None
            if code.startswith(OBO):
                acc = code.rsplit("/", 1)[-1].replace("_", ":", 1)
            unit = Term(str(pv["unitText"]), None, acc)
        refs = self.refs(pv, "valueReference")
        if refs:
            term = self.term(refs[0])
            if isinstance(raw, str) and raw and raw != term.label:  # one IRI, written with another label here
                term = Term(raw, term.source, term.accession)
            return Value(term, unit)
        kind = f.type if f else "string"
        if kind == "boolean" and raw in ("true", "false"):
            return Value(raw == "true", unit)
        if kind == "date" and isinstance(raw, str):
            try:
                return Value(dt.date.fromisoformat(raw), unit)
            except ValueError:
                return Value(raw, unit)
        if isinstance(raw, int | float | str):
            return Value(raw, unit)
        return Value(str(raw), unit)

    def values(self, ent: dict[str, Any], key: str, entity: str, kinds: tuple[str, ...] = ()) -> Values:
        out: Values = {}
        for pv in self.refs(ent, key):
            if kinds and pv.get("additionalType") not in kinds:
                continue
            f = self.fields.get((entity, str(pv.get("propertyID", ""))))
            out[f.name if f else str(pv.get("name", pv["@id"]))] = self.value(pv, f)
        return out

    def comments(self, ent: dict[str, Any], entity: str) -> Values:
        out: Values = {}
        for com in self.refs(ent, "comment"):
            name = str(com.get("name", ""))
            f = next((x for x in self.profile.fields if x.entity == entity and x.name == name), None)
            text = str(com.get("text", ""))
            typed = coerce(f, text)[0] if f is not None else None  # comments are text in the crate
            out[name] = typed if typed is not None else Value(text)
        return out

    def top(self, leaf: str) -> str:
        return self.parent.get(leaf, leaf)


def _path(ident: str) -> str:
    return unquote(ident).rstrip("/")


def from_jsonld(source: str | Path | bytes | dict[str, Any], profile: Profile) -> tuple[Investigation | None, Report]:
    """The investigation a crate describes, and the findings (unreadable input, metadata, dangling refs).

    Returns ``(None, report)`` when the document cannot be used at all.
    """
    file = str(source) if isinstance(source, str | Path) else None
    doc, report = read_document(source, file)
    if doc is None:
        return None, report
    local, ctx_report = inline_contexts(doc, file)
    report.merge(ctx_report)
    if local is None:
        return None, report
    report.merge(check_crate(doc, file))
    if any(i.code == "jsonld-no-root" for i in report):
        return None, report
    r = _Reader(doc, profile, file, report)
    desc = r.ents["ro-crate-metadata.json"]
    root = r.refs(desc, "about")[0]
    ident = str(root.get("identifier", "dataset"))
    inv = Investigation(
        identifier=ident,
        title="" if root.get("name") == ident else str(root.get("name", "")),
        description=str(root.get("description", "")),
        submission_date=str(root.get("dateCreated", "")),
        public_release_date=str(root.get("datePublished", "")),
        contacts=[_person(r, p) for p in r.refs(root, "creator")],
        licences=[c.spdx_id(lic["@id"]) for lic in r.refs(root, "license")],
        keywords=[str(k) for k in _list(root.get("keywords"))],
        publications=[_publication(a) for a in r.refs(root, "citation")],
        funding=[_grant(r, g) for g in r.refs(root, "funding")],
        comments={k: v.text() for k, v in r.comments(root, "investigation").items()},
    )
    for prof in r.refs(root, "conformsTo"):
        if str(prof["@id"]).startswith("urn:isaprofile:profile:"):
            inv.profile = str(prof.get("identifier", "")) or None
    inv.studies = [_study(r, s) for s in r.refs(root, "hasPart") if s.get("additionalType") == "Study"]
    return inv, report


def _person(r: _Reader, p: dict[str, Any]) -> Person:
    orcid = str(p.get("identifier", ""))
    orgs = r.refs(p, "affiliation")
    return Person(
        last_name=str(p.get("familyName") or p.get("name") or "?"),
        first_name=str(p.get("givenName", "")),
        email=str(p.get("email", "")),
        affiliation=str(orgs[0].get("name", "")) if orgs else "",
        orcid=orcid.removeprefix(c.ORCID_BASE),
        roles=tuple(str(t.get("name", "")) for t in r.refs(p, "jobTitle")),
    )


def _publication(a: dict[str, Any]) -> dict[str, str]:
    out = {}
    if a.get("identifier"):
        out["doi"] = str(a["identifier"])
    if a.get("name") and a.get("name") != a.get("identifier"):
        out["title"] = str(a["name"])
    if a.get("creditText"):
        out["authors"] = str(a["creditText"])
    return out


def _grant(r: _Reader, g: dict[str, Any]) -> dict[str, str]:
    out = {}
    funders = r.refs(g, "funder")
    if funders:
        out["funder"] = str(funders[0].get("name", ""))
    if g.get("identifier"):
        out["award"] = str(g["identifier"])
    return out


def _study(r: _Reader, s: dict[str, Any]) -> Study:
    ident = str(s.get("identifier", s["@id"]))
    study = Study(
        identifier=ident,
        title="" if s.get("name") == ident else str(s.get("name", "")),
        description=str(s.get("description", "")),
        comments=r.comments(s, "study"),
        design_types=[r.term(t) for t in r.refs(s, "keywords")],
        factors=[str(f) for f in _list(s.get("variableMeasured"))],
    )
    source_of: dict[str, str] = {}
    for proc in r.refs(s, "about"):
        objs, results = r.refs(proc, "object"), r.refs(proc, "result")
        for res in results:
            if objs:
                source_of[res["@id"]] = str(objs[0].get("name", ""))
    for ent in r.refs(s, "mentions"):
        name = str(ent.get("name", ent["@id"]))
        if ent.get("additionalType") == "Source":
            study.subjects.append(Subject(id=name, characteristics=r.values(ent, "additionalProperty", "subject"),
                                          comments=r.comments(ent, "subject")))  # fmt: skip
        elif ent.get("additionalType") == "Sample":
            study.samples.append(
                Sample(id=name, subject=source_of.get(ent["@id"], "?"),
                       factors=r.values(ent, "additionalProperty", "sample", ("Factor",)),
                       characteristics=r.values(ent, "additionalProperty", "sample", ("Characteristic",)),
                       comments=r.comments(ent, "sample"))
            )  # fmt: skip
    for assay in r.refs(s, "hasPart"):
        _assay(r, assay, study)
    return study


def _assay(r: _Reader, assay: dict[str, Any], study: Study) -> None:
    by_leaf: dict[str, Scan] = {}
    for proc in r.refs(assay, "about"):
        kind = proc.get("additionalType")
        leaves = [x["@id"] for x in r.refs(proc, "result")]
        if kind == "Scan":
            objs = r.refs(proc, "object")
            tops = list(dict.fromkeys(r.top(leaf) for leaf in leaves))
            files = [DataFile(path=_path(t), comments=r.comments(r.ents.get(t, {"@id": t}), "file")) for t in tops]
            scan = Scan(id=str(proc.get("name", proc["@id"])), sample=str(objs[0].get("name", "?")) if objs else "?",
                        modality=str(proc.get("measurementTechnique", "?")),
                        parameters=r.values(proc, "parameterValue", "scan"), comments=r.comments(proc, "scan"),
                        files=files)  # fmt: skip
            study.scans.append(scan)
            for leaf in leaves:
                by_leaf[leaf] = scan
        elif kind == "Segmentation":
            targets = [x["@id"] for x in r.refs(proc, "object")]
            owner = next((by_leaf[o] for o in targets if o in by_leaf), None)
            path = _path(r.top(leaves[0])) if leaves else None
            seg = Segmentation(values=r.values(proc, "parameterValue", "segmentation"), path=path)
            if owner is not None:
                owner.segmentations.append(seg)
