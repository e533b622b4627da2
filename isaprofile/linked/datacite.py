"""Landing-page and deposit metadata from the investigation: schema.org Dataset, DataCite 4.x, Zenodo.

All three documents are derived from the same :class:`Investigation` fields, so nothing is typed
twice. Check the metadata first with :func:`isaprofile.linked.metadata.check_metadata`.
"""

from __future__ import annotations

from typing import Any

from isaprofile.linked import _common as c
from isaprofile.linked.context import SCHEMA_ORG_CONTEXT, dumps
from isaprofile.model import Investigation, Person


def _people(inv: Investigation) -> list[Person]:
    return list(inv.contacts)


def schema_org(inv: Investigation, *, identifier: str | None = None, publisher: str | None = None) -> dict[str, Any]:
    """A schema.org ``Dataset`` JSON-LD document for a landing page (what dataset search engines read).

    ``identifier`` is the dataset's DOI or URL when it has one.
    """
    doc: dict[str, Any] = {
        "@context": SCHEMA_ORG_CONTEXT,
        "@type": "Dataset",
        "name": inv.title or inv.identifier,
        "identifier": identifier or inv.identifier,
        "creator": [_schema_person(p) for p in _people(inv)],
        "license": [c.spdx_iri(c.spdx_id(lic)) for lic in inv.licences],
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


def datacite(inv: Investigation, *, doi: str | None = None, publisher: str | None = None) -> dict[str, Any]:
    """DataCite 4.x metadata (the ``attributes`` of the DataCite REST API JSON).

    Mandatory properties: identifier (the DOI, else the investigation identifier typed ``Other``),
    creators, titles, publisher, publicationYear, types (resourceTypeGeneral ``Dataset``).
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
        "rightsList": [
            {"rights": c.spdx_licences().get(c.spdx_id(lic), lic), "rightsUri": c.spdx_iri(c.spdx_id(lic)),
             "rightsIdentifier": c.spdx_id(lic).lower(), "rightsIdentifierScheme": "SPDX",
             "schemeUri": "https://spdx.org/licenses/"}
            for lic in inv.licences
        ],
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


def zenodo(inv: Investigation) -> dict[str, Any]:
    """Zenodo deposition metadata (``{"metadata": {...}}`` for the deposit API).

    Zenodo takes one licence per record: the first of the investigation's licences; the others are
    named in ``notes``.
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
    if inv.licences:
        meta["license"] = c.spdx_id(inv.licences[0]).lower()
    if len(inv.licences) > 1:
        meta["notes"] = "Parts of this dataset are licensed under: " + ", ".join(c.spdx_id(x) for x in inv.licences)
    related = [{"identifier": p["doi"], "relation": "isDescribedBy", "scheme": "doi"}
               for p in inv.publications if p.get("doi")]  # fmt: skip
    if related:
        meta["related_identifiers"] = related
    return {"metadata": meta}


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
