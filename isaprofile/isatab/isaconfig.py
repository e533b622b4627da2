"""isatools configuration XMLs for a profile's imaging assays, derived from the profile alone.

The isatools validator (``isatools.isatab.validate``) only knows the assay types it has a configuration file
for; it has none for imaging and stops with error 4002 on an MRI or CT assay. :func:`write_isaconfig` writes,
for a profile, the configuration set the validator needs for the ISA-Tab our writer produces:

- ``investigation.xml``: the investigation-file rows, required where the ISA-Tab 1.0 structure or the
  profile requires them;
- ``studySample.xml``: ``Source Name`` → subject characteristics → the sample protocol → ``Sample Name`` →
  sample characteristics and factors;
- one ``<assay>.xml`` per entry of ``profile.assays``, keyed by the same measurement and technology types our
  writer puts in STUDY ASSAYS: ``Sample Name`` → acquisition protocol and its parameters → ``Assay Name`` →
  ``Raw Data File`` → segmentation protocol and its parameters → ``Derived Data File``.

The format is the one of the XML files isatools ships (``isatools/resources/config/xml``, schema
``isatab_configurator.xsd``). Beside them go the same assays in the JSON configuration format of isatools'
ISA-JSON validator (``isatools.isajson.validate(fp, config_dir=...)``, format of
``isatools/resources/config/json/default``): ``study_config.json`` (source → sample protocol → sample) and one
``imaging_<assay>.json`` per measurement/technology pair (sample → acquisition protocol → data file, then the
optional segmentation protocol → derived data file). Output is deterministic: the same profile gives
byte-identical files. The configurations of the built-in profiles ship inside the package
(:func:`packaged_config_dir`).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from isaprofile._atomic import write_text
from isaprofile.isatab.write import SEGMENTATION_PROTOCOL, file_stem, sample_protocol
from isaprofile.model import Term
from isaprofile.profile.model import Assay, Field, Profile

NS = "http://www.ebi.ac.uk/bii/isatab_configuration#"
ET.register_namespace("", NS)

_DATA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "number": "Double",
    "boolean": "Boolean",
    "date": "Date",
    "term": "Ontology term",
}
_KIND = {"characteristic": "Characteristics", "factor": "Factor Value", "parameter": "Parameter Value",
         "comment": "Comment"}  # fmt: skip

# The investigation file as our writer writes it: (section, row label, data type). Rows marked required here are
# the ones ISA-Tab 1.0 cannot do without; the profile adds its own required investigation and study fields.
_INVESTIGATION_ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("ONTOLOGY SOURCE REFERENCE", "Term Source Name", "String", False),
    ("ONTOLOGY SOURCE REFERENCE", "Term Source File", "String", False),
    ("ONTOLOGY SOURCE REFERENCE", "Term Source Version", "String", False),
    ("ONTOLOGY SOURCE REFERENCE", "Term Source Description", "String", False),
    ("INVESTIGATION", "Investigation Identifier", "String", True),
    ("INVESTIGATION", "Investigation Title", "String", False),
    ("INVESTIGATION", "Investigation Description", "Long String", False),
    ("INVESTIGATION", "Investigation Submission Date", "Date", False),
    ("INVESTIGATION", "Investigation Public Release Date", "Date", False),
    ("INVESTIGATION PUBLICATIONS", "Investigation PubMed ID", "String", False),
    ("INVESTIGATION PUBLICATIONS", "Investigation Publication DOI", "String", False),
    ("INVESTIGATION PUBLICATIONS", "Investigation Publication Author List", "Long String", False),
    ("INVESTIGATION PUBLICATIONS", "Investigation Publication Title", "Long String", False),
    ("INVESTIGATION PUBLICATIONS", "Investigation Publication Status", "Ontology term", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Last Name", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person First Name", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Mid Initials", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Email", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Phone", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Fax", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Address", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Affiliation", "String", False),
    ("INVESTIGATION CONTACTS", "Investigation Person Roles", "Ontology term", False),
    ("STUDY", "Study Identifier", "String", True),
    ("STUDY", "Study Title", "String", False),
    ("STUDY", "Study Description", "Long String", False),
    ("STUDY", "Study Submission Date", "Date", False),
    ("STUDY", "Study Public Release Date", "Date", False),
    ("STUDY", "Study File Name", "String", True),
    ("STUDY DESIGN DESCRIPTORS", "Study Design Type", "Ontology term", False),
    ("STUDY PUBLICATIONS", "Study PubMed ID", "String", False),
    ("STUDY PUBLICATIONS", "Study Publication DOI", "String", False),
    ("STUDY PUBLICATIONS", "Study Publication Author List", "Long String", False),
    ("STUDY PUBLICATIONS", "Study Publication Title", "Long String", False),
    ("STUDY PUBLICATIONS", "Study Publication Status", "Ontology term", False),
    ("STUDY FACTORS", "Study Factor Name", "String", False),
    ("STUDY FACTORS", "Study Factor Type", "Ontology term", False),
    ("STUDY ASSAYS", "Study Assay File Name", "String", True),
    ("STUDY ASSAYS", "Study Assay Measurement Type", "Ontology term", True),
    ("STUDY ASSAYS", "Study Assay Technology Type", "Ontology term", True),
    ("STUDY ASSAYS", "Study Assay Technology Platform", "String", False),
    ("STUDY PROTOCOLS", "Study Protocol Name", "String", True),
    ("STUDY PROTOCOLS", "Study Protocol Type", "Ontology term", True),
    ("STUDY PROTOCOLS", "Study Protocol Description", "Long String", False),
    ("STUDY PROTOCOLS", "Study Protocol URI", "String", False),
    ("STUDY PROTOCOLS", "Study Protocol Version", "String", False),
    ("STUDY PROTOCOLS", "Study Protocol Parameters Name", "String", False),
    ("STUDY PROTOCOLS", "Study Protocol Components Name", "String", False),
    ("STUDY PROTOCOLS", "Study Protocol Components Type", "Ontology term", False),
    ("STUDY CONTACTS", "Study Person Last Name", "String", False),
    ("STUDY CONTACTS", "Study Person First Name", "String", False),
    ("STUDY CONTACTS", "Study Person Mid Initials", "String", False),
    ("STUDY CONTACTS", "Study Person Email", "String", False),
    ("STUDY CONTACTS", "Study Person Phone", "String", False),
    ("STUDY CONTACTS", "Study Person Fax", "String", False),
    ("STUDY CONTACTS", "Study Person Address", "String", False),
    ("STUDY CONTACTS", "Study Person Affiliation", "String", False),
    ("STUDY CONTACTS", "Study Person Roles", "Ontology term", False),
)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


class _Table:
    """One ``isatab-configuration`` element being filled in column order."""

    def __init__(self, table_name: str, measurement: Term | str, technology: Term | str, assay: bool) -> None:
        self.root = ET.Element(_q("isatab-config-file"))
        attrs = {"table-name": table_name}
        if assay:
            attrs |= {"isatab-assay-type": "generic_assay", "isatab-conversion-target": "generic"}
        self.conf = ET.SubElement(self.root, _q("isatab-configuration"), attrs)
        for tag, term in (("measurement", measurement), ("technology", technology)):
            t = term if isinstance(term, Term) else None
            ET.SubElement(self.conf, _q(tag), {
                "term-label": t.label if t else str(term),
                "term-accession": (t.iri or t.accession or "") if t else "",
                "source-abbreviation": (t.source or "") if t else "",
            })  # fmt: skip
        self.headers: set[str] = set()

    def field(
        self,
        header: str,
        description: str,
        *,
        data_type: str = "String",
        required: bool = False,
        file: bool = False,
        section: str | None = None,
        ontologies: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Add a ``field``; a header already present (a field shared by several modalities) is skipped."""
        if header in self.headers:
            return
        self.headers.add(header)
        attrs = {"header": header, "data-type": data_type, "is-file-field": _bool(file), "is-multiple-value": "false",
                 "is-required": _bool(required), "is-hidden": "false", "is-forced-ontology": "false"}  # fmt: skip
        if section:
            attrs["section"] = section
        el = ET.SubElement(self.conf, _q("field"), attrs)
        ET.SubElement(el, _q("description")).text = description
        ET.SubElement(el, _q("default-value")).text = ""
        onts = list(ontologies)
        if onts:
            rec = ET.SubElement(el, _q("recommended-ontologies"))
            for abbrev, name in onts:
                ET.SubElement(rec, _q("ontology"), {"id": "", "abbreviation": abbrev, "name": name, "version": ""})

    def unit(self, field: Field) -> None:
        """Add the ``unit-field`` that follows a numeric field with a unit."""
        attrs = {"data-type": "Ontology term", "is-multiple-value": "false", "is-required": "false",
                 "is-forced-ontology": "false"}  # fmt: skip
        el = ET.SubElement(self.conf, _q("unit-field"), attrs)
        ET.SubElement(el, _q("description")).text = f"unit of {field.name}" + (
            f" (profile unit: {field.unit.label})" if field.unit else ""
        )

    def protocol(self, protocol_type: str) -> None:
        ET.SubElement(self.conf, _q("protocol-field"), {"protocol-type": protocol_type})

    def structured(self, name: str) -> None:
        ET.SubElement(self.conf, _q("structured-field"), {"name": name})

    def profile_fields(self, profile: Profile, fields: Iterable[Field], *, conditional: bool = False) -> None:
        """Add the attribute columns (Characteristics, Factor Value, Parameter Value, Comment) of ``fields``.

        ``conditional``: the fields are required only on rows that have their node (a segmentation); isatools
        requires a field on every row, so they are written as not required and the profile rules check them.
        """
        for f in fields:
            if f.isa not in _KIND or f.header in self.headers:
                continue
            comment = f.isa == "comment"
            dtype = "String" if comment else _DATA_TYPES[f.type]
            onts = [] if comment else _ontologies(profile, f)
            self.field(f.header, f.description or f.label, data_type=dtype, required=f.required and not conditional,
                       ontologies=onts)  # fmt: skip
            if not comment and f.unit is not None and f.type in ("integer", "number"):
                self.unit(f)

    def xml(self) -> str:
        ET.indent(self.root, space="  ")
        return ET.tostring(self.root, encoding="unicode", xml_declaration=False) + "\n"


def _ontologies(profile: Profile, f: Field) -> list[tuple[str, str]]:
    if f.type != "term":
        return []
    sources = sorted({t.source for t in f.terms if t.source})
    return [(s, profile.ontologies.get(s, {}).get("description", s)) for s in sources]


def _placement(profile: Profile, entity: str, isa: str) -> Field | None:
    return profile.placement(entity, isa)


def _desc(field: Field | None, default: str) -> str:
    return (field.description or field.label) if field else default


def investigation_config(profile: Profile) -> str:
    """The ``investigation.xml`` text: the investigation-file rows with the profile's required ones."""
    required = {f.name for f in profile.fields if f.entity in ("investigation", "study")
                and f.isa in ("investigation", "study") and f.required}  # fmt: skip
    table = _Table("investigation", "[investigation]", "", assay=False)
    for section, label, dtype, must in _INVESTIGATION_ROWS:
        req = must or label in required or any(label == f"{r} Last Name" for r in required)
        table.field(label, f"{label} ({profile.id})", data_type=dtype, required=req, section=section)
    for f in profile.fields:
        if f.entity in ("investigation", "study") and f.isa == "comment":
            section = "INVESTIGATION" if f.entity == "investigation" else "STUDY"
            table.field(f"Comment[{f.name}]", _desc(f, f.name), data_type=_DATA_TYPES[f.type],
                        required=f.required, section=section)  # fmt: skip
    return table.xml()


def study_config(profile: Profile) -> str:
    """The ``studySample.xml`` text: sources (subjects), the sample protocol, samples (subject at a time point)."""
    table = _Table("studySample", "[Sample]", "", assay=False)
    table.field("Source Name", _desc(_placement(profile, "subject", "source-name"), "the subject"), required=True)
    table.profile_fields(profile, profile.fields_for("subject"))
    table.protocol(sample_protocol(profile)[1].label)
    table.field("Sample Name", _desc(_placement(profile, "sample", "sample-name"), "a subject at one time point"),
                required=True)  # fmt: skip
    samples = profile.fields_for("sample")
    table.profile_fields(profile, [f for f in samples if f.isa != "factor"])
    table.profile_fields(profile, [f for f in samples if f.isa == "factor"])
    table.structured("characteristics")
    table.structured("factors")
    return table.xml()


def assay_config(profile: Profile, assay: Assay) -> str:
    """The configuration text of one imaging assay of ``profile``."""
    key = assay.key
    table = _Table(assay_config_name(assay)[:-4], assay.measurement, assay.technology, assay=True)
    table.field("Sample Name", _desc(_placement(profile, "scan", "scan-sample"), "the sample scanned"), required=True)
    table.protocol(assay.protocol_type.label)
    scan_fields = profile.fields_for("scan", key)
    table.profile_fields(profile, [f for f in scan_fields if f.isa == "parameter"])
    table.field("Assay Name", _desc(_placement(profile, "scan", "assay-name"), "the scan"), required=True)
    table.profile_fields(profile, [f for f in scan_fields if f.isa == "comment"])
    image = _placement(profile, "scan", "image-file")
    table.field("Raw Data File", _desc(image, "the image file of the scan"), file=True)
    table.protocol(profile.protocols.get(SEGMENTATION_PROTOCOL, Term("image segmentation")).label)
    segmentation = [f for f in profile.fields_for("segmentation") if f.isa == "parameter"]
    table.profile_fields(profile, segmentation, conditional=True)
    seg = _placement(profile, "segmentation", "segmentation-file")
    table.field("Derived Data File", _desc(seg, "the segmentation mask"), file=True)
    table.structured("factors")
    return table.xml()


def assay_config_name(assay: Assay) -> str:
    """The file name of an assay's configuration, e.g. ``imaging_mri.xml``."""
    return f"imaging_{file_stem(assay.key).lower().replace('-', '_')}.xml"


def isaconfig_documents(profile: Profile) -> dict[str, str]:
    """File name → XML text of every configuration file for ``profile`` (investigation, study, one per assay).

    Assays that share a measurement and technology type (isatools keys configurations by that pair) get one
    configuration, the first one's.
    """
    docs = {"investigation.xml": investigation_config(profile), "studySample.xml": study_config(profile)}
    for assay in _assay_pairs(profile):
        docs[assay_config_name(assay)] = assay_config(profile, assay)
    return docs


def _assay_pairs(profile: Profile) -> list[Assay]:
    """The assays of ``profile``, one per (measurement, technology) pair (the first one's), in profile order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for assay in profile.assays.values():
        pair = (assay.measurement.label.lower(), assay.technology.label.lower())
        if pair not in seen:
            seen.add(pair)
            out.append(assay)
    return out


def _json_text(doc: dict[str, object]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def isajson_config_documents(profile: Profile) -> dict[str, str]:
    """File name → text of the ISA-JSON validator's configuration files for ``profile``.

    ``protocols`` is the protocol-type sequence of an assay: acquisition, then segmentation. isatools (rule 4004)
    checks that the sequence each process chain shows lies within it, so a scan without segmentation (a PET
    volume) and a segmentation chain both fit.
    """
    sample_type = sample_protocol(profile)[1].label
    docs = {
        "study_config.json": _json_text({
            "additionalCharacteristics": True,
            "additionalFactorValues": True,
            "protocols": [{"inputs": "#source", "protocol": sample_type, "outputs": "#sample"}],
            "protocolSequence": [sample_type],
            "description": [f"(Source)->({sample_type})->(Sample)"],
        })
    }  # fmt: skip
    segmentation = profile.protocols.get(SEGMENTATION_PROTOCOL, Term("image segmentation")).label
    for assay in _assay_pairs(profile):
        acquisition = assay.protocol_type.label
        docs[assay_config_name(assay)[:-4] + ".json"] = _json_text({
            "measurementType": assay.measurement.label,
            "technologyType": assay.technology.label,
            "protocols": [{"inputs": "#sample", "protocol": acquisition, "outputs": "#data"},
                          {"inputs": "#data", "protocol": segmentation, "outputs": "#data"}],
            "description": [f"(Sample)->({acquisition})->(DataFile)->({segmentation})->(DerivedDataFile)"],
        })  # fmt: skip
    return docs


def write_isaconfig(profile: Profile, folder: str | Path) -> list[Path]:
    """Write the isatools configuration files of ``profile`` into ``folder``; returns their paths (sorted).

    The XML set (ISA-Tab validator) and the JSON set (ISA-JSON validator) are written side by side. XML and
    JSON files in ``folder`` that are not part of the sets are removed, so the folder holds exactly one
    configuration of each kind. Each file is written to a temporary file and renamed into place.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    docs = {**isaconfig_documents(profile), **isajson_config_documents(profile)}
    for stale in [*out.glob("*.xml"), *out.glob("*.json")]:
        if stale.name not in docs:
            stale.unlink()
    paths = []
    for name, text in sorted(docs.items()):
        paths.append(write_text(out / name, text))
    return paths


def packaged_config_dir(profile: Profile | str) -> Path:
    """The folder of the configurations shipped for a built-in profile (``configs/<name>/<version>``).

    Raises ``FileNotFoundError`` when the package ships none for it (a user profile: use
    :func:`write_isaconfig`).
    """
    from isaprofile.profile.model import load_profile

    prof = load_profile(profile) if isinstance(profile, str) else profile
    folder = Path(str(resources.files("isaprofile") / "isatab" / "configs" / prof.name / prof.version))
    if not (folder / "studySample.xml").is_file():
        raise FileNotFoundError(f"no isatools configuration shipped for profile {prof.id}; use write_isaconfig")
    return folder


def builtin_config_targets(root: str | Path) -> list[tuple[Profile, list[Path]]]:
    """For each built-in profile, the folders under the repository ``root`` that hold its configurations:
    the shipped copy (``isaprofile/isatab/configs/<name>/<version>``) and the published one
    (``schemas/<name>/<version>/isaconfig``)."""
    from isaprofile.profile.model import list_profiles, load_profile

    root = Path(root)
    out = []
    for name, version in list_profiles():
        prof = load_profile(f"{name}@{version}")
        out.append((prof, [root / "isaprofile" / "isatab" / "configs" / name / version,
                           root / "schemas" / name / version / "isaconfig"]))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Regenerate the shipped and published configurations of every built-in profile.

    Usage: ``python -m isaprofile.isatab.isaconfig [REPO_ROOT]`` (default: the current folder).
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    if not (root / "isaprofile" / "isatab").is_dir():
        print(f"{root}: not the isaprofile repository root", file=sys.stderr)
        return 2
    for prof, folders in builtin_config_targets(root):
        for folder in folders:
            paths = write_isaconfig(prof, folder)
            print(f"{prof.id}: {len(paths)} files in {folder.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
