"""RO-Crate 1.2 metadata (``ro-crate-metadata.json``) for an investigation, following the ISA RO-Crate profile.

Layout of the graph (all ``@id`` values derive from the dataset's identifiers):

* ``./`` — the root ``Dataset``, ``additionalType`` ``Investigation``; ``hasPart`` its studies.
* ``#study-<id>`` — ``Dataset`` ``Study``; ``hasPart`` its assays, ``about`` its sample-collection
  processes, ``mentions`` its sources and samples in order.
* ``#assay-<study>-<modality>`` — ``Dataset`` ``Assay`` (one per modality); ``hasPart`` the image
  files, DICOM series folders and masks; ``about`` the scan and segmentation processes.
* ``#source-<id>`` / ``#sample-<id>`` — Bioschemas ``Sample`` (``additionalType`` Source / Sample) with
  ``additionalProperty`` characteristics and factors as ``PropertyValue``.
* ``#process-…`` — ``LabProcess``: collection (source → sample), scan (sample → files, with the
  acquisition parameters as ``parameterValue``), segmentation (scan files → mask).
* data files — ``File`` with ``contentSize``, ``sha256``, ``encodingFormat`` and ``license`` (the file's
  own licence, :mod:`isaprofile.licences`); a DICOM series folder is a ``Dataset`` whose ``hasPart`` lists
  its files. The root ``license`` lists every licence of the dataset (declared and used).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from isaprofile._json import Encoded, flat_item
from isaprofile._shared import ByIdentity
from isaprofile.findings.issues import Report
from isaprofile.isatab.write import sample_protocol
from isaprofile.licences import LicenceMap, licence_map
from isaprofile.linked import _common as c
from isaprofile.linked.context import ISA_TERMS, RO_CRATE_CONTEXT, RO_CRATE_SPEC, dump_graph_chunks
from isaprofile.linked.files import FileInfo, encoding_format, members, scan_files
from isaprofile.model import Investigation, Person, Scan, Study, Term, Value, Values
from isaprofile.profile.model import Profile

ISA_PROFILE = "https://github.com/nfdi4plants/isa-ro-crate-profile"
PROFILE_URN = "urn:isaprofile:profile:{name}:{version}"


_BY_IDENTITY_MAX = 16384  # dicts of values remembered by identity (cleared when full: only a shortcut)


class _Graph:
    """The entities of a crate as they are made: added ones wait in ``pending`` until :meth:`flush` hands
    them on, so a crate is never held whole. Adding an ``@id`` twice merges nothing, keeps the first."""

    def __init__(
        self, profile: Profile, licences: LicenceMap | None = None, shapes_only: bool = False, shared: bool = False
    ) -> None:
        self.profile = profile
        self.licences = licences or LicenceMap()
        self.shapes_only = shapes_only  # see crate_entities
        self.shared = shared or shapes_only  # records of one dict of values hold one list of its references
        self.pending: dict[str, dict[str, Any]] = {}
        self.seen: set[str] = set()
        # data files by path, not @id: the paths are the file info's and the model's strings, where each @id
        # (percent-encoded) would be a string of its own held to the crate's end (CRLM: 17,836, 2.6 MiB)
        self.files: set[str] = set()
        # segmentation processes are numbered per scan ("<process id>-N"), so a scan's number of those added
        # stands for their ids (there are 207,610 of them in the ENHANCE crate: 20 MiB of strings in seen)
        self.segmented: dict[str, int] = {}
        # data file path -> whether its entity is a folder, and the paths of its File leaves, from which their
        # @ids are made again when the path is referred to again (a ref dict per leaf was 3 MiB for CRLM)
        self.data: dict[str, tuple[bool, tuple[str, ...]]] = {}
        # the last path referred to and its @ids: a label map is referred to by each of its labels in a row
        self._last: tuple[str, dict[str, str], tuple[str, ...]] | None = None
        self.info_keys: list[str] | None = None  # the sorted paths of the file info (see files.members)
        # values seen before -> their entity's reference (the type is part of the key: 1, 1.0 and True are equal)
        self._values: dict[tuple[Any, ...], dict[str, str]] = {}
        # and by the whole dict of values: a label's dict is shared by every subject's map (harvest.assemble);
        # not kept when ``shared``, where shared_values finds those dicts first and the rest come once each
        # (CRLM's and ENHANCE's crates: no hit in 4,134 and 16,230 dicts). A cache by Value object was dropped
        # too: 492 hits in ENHANCE's 83,592 Values, none in CRLM's 32,288, and 4 MiB held at its limit
        self._by_dict: ByIdentity[list[str]] | None = None if self.shared else ByIdentity(_BY_IDENTITY_MAX)
        self._structures: ByIdentity[list[dict[str, str]]] = ByIdentity(_BY_IDENTITY_MAX)
        self._shared_refs: ByIdentity[list[dict[str, str]]] = ByIdentity(_BY_IDENTITY_MAX)  # (shared)
        self._terms: dict[Term, dict[str, str]] = {}

    def licence(self, lic: str) -> dict[str, str]:
        """The contextual entity of an SPDX licence (``CreativeWork`` with its SPDX IRI as ``@id``)."""
        lid = c.spdx_id(lic)
        name = c.spdx_licences().get(lid, lid)
        return self.add({"@id": c.spdx_iri(lid), "@type": "CreativeWork", "name": name, "identifier": lid,
                         "description": f"SPDX licence {lid}: {name}"})  # fmt: skip

    def file_licence(self, ent: dict[str, Any], path: str) -> None:
        """Set ``license`` on a data entity whose licence the licence map knows."""
        lic = self.licences.of(path)
        if lic is not None:
            ent["license"] = self.licence(lic)

    def add(self, ent: dict[str, Any]) -> dict[str, str]:
        ident = ent["@id"]
        if ident not in self.seen:
            self.seen.add(ident)
            self.pending[ident] = ent
        return {"@id": ident}

    def add_file(self, ent: dict[str, Any], path: str) -> dict[str, str]:
        """:meth:`add` for the entity of the data file (or folder) ``path``, known by its path."""
        ident = ent["@id"]
        if path not in self.files and ident not in self.seen:
            self.files.add(path)
            self.pending[ident] = ent
        return {"@id": ident}

    def flush(self) -> Iterator[dict[str, Any]]:
        """The entities added since the last flush, in the order they were added, lists of one unwrapped."""
        ready, self.pending = self.pending, {}
        for ent in ready.values():
            for key, val in ent.items():
                if type(val) is list and len(val) == 1 and key != "encodingFormat":
                    ent[key] = val[0]
            yield ent

    def term(self, term: Term) -> dict[str, str]:
        ref = self._terms.get(term)
        if ref is None:
            if term.source:
                self.add(c.term_set(term.source, self.profile))
            ref = self._terms[term] = self.add(c.defined_term(term, self.profile))
        return dict(ref)

    def org(self, name: str) -> dict[str, str]:
        return self.add({"@id": c.local_id("organization", name), "@type": "Organization", "name": name})

    def person(self, p: Person) -> dict[str, str]:
        ent: dict[str, Any] = {"@id": c.person_id(p), "@type": "Person", "name": p.name, "familyName": p.last_name}
        if p.first_name:
            ent["givenName"] = p.first_name
        if p.email:
            ent["email"] = p.email
        if p.affiliation:
            ent["affiliation"] = self.org(p.affiliation)
        if p.orcid:
            ent["identifier"] = c.orcid_iri(p.orcid) if c.orcid_ok(p.orcid) else p.orcid
        if p.roles:
            ent["jobTitle"] = [self.term(Term(r)) for r in p.roles]
        return self.add(ent)

    def values(self, values: Values, entity: str, kind: str = "Parameter") -> list[dict[str, str]]:
        """PropertyValues for the values of one record; ``entity`` is the profile entity and ``kind`` the
        ISA placement of the dictionary they come from (Characteristic, Factor, Parameter)."""
        by_dict = self._by_dict
        if by_dict is not None:
            shared = by_dict.get(values, (entity, kind))  # nothing edits a record's values while a crate is made
            if shared is not None:
                return [{"@id": ident} for ident in shared]  # references of their own: a caller may edit them
        refs = []
        for key, val in values.items():
            memo = (key, entity, kind, type(val.value), val)
            ref = self._values.get(memo)
            if ref is None:
                ref = self._values[memo] = self.add(self.property_value(key, val, entity, kind))
            refs.append(dict(ref))  # a reference of its own: a caller may edit it
        if by_dict is not None:
            by_dict.put(values, [r["@id"] for r in refs], (entity, kind))
        return refs

    def shared_values(self, values: Values, entity: str) -> list[dict[str, str]]:
        """:meth:`values` as one list per dict of values, the same list object each time, for a consumer that
        only reads it (``crate_entities(shared=True)``: the writer encodes it once, the shape checks read it once)."""
        refs = self._shared_refs.get(values, entity)
        return refs if refs is not None else self._shared_refs.put(values, self.values(values, entity), entity)

    def structures(self, values: Values) -> list[dict[str, str]]:
        """The references of the ontology terms among a segmentation's values (the structures its label
        delineates), worked out once per dict of values; read them, do not edit them."""
        refs = self._structures.get(values)
        if refs is None:
            terms = [v.value for v in values.values() if isinstance(v.value, Term) and v.value.accession]
            refs = self._structures.put(values, [self.term(t) for t in terms])
        return refs

    def property_value(self, key: str, val: Value, entity: str, kind: str = "Parameter") -> dict[str, Any]:
        f = c.field_for(self.profile, entity, key)
        iri = (
            c.field_iri(self.profile, f)
            if f
            else c.FIELD_URN.format(name=self.profile.name, version=self.profile.version, key=key)
        )
        body: dict[str, Any] = {
            "@type": "PropertyValue",
            "additionalType": kind,
            "name": f.name if f else key,
            "propertyID": iri,
            "value": c.json_value(val),
            **c.unit_entry(val.unit),
        }
        if val.term is not None:
            body["valueReference"] = self.term(val.term)
        if val.unit is not None and val.unit.source:
            self.add(c.term_set(val.unit.source, self.profile))
        # A value is not an event: records that hold the same value share one entity (its @id is derived from
        # its content), which keeps a crate of 1,597 subjects x 130 labelled structures at ~1/5 of the entities.
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        digest = hashlib.blake2b(canonical, digest_size=6).hexdigest()
        return {"@id": f"#pv-{quote(f.key if f else key, safe='')}-{digest}", **body}

    def comments(self, owner: str, comments: Mapping[str, Value | str]) -> list[dict[str, str]]:
        refs = []
        for name, val in comments.items():
            text = val.text() if isinstance(val, Value) else str(val)
            refs.append(
                self.add(
                    {"@id": f"{owner}-comment-{quote(name, safe='')}", "@type": "Comment", "name": name, "text": text}
                )
            )
        return refs


CRATE_CONTEXT: list[Any] = [RO_CRATE_CONTEXT, dict(ISA_TERMS)]


def crate_entities(
    investigation: Investigation,
    profile: Profile,
    *,
    files: Mapping[str, FileInfo] | None = None,
    publisher: str | None = None,
    licences: LicenceMap | None = None,
    shapes_only: bool = False,
    shared: bool = False,
) -> Iterator[dict[str, Any]]:
    """The entities of the crate's ``@graph``, made one scan at a time (see :func:`build_ro_crate` for the
    arguments). Every entity is complete when it is yielded and precedes the entities that refer to it
    (a value before its record, a scan's files before its process), except the metadata descriptor, which
    comes first; the root dataset comes last.

    ``shapes_only``: the same entities in the same order, but a segmentation process holds only what the
    profile's shapes read of it (``@id``, ``@type``, ``additionalType`` and its ``parameterValue``, one
    list per dict of values), and nothing records the processes and files of an assay or the structures a
    label map is about. The linked layer checks this stream (:func:`~isaprofile.linked.shacl.validate_entities`): the
    shapes' results and their ``@graph`` positions are those of the whole crate, and the ENHANCE crate's
    207,610 segmentations cost a third of the time and none of the memory of their ``about`` lists.

    ``shared``: the segmentations of one dict of values hold the same list of references to its values, for a
    consumer that reads each entity once and changes none (the crate's writer; ``shapes_only`` implies it);
    otherwise every entity's lists are its own, as :func:`build_ro_crate`'s callers may edit them.
    """
    inv = investigation
    g = _Graph(profile, licences if licences is not None else licence_map(inv, profile), shapes_only, shared)
    info: Mapping[str, FileInfo] = files or {}
    g.add({"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"},
           "conformsTo": {"@id": RO_CRATE_SPEC}})  # fmt: skip
    creators = [g.person(p) for p in inv.contacts]
    root_ent = _root(g, inv, publisher)
    root_ent["creator"] = creators
    root_ent["author"] = creators
    studies = []
    for s in inv.studies:
        studies.append((yield from _study(g, inv, s, info, creators)))
    root_ent["hasPart"] = studies
    g.add(root_ent)
    yield from g.flush()


def build_ro_crate(
    investigation: Investigation,
    profile: Profile,
    *,
    files: Mapping[str, FileInfo] | None = None,
    root: str | Path | None = None,
    publisher: str | None = None,
    licences: LicenceMap | None = None,
) -> tuple[dict[str, Any], Report]:
    """The RO-Crate metadata document of ``investigation`` and the findings made while building it.

    ``files`` maps data file paths (relative, POSIX) to ``(size, sha256)``; a DICOM series folder is
    given by its member files. Without ``files``, sizes and checksums are computed from the files
    under ``root``; without either, data entities carry no size or checksum. ``licences`` gives each
    data entity its ``license`` (:func:`isaprofile.licences.dataset_licences` applies the config's
    ``licence_rules:``); without it, the licences the model alone gives (subjects' licence values, a
    single declared licence). Findings: ``jsonld-file-missing`` for a named file that is not there.
    The whole document is in memory: :func:`crate_entities` and :func:`ro_crate_chunks` stream it.
    """
    files, report = _file_info(investigation, files, root)
    graph = list(crate_entities(investigation, profile, files=files, publisher=publisher, licences=licences))
    return {"@context": CRATE_CONTEXT, "@graph": graph}, report


def ro_crate_chunks(
    investigation: Investigation, profile: Profile, *, files: Mapping[str, FileInfo], **kwargs: Any
) -> Iterator[bytes]:
    """The bytes of :func:`build_ro_crate`'s document (``files`` given), made and written a piece at a time."""
    return dump_graph_chunks(CRATE_CONTEXT, crate_entities(investigation, profile, files=files, shared=True, **kwargs))


def ro_crate_bytes(
    investigation: Investigation,
    profile: Profile,
    *,
    files: Mapping[str, FileInfo] | None = None,
    root: str | Path | None = None,
    **kwargs: Any,
) -> tuple[bytes, Report]:
    """:func:`build_ro_crate` serialised deterministically (sorted keys, UTF-8)."""
    info, report = _file_info(investigation, files, root)
    return b"".join(ro_crate_chunks(investigation, profile, files=info, **kwargs)), report


def _file_info(
    inv: Investigation, files: Mapping[str, FileInfo] | None, root: str | Path | None
) -> tuple[Mapping[str, FileInfo], Report]:
    if files is None and root is not None:
        return scan_files(root, _all_paths(inv))
    return files or {}, Report()


def _all_paths(inv: Investigation) -> list[str]:
    out: list[str] = []
    for s in inv.studies:
        for scan in s.scans:
            out.extend(f.path for f in scan.files)
            out.extend(g.path for g in scan.segmentations if g.path)
    return out


def _root(g: _Graph, inv: Investigation, publisher: str | None) -> dict[str, Any]:
    ent: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "additionalType": "Investigation",
        "identifier": inv.identifier,
        "name": inv.title or inv.identifier,
    }
    if inv.description:
        ent["description"] = inv.description
    licences = [g.licence(lic) for lic in dict.fromkeys([*map(c.spdx_id, inv.licences), *g.licences.all])]
    if licences:
        ent["license"] = licences
    if c.release_date(inv):
        ent["datePublished"] = c.release_date(inv)
    if inv.submission_date:
        ent["dateCreated"] = inv.submission_date
    if inv.keywords:
        ent["keywords"] = list(inv.keywords)
    pub = c.publisher_name(inv, publisher)
    if pub:
        ent["publisher"] = g.org(pub)
    grants = []
    for fund in inv.funding:
        funder, award = fund.get("funder", ""), fund.get("award", "")
        grant: dict[str, Any] = {"@id": c.local_id("grant", funder, award), "@type": "Grant", "name": award or funder}
        if award:
            grant["identifier"] = award
        if funder:
            grant["funder"] = g.org(funder)
        grants.append(g.add(grant))
    if grants:
        ent["funding"] = grants
        ent["funder"] = [g.org(f["funder"]) for f in inv.funding if f.get("funder")]
    cites = []
    for i, pub_ in enumerate(inv.publications):
        doi = pub_.get("doi", "")
        art: dict[str, Any] = {
            "@id": f"https://doi.org/{doi}" if doi else c.local_id("publication", str(i)),
            "@type": "ScholarlyArticle",
            "name": pub_.get("title") or doi or f"publication {i}",
        }
        art["headline"] = art["name"]
        if doi:
            art["identifier"] = doi
        if pub_.get("authors"):
            art["creditText"] = pub_["authors"]
        cites.append(g.add(art))
    if cites:
        ent["citation"] = cites
    conforms = [g.add({"@id": ISA_PROFILE, "@type": ["CreativeWork", "Profile"], "name": "ISA RO-Crate profile"})]
    prof = g.profile
    conforms.append(
        g.add(
            {
                "@id": PROFILE_URN.format(name=prof.name, version=prof.version),
                "@type": ["CreativeWork", "Profile"],
                "name": prof.title,
                "version": prof.version,
                "identifier": prof.id,
            }
        )
    )
    ent["conformsTo"] = conforms
    if inv.comments:
        ent["comment"] = g.comments("#investigation", inv.comments)
    return ent


def _study(
    g: _Graph, inv: Investigation, s: Study, info: Mapping[str, FileInfo], creators: list[dict[str, str]]
) -> Generator[dict[str, Any], None, dict[str, str]]:
    sid = c.local_id("study", s.identifier)
    ent: dict[str, Any] = {
        "@id": sid,
        "@type": "Dataset",
        "additionalType": "Study",
        "identifier": s.identifier,
        "name": s.title or s.identifier,
        "creator": creators,
    }
    if s.description:
        ent["description"] = s.description
    if inv.submission_date:
        ent["dateCreated"] = inv.submission_date
    if c.release_date(inv):
        ent["datePublished"] = c.release_date(inv)
    if s.design_types:
        ent["keywords"] = [g.term(t) for t in s.design_types]
    if s.factors:
        ent["variableMeasured"] = list(s.factors)
    if s.comments:
        ent["comment"] = g.comments(sid, s.comments)
    mentions, about = [], []
    collect = _protocol(g, s, *sample_protocol(g.profile))  # the profile's own, as in the ISA-Tab and ISA-JSON
    for subj in s.subjects:
        mentions.append(
            g.add(
                {
                    "@id": c.local_id("source", subj.id),
                    "@type": "Sample",
                    "additionalType": "Source",
                    "name": subj.id,
                    "additionalProperty": g.values(subj.characteristics, "subject", "Characteristic"),
                    **({"comment": g.comments(c.local_id("source", subj.id), subj.comments)} if subj.comments else {}),
                }
            )
        )
        yield from g.flush()  # one record at a time: ENHANCE's 1,597 subjects and samples are not held at once
    for smp in s.samples:
        own = c.local_id("sample", smp.id)
        props = g.values(smp.characteristics, "sample", "Characteristic") + g.values(smp.factors, "sample", "Factor")
        sample = {
            "@id": own,
            "@type": "Sample",
            "additionalType": "Sample",
            "name": smp.id,
            "additionalProperty": props,
        }
        if smp.comments:
            sample["comment"] = g.comments(own, smp.comments)
        mentions.append(g.add(sample))
        about.append(
            g.add(
                {
                    "@id": c.local_id("process", "collection", smp.id),
                    "@type": "LabProcess",
                    "additionalType": "SampleCollection",
                    "name": f"collection of {smp.id}",
                    "object": [{"@id": c.local_id("source", smp.subject)}],
                    "result": [{"@id": own}],
                    "executesLabProtocol": collect,
                }
            )
        )
        yield from g.flush()
    ent["mentions"] = mentions
    ent["about"] = about
    yield from g.flush()
    assays = []
    for m in dict.fromkeys(scan.modality for scan in s.scans):
        assays.append((yield from _assay(g, s, m, [x for x in s.scans if x.modality == m], info, creators)))
    ent["hasPart"] = assays
    return g.add(ent)


def _protocol(g: _Graph, s: Study, name: str, kind: Term | None) -> dict[str, str]:
    ent: dict[str, Any] = {
        "@id": c.local_id("protocol", s.identifier, name),
        "@type": "LabProtocol",
        "name": name,
        "description": f"{name} ({s.identifier})",
    }
    if kind is not None:
        ent["intendedUse"] = g.term(kind)
    return g.add(ent)


def _assay(
    g: _Graph, s: Study, modality: str, scans: list[Scan], info: Mapping[str, FileInfo], creators: list[dict[str, str]]
) -> Generator[dict[str, Any], None, dict[str, str]]:
    aid = c.local_id("assay", s.identifier, modality)
    spec = g.profile.assays.get(modality)
    ent: dict[str, Any] = {
        "@id": aid,
        "@type": "Dataset",
        "additionalType": "Assay",
        "identifier": f"{s.identifier}-{modality}",
        "name": f"{modality} of {s.identifier}",
        "description": f"{modality} scans of study {s.identifier}",
        "creator": creators,
    }
    protocol_type = spec.protocol_type if spec else Term("data acquisition")
    acquire = _protocol(g, s, spec.protocol if spec else modality, protocol_type)
    segment = _protocol(g, s, "image segmentation", g.profile.protocols.get("image segmentation"))
    if spec is not None:
        ent["measurementMethod"] = g.term(spec.technology)
        ent["measurementTechnique"] = g.term(spec.measurement)
    parts: dict[str, dict[str, str]] = {}  # @id -> reference: a label map is the mask of ~130 segmentations
    about: list[dict[str, str]] = []
    # for the crate's writer, the references to each scan's segmentations are its encoded prefix and their count,
    # written out as JSON text when the assay is (ENHANCE: 207,610 references, which were 50 MiB of dicts held to
    # the assay's end, then 14 MB of text), in runs of items without their brackets
    texts: list[str | _Numbered] | None = [] if g.shared and not g.shapes_only else None
    anatomy: dict[str, set[str]] = {}  # pending mask @id -> the term @ids of its about
    for scan in scans:
        results: list[dict[str, str]] = []
        for df in scan.files:
            what = "{} image {} of sample {}"
            top, leaves = _data_entity(g, df.path, info, what, scan.modality, scan.id, scan.sample)
            made = g.pending.get(top["@id"])  # None: the file was described by an earlier scan
            if df.comments and made is not None:
                made["comment"] = g.comments(top["@id"], df.comments)
            parts.setdefault(top["@id"], top)
            results.extend(leaves)
        proc: dict[str, Any] = {
            "@id": c.local_id("process", "scan", scan.id),
            "@type": "LabProcess",
            "additionalType": "Scan",
            "measurementTechnique": scan.modality,
            "name": scan.id,
            "object": [{"@id": c.local_id("sample", scan.sample)}],
            "result": results,
            "executesLabProtocol": acquire,
            "parameterValue": g.values(scan.parameters, "scan"),
        }
        if scan.comments:
            proc["comment"] = g.comments(c.local_id("scan", scan.id), scan.comments)
        about.append(g.add(proc))
        seg_id = c.local_id("process", "segmentation", scan.id)  # + "-N": a number needs no encoding
        if texts is not None and scan.segmentations:
            texts.append(flat_item(about)[1:-1])
            about.clear()
            prefix = flat_item({"@id": seg_id})[:-2]  # '{"@id":"…' without its closing '"}'
            texts.append(_Numbered(prefix, len(scan.segmentations)))
        added = g.segmented.get(seg_id, 0)  # (a scan id given twice: its first segmentations are described)
        g.segmented[seg_id] = max(added, len(scan.segmentations))
        for n, seg in enumerate(scan.segmentations):
            if g.shapes_only:  # the values, the label map and the process, added in the whole crate's order
                refs = g.shared_values(seg.values, "segmentation")
                if seg.path and seg.path not in g.data:
                    _data_entity(g, seg.path, info, "segmentation mask {} of {}", n, scan.id)
                if n >= added:
                    ident = f"{seg_id}-{n}"
                    g.pending[ident] = {"@id": ident, "@type": "LabProcess", "additionalType": "Segmentation",
                                        "parameterValue": refs}  # fmt: skip
                continue
            sp: dict[str, Any] = {
                "@id": f"{seg_id}-{n}",
                "@type": "LabProcess",
                "additionalType": "Segmentation",
                "name": f"segmentation {n} of {scan.id}",
                "object": results,
                "executesLabProtocol": segment,
                "parameterValue": (g.shared_values if g.shared else g.values)(seg.values, "segmentation"),
            }
            if seg.path:
                top, leaves = _data_entity(g, seg.path, info, "segmentation mask {} of {}", n, scan.id)
                mask = g.pending.get(top["@id"])
                if mask is not None:  # a label map is about every structure its labels delineate
                    about_ = mask.setdefault("about", [])
                    named = anatomy.setdefault(top["@id"], set())  # the terms in about_, not a scan of it
                    for ref in g.structures(seg.values):
                        if ref["@id"] not in named:
                            named.add(ref["@id"])
                            about_.append(dict(ref))
                    if not about_:
                        del mask["about"]
                parts.setdefault(top["@id"], top)
                sp["result"] = leaves
            if n >= added:
                g.pending[sp["@id"]] = sp
            if texts is None:
                about.append({"@id": sp["@id"]})
        yield from g.flush()
        anatomy.clear()  # the masks are written: none of them is pending any more
    ent["hasPart"] = list(parts.values())
    if texts is None:
        ent["about"] = about
    else:
        texts.append(flat_item(about)[1:-1])
        ent["about"] = Encoded.items(texts)
    return g.add(ent)


class _Numbered:
    """The references ``{prefix}-0"}`` … ``{prefix}-{count - 1}"}`` as runs of JSON text, made each time they are
    read (when the assay is written), a few thousand at a time."""

    __slots__ = ("prefix", "count")
    STEP = 4096

    def __init__(self, prefix: str, count: int) -> None:
        self.prefix, self.count = prefix, count

    def __iter__(self) -> Iterator[str]:
        for start in range(0, self.count, self.STEP):
            yield ",".join(f'{self.prefix}-{n}"}}' for n in range(start, min(self.count, start + self.STEP)))


def _data_entity(
    g: _Graph, path: str, info: Mapping[str, FileInfo], what: str, *args: object
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The entity of a data file path (File, or Dataset for a folder) and its File leaves (made once per
    path: a label map is the result of as many segmentations as it has labels); ``what.format(*args)``
    describes it (formatted only for a new one: a label map is looked up ~130 times)."""
    last = g._last
    if last is not None and last[0] == path:
        top, ids = last[1], last[2]
    else:
        made = g.data.get(path)
        if made is None:
            folder, paths = _new_data_entity(g, path, info, what.format(*args))
            made = g.data[path] = folder, tuple(paths)
        ids = tuple(c.file_id(k) for k in made[1])
        folder = made[0]
        top = {"@id": c.file_id(_clean(path)) + "/"} if folder else {"@id": ids[0]}
        g._last = (path, top, ids)
    return dict(top), [{"@id": ident} for ident in ids]


def _clean(path: str) -> str:
    return path.replace("\\", "/").strip("/")


def _new_data_entity(g: _Graph, path: str, info: Mapping[str, FileInfo], what: str) -> tuple[bool, list[str]]:
    """Add the entity of a data file path and of its File leaves; whether it is a folder, and the leaves' paths."""
    if g.info_keys is None or len(g.info_keys) != len(info):
        g.info_keys = sorted(info)
    keys = members(path, info, g.info_keys)
    clean = _clean(path)
    if keys and keys != [clean]:
        leaves = []
        for k in keys:
            ent = {**_file(k, info[k], True), "description": f"slice of {what}"}
            g.file_licence(ent, k)
            leaves.append(g.add_file(ent, k))
        _format(g, keys[0], True)
        folder = {
            "@id": c.file_id(clean) + "/",
            "@type": "Dataset",
            "name": clean.rpartition("/")[2],  # (Path(clean).name, without parsing a Path)
            "hasPart": leaves,
            "description": what,
        }
        g.file_licence(folder, clean)
        g.add_file(folder, clean + "/")
        return True, keys
    ent = {**_file(clean, info.get(clean), False), "description": what}
    g.file_licence(ent, clean)
    g.add_file(ent, clean)
    _format(g, clean, False)
    return False, [clean]


def _format(g: _Graph, path: str, in_folder: bool) -> None:
    """Describe the format IRI of a file as a contextual entity."""
    media, iri = encoding_format(path, in_folder)
    if iri:
        g.add({"@id": iri, "@type": "WebPage", "name": f"{c.FORMAT_NAMES.get(iri, media)} (EDAM)"})


def _file(path: str, meta: FileInfo | None, in_folder: bool) -> dict[str, Any]:
    media, iri = encoding_format(path, in_folder)
    ent: dict[str, Any] = {
        "@id": c.file_id(path),
        "@type": "File",
        "name": path.rpartition("/")[2],
        "encodingFormat": [media, {"@id": iri}] if iri else media,
    }
    if meta is not None:
        ent["contentSize"] = str(meta[0])
        ent["sha256"] = meta[1]
    return ent
