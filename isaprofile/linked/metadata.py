"""Metadata checks for deposit: licence, creators, ORCIDs, dates, ontologies.

:func:`check_metadata` works on the model; :func:`check_crate` on a crate document, so that findings
carry the JSON path of the offending value (``$['@graph'][3].license``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from isaprofile._shared import ByIdentity
from isaprofile.findings.issues import Issue, Report, issue
from isaprofile.linked import _common as c
from isaprofile.model import Investigation, Study, Term, Value
from isaprofile.profile.model import Profile


def check_metadata(inv: Investigation, profile: Profile | None = None, file: str | None = None) -> Report:
    """Findings for the investigation-level metadata a deposit needs.

    Paths name the model attribute (``contacts[1].orcid``). With ``profile``, terms whose ontology the
    profile does not declare are reported too.
    """
    report = Report()
    if not inv.licences:
        report.add(issue("licence-missing", file=file, path="licences"))
    for i, lic in enumerate(inv.licences):
        if c.spdx_id(lic) not in c.spdx_licences():
            report.add(issue("licence-unknown", file=file, path=f"licences[{i}]", licence=lic))
    if not inv.contacts:
        report.add(issue("creator-missing", file=file, path="contacts"))
    for i, p in enumerate(inv.contacts):
        if not p.last_name.strip():
            report.add(issue("creator-name-missing", file=file, path=f"contacts[{i}].last_name"))
        elif not p.first_name.strip():
            report.add(issue("creator-given-name-missing", file=file, path=f"contacts[{i}].first_name"))
        if p.orcid and not c.orcid_ok(p.orcid):
            report.add(issue("orcid-invalid", file=file, path=f"contacts[{i}].orcid", reason=_orcid_reason(p.orcid)))
    if not inv.title.strip():
        report.add(issue("title-missing", file=file, path="title"))
    if not inv.description.strip():
        report.add(issue("description-missing", file=file, path="description"))
    if not c.publisher_name(inv):
        report.add(issue("publisher-missing", file=file, path="comments.publisher"))
    for attr in ("submission_date", "public_release_date"):
        val = getattr(inv, attr)
        if val and not c.iso_date_ok(val):
            report.add(issue("date-invalid", file=file, path=attr, field=attr))
    if not c.release_date(inv):
        report.add(issue("date-missing", file=file, path="public_release_date"))
    if profile is not None:
        report.extend(_ontologies(inv, profile, file))
    return report


def _orcid_reason(orcid: str) -> str:
    return "bad check digit" if c._ORCID.match(orcid.strip()) else "not of the form 0000-0000-0000-000X"


def _ontologies(inv: Investigation, profile: Profile, file: str | None) -> list[Issue]:
    out: list[Issue] = []
    declared = set(profile.ontologies)
    # a dict of values shared by many records (a label's, by every subject's map) that holds no undeclared
    # ontology is looked at once; one that does gives each record its finding, located where it is
    clean: ByIdentity[bool] = ByIdentity(_CLEAN_MAX)
    for s in inv.studies:
        for where, values in _study_records(s):
            if clean.get(values):
                continue
            before = len(out)
            for key, val in values.items():
                term = val.value if isinstance(val.value, Term) else None
                unit = val.unit
                if (term is None or not term.source or term.source in declared) and (
                    unit is None or not unit.source or unit.source in declared
                ):
                    continue  # the usual case, decided without building anything
                for t in (term, unit):
                    if t is None or not t.source or t.source in declared:
                        continue
                    # a harvested value is located where it was read (the SEG file and its tag path)
                    prov = val.provenance
                    at = (prov.file, prov.path) if prov is not None and prov.file and prov.line is None else None
                    out.append(issue("term-ontology-undeclared", file=at[0] if at else file,
                                     path=at[1] if at else f"studies[{s.identifier}].{_where(*where)}.{key}",
                                     label=t.label, field=key, source=t.source))  # fmt: skip
            if len(out) == before:
                clean.put(values, True)
    return out


_CLEAN_MAX = 4096  # dicts of values remembered as clean (by identity: only a shortcut)


def _study_records(s: Study) -> Iterator[tuple[tuple[str, str, int | None], Mapping[str, Value]]]:
    """((kind, id, segmentation index), values) of each record of a study: subjects, samples, scans and their
    segmentations (the model path is written only for a finding, see :func:`_where`)."""
    for subj in s.subjects:
        yield ("subjects", subj.id, None), subj.characteristics
    for smp in s.samples:
        yield ("samples", smp.id, None), {**smp.characteristics, **smp.factors}
    for scan in s.scans:
        yield ("scans", scan.id, None), scan.parameters
        for n, seg in enumerate(scan.segmentations):
            yield ("scans", scan.id, n), seg.values


def _where(kind: str, ident: str, segmentation: int | None) -> str:
    """The model path of a record: ``scans[ID]``, ``scans[ID].segmentations[N]``."""
    return f"{kind}[{ident}]" + (f".segmentations[{segmentation}]" if segmentation is not None else "")


def check_crate(doc: dict[str, Any], file: str | None = None) -> Report:
    """Deposit metadata findings on a crate document, located by JSON path.

    Checks the root entity's licence (present, known SPDX), creators (present, named, ORCID
    checksum) and dates (ISO 8601). :class:`CrateChecker` does the same over a streamed graph.
    """
    graph = doc.get("@graph")
    if not isinstance(graph, list):
        report = Report()
        report.add(issue("jsonld-no-root", file=file, path="$"))
        return report
    checker = CrateChecker(file)
    for i, ent in enumerate(graph):
        checker.feed(i, ent)
    return checker.finish()


_ROOT_KEYS = ("license", "creator", "datePublished", "dateCreated")


class CrateChecker:
    """:func:`check_crate` over a graph given one entity at a time (:meth:`feed`, then :meth:`finish`):
    it keeps a line per entity (position, name, identifier) and the root's few members, not the entities.
    As in a whole document, the first metadata descriptor names the root, and an ``@id`` given twice means
    its last entity."""

    def __init__(self, file: str | None = None) -> None:
        self.file = file
        self.root_id: Any = _UNSEEN
        self.people: dict[Any, tuple[int, bool, str | None]] = {}  # @id -> (position, named, identifier)
        self.roots: dict[Any, tuple[int, dict[str, Any]]] = {}  # possible roots -> (position, members)

    def feed(self, i: int, ent: Any) -> None:
        if not isinstance(ent, dict):
            return
        ident = ent.get("@id")
        if ident == "ro-crate-metadata.json" and self.root_id is _UNSEEN:
            about = ent.get("about")
            rid = about.get("@id") if isinstance(about, dict) else None
            self.root_id = rid if isinstance(rid, str) else None  # only text names an entity
            # until the descriptor names the root any entity may be it (in generated crates it comes first)
            self.roots = {k: v for k, v in self.roots.items() if k == self.root_id}
        named = bool(str(ent.get("name") or ent.get("familyName") or "").strip())
        ident_text = ent.get("identifier") if isinstance(ent.get("identifier"), str) else None
        try:
            self.people[ident] = (i, named, ident_text)
        except TypeError:  # an unhashable @id names no entity a reference could reach
            return
        if self.root_id is _UNSEEN or ident == self.root_id:  # the last entity of an @id is the one reached
            self.roots[ident] = (i, {k: ent[k] for k in _ROOT_KEYS if k in ent})

    def finish(self) -> Report:
        report, file = Report(), self.file
        found = self.roots.get(self.root_id) if self.root_id is not _UNSEEN else None
        if found is None:
            report.add(issue("jsonld-no-root", file=file, path=c.jpath("@graph")))
            return report
        root_i, root = found
        lic = _list(root.get("license"))
        if not lic:
            report.add(issue("licence-missing", file=file, path=c.jpath("@graph", root_i, "license")))
        for k, ref in enumerate(lic):
            iri = ref.get("@id", "") if isinstance(ref, dict) else str(ref)
            if c.spdx_id(iri) not in c.spdx_licences():
                parts = ("@graph", root_i, "license") + ((k,) if isinstance(root.get("license"), list) else ())
                report.add(issue("licence-unknown", file=file, path=c.jpath(*parts), licence=iri))
        creators = _list(root.get("creator"))
        if not creators:
            report.add(issue("creator-missing", file=file, path=c.jpath("@graph", root_i, "creator")))
        for ref in creators:
            pid = ref.get("@id") if isinstance(ref, dict) else None
            if not isinstance(pid, str) or pid not in self.people:
                continue
            pi, named, orcid = self.people[pid]
            if not named:
                report.add(issue("creator-name-missing", file=file, path=c.jpath("@graph", pi, "name")))
            if pid.startswith(c.ORCID_BASE):
                orcid = pid
                where = c.jpath("@graph", pi, "@id")
            else:
                where = c.jpath("@graph", pi, "identifier")
            if orcid and "orcid.org" in orcid and not c.orcid_ok(orcid):
                report.add(issue("orcid-invalid", file=file, path=where, reason=_orcid_reason(orcid)))
        for key in ("datePublished", "dateCreated"):
            val = root.get(key)
            if val is not None and not (isinstance(val, str) and c.iso_date_ok(val)):
                report.add(issue("date-invalid", file=file, path=c.jpath("@graph", root_i, key), field=key))
        return report


_UNSEEN = object()


def _list(val: Any) -> list[Any]:
    if val is None:
        return []
    return val if isinstance(val, list) else [val]
