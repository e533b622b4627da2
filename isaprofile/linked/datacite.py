"""Landing-page and deposit metadata from the investigation: schema.org Dataset, DataCite 4.x, Zenodo.

All three documents are derived from the same :class:`Investigation` fields, so nothing is typed
twice. Check the metadata first with :func:`isaprofile.linked.metadata.check_metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from isaprofile.linked import _common as c
from isaprofile.linked.context import SCHEMA_ORG_CONTEXT, dumps
from isaprofile.model import Investigation, Person

if TYPE_CHECKING:
    from isaprofile.licences import LicenceMap


def _people(inv: Investigation) -> list[Person]:
    return list(inv.contacts)


def every_licence(inv: Investigation, licences: LicenceMap | None = None) -> list[str]:
    """The SPDX ids of every licence of the dataset: the declared ones, then any other the files carry."""
    out = [c.spdx_id(x) for x in inv.licences]
    if licences is not None:
        out += licences.all
    return list(dict.fromkeys(out))


def schema_org(
    inv: Investigation,
    *,
    identifier: str | None = None,
    publisher: str | None = None,
    licences: LicenceMap | None = None,
) -> dict[str, Any]:
    """A schema.org ``Dataset`` JSON-LD document for a landing page (what dataset search engines read).

    ``identifier`` is the dataset's DOI or URL when it has one; ``license`` lists every licence.
    """
    doc: dict[str, Any] = {
        "@context": SCHEMA_ORG_CONTEXT,
        "@type": "Dataset",
        "name": inv.title or inv.identifier,
        "identifier": identifier or inv.identifier,
        "creator": [_schema_person(p) for p in _people(inv)],
        "license": [c.spdx_iri(lic) for lic in every_licence(inv, licences)],
        "isAccessibleForFree": True,
    }
    if inv.description:
        doc["description"] = inv.description
    if c.release_date(inv):
        doc["datePublished"] = c.release_date(inv)
    if inv.keywords:
        doc["keywords"] = list(inv.keywords)
    pub = c.publisher_name(inv, publisher)
    if pub:
        doc["publisher"] = {"@type": "Organization", "name": pub}
    if inv.funding:
        doc["funding"] = [
            {"@type": "Grant", "identifier": f.get("award", ""), "funder": {"@type": "Organization",
                                                                             "name": f.get("funder", "")}}
            for f in inv.funding
        ]  # fmt: skip
    if inv.publications:
        doc["citation"] = [f"https://doi.org/{p['doi']}" for p in inv.publications if p.get("doi")]
    return doc


def _schema_person(p: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Person", "name": p.name, "familyName": p.last_name}
    if p.first_name:
        out["givenName"] = p.first_name
    if p.orcid and c.orcid_ok(p.orcid):
        out["@id"] = c.orcid_iri(p.orcid)
        out["identifier"] = c.orcid_iri(p.orcid)
    if p.affiliation:
        out["affiliation"] = {"@type": "Organization", "name": p.affiliation}
    return out


def datacite(
    inv: Investigation, *, doi: str | None = None, publisher: str | None = None, licences: LicenceMap | None = None
) -> dict[str, Any]:
    """DataCite 4.x metadata (the ``attributes`` of the DataCite REST API JSON).

    Mandatory properties: identifier (the DOI, else the investigation identifier typed ``Other``),
    creators, titles, publisher, publicationYear, types (resourceTypeGeneral ``Dataset``).
    ``rightsList`` has one entry per licence of the dataset (declared, and any other ``licences`` gives).
    """
    date = c.release_date(inv)
    attrs: dict[str, Any] = {
        "identifiers": [{"identifier": doi, "identifierType": "DOI"} if doi
                        else {"identifier": inv.identifier, "identifierType": "Other"}],
        "creators": [_datacite_person(p) for p in _people(inv)],
        "titles": [{"title": inv.title or inv.identifier}],
        "publisher": {"name": c.publisher_name(inv, publisher) or ""},
        "publicationYear": date[:4] if date else "",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Imaging dataset"},
        "schemaVersion": "http://datacite.org/schema/kernel-4",
        "rightsList": [_rights(lic) for lic in every_licence(inv, licences)],
        "subjects": [{"subject": k} for k in inv.keywords],
        "descriptions": [{"description": inv.description, "descriptionType": "Abstract"}] if inv.description else [],
        "dates": [{"date": date, "dateType": "Issued"}] if date else [],
        "fundingReferences": [
            {"funderName": f.get("funder", ""), **({"awardNumber": f["award"]} if f.get("award") else {})}
            for f in inv.funding
        ],
        "relatedIdentifiers": [
            {"relatedIdentifier": p["doi"], "relatedIdentifierType": "DOI", "relationType": "IsDescribedBy"}
            for p in inv.publications if p.get("doi")
        ],
    }  # fmt: skip
    if doi:
        attrs["doi"] = doi
    return attrs


def _rights(lic: str) -> dict[str, str]:
    return {"rights": c.spdx_licences().get(lic, lic), "rightsUri": c.spdx_iri(lic),
            "rightsIdentifier": lic.lower(), "rightsIdentifierScheme": "SPDX", "schemeUri": c.SPDX_BASE}  # fmt: skip


def _datacite_person(p: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"{p.last_name}, {p.first_name}" if p.first_name else p.last_name,
                           "nameType": "Personal", "familyName": p.last_name}  # fmt: skip
    if p.first_name:
        out["givenName"] = p.first_name
    if p.orcid and c.orcid_ok(p.orcid):
        out["nameIdentifiers"] = [{"nameIdentifier": c.orcid_iri(p.orcid), "nameIdentifierScheme": "ORCID",
                                   "schemeUri": "https://orcid.org"}]  # fmt: skip
    if p.affiliation:
        out["affiliation"] = [{"name": p.affiliation}]
    return out


def zenodo(inv: Investigation, licence: str | None = None) -> dict[str, Any]:
    """Zenodo deposition metadata (``{"metadata": {...}}`` for the deposit API).

    Zenodo takes one licence per record (it applies to every file of the record). ``licence`` is the
    licence of this record; without it, the first of the investigation's licences, the others being named
    in ``notes`` — right only for a single-licence dataset: a dataset whose files carry several licences
    needs one record per licence (:func:`zenodo_records`).
    """
    meta: dict[str, Any] = {
        "upload_type": "dataset",
        "publication_date": c.release_date(inv)[:10],
        "title": inv.title or inv.identifier,
        "creators": [_zenodo_person(p) for p in _people(inv)],
        "description": inv.description or inv.title or inv.identifier,
        "access_right": "open",
        "keywords": list(inv.keywords),
    }
    if licence is not None:
        meta["license"] = c.spdx_id(licence).lower()
    elif inv.licences:
        meta["license"] = c.spdx_id(inv.licences[0]).lower()
    if licence is None and len(inv.licences) > 1:
        meta["notes"] = "Parts of this dataset are licensed under: " + ", ".join(c.spdx_id(x) for x in inv.licences)
    related = [{"identifier": p["doi"], "relation": "isDescribedBy", "scheme": "doi"}
               for p in inv.publications if p.get("doi")]  # fmt: skip
    if related:
        meta["related_identifiers"] = related
    return {"metadata": meta}


@dataclass
class ZenodoRecord:
    """One Zenodo record of a deposit split by licence: its licence, metadata and data files."""

    licence: str  # SPDX id
    metadata: dict[str, Any]  # {"metadata": {...}} for the deposit API
    files: list[str] = field(default_factory=list)  # data file paths (a series folder is one path)
    subjects: list[str] = field(default_factory=list)


def zenodo_records(inv: Investigation, licences: LicenceMap) -> list[ZenodoRecord]:
    """One Zenodo record per licence the data files carry, each with that licence and its files.

    Titles name the licence when there is more than one record; the description says which part of the
    dataset the record holds and which licences the other records carry. Files no licence covers are in
    no record (the licence check reports them).
    """
    used = [lic for lic in licences.all if licences.files_of(lic)]
    if not used:  # no licensed data file (a metadata-only dataset): one record under the declared licence
        lics = every_licence(inv, licences)
        return [ZenodoRecord(lics[0], zenodo(inv, lics[0]))] if lics else []
    names = c.spdx_licences()
    out = []
    for lic in used:
        doc = zenodo(inv, lic)
        meta = doc["metadata"]
        files, subjects = licences.files_of(lic), licences.subjects_of(lic)
        if len(used) > 1:
            others = ", ".join(f"{names.get(x, x)} ({x})" for x in used if x != lic)
            meta["title"] = f"{meta['title']} — {names.get(lic, lic)} part"
            meta["description"] = (
                f"{meta['description']}\n\nThis record holds the part of the dataset licensed under "
                f"{names.get(lic, lic)} ({lic}): {len(files)} data file(s) of {len(subjects)} subject(s). "
                f"The rest of the dataset is deposited in separate records under: {others}."
            )
            meta["notes"] = f"One of {len(used)} records of this dataset, one per licence: " + ", ".join(used)
        out.append(ZenodoRecord(lic, doc, files, subjects))
    return out


def _zenodo_person(p: Person) -> dict[str, str]:
    out = {"name": f"{p.last_name}, {p.first_name}" if p.first_name else p.last_name}
    if p.affiliation:
        out["affiliation"] = p.affiliation
    if p.orcid and c.orcid_ok(p.orcid):
        out["orcid"] = c.orcid_iri(p.orcid).removeprefix(c.ORCID_BASE)
    return out


def as_bytes(doc: dict[str, Any]) -> bytes:
    """Deterministic bytes of any of these documents."""
    return dumps(doc)
