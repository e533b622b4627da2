"""Generate the reference pages of ``docs/`` from data: the code catalogue and each profile's fields.

``python -m isaprofile.docgen docs`` rewrites them; a test fails when the committed pages are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from isaprofile.findings.codes import catalogue
from isaprofile.profile.model import Profile, list_profiles, load_profile


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def codes_markdown() -> str:
    """The finding-code reference, grouped by layer."""
    out = ["# Finding codes", "", "Every finding has a stable code from this catalogue (generated from "
           "`isaprofile/findings/catalogue/*.yaml`; do not edit by hand).", ""]  # fmt: skip
    layer = None
    for code in catalogue().values():
        if code.layer != layer:
            layer = code.layer
            out += [
                "",
                f"## {layer}",
                "",
                "| Code | Severity | Title | Message | Description |",
                "|---|---|---|---|---|",
            ]
        desc = code.description + (f" *Hint:* {code.hint}" if code.hint else "")
        anchor = f'<a id="{code.code}"></a>'  # what the HTML report links to
        out.append(f"| {anchor}`{code.code}` | {code.severity.value} | {_cell(code.title)} | {_cell(code.template)} | "
                   f"{_cell(desc)} |")  # fmt: skip
    return "\n".join(out) + "\n"


def profile_markdown(profile: Profile) -> str:
    """The field table of one profile, one section per group (sub-profile)."""
    out = [f"# Profile `{profile.id}`", "", profile.title, "", profile.description, "",
           "Generated from the profile file; do not edit by hand.", "", "## Assays", "",
           "| Modality | Technology type | Measurement type | Protocol |", "|---|---|---|---|"]  # fmt: skip
    for a in profile.assays.values():
        out.append(f"| {a.key} | {a.technology.label} ({a.technology.accession or '—'}) | "
                   f"{a.measurement.label} ({a.measurement.accession or '—'}) | {a.protocol} |")  # fmt: skip
    for group in profile.groups:
        head = "| Field | Level | Type | Unit | Entity | ISA | Allowed values | Harvested from |"
        out += ["", f"## {group}", "", head,
                "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for f in (f for f in profile.fields if f.group == group):
            unit = f"{f.unit.label} ({f.unit.accession or f.unit.symbol})" if f.unit else ""
            terms = "; ".join(f"{t.label}" + (f" ({t.accession})" if t.accession else "") for t in f.terms)
            if f.open and terms:
                terms += "; other values allowed"
            harvest = ", ".join(f"{k}:{v}" for k, v in f.harvest)
            out.append(f"| **{_cell(f.label)}** `{f.key}`<br>{_cell(f.description)} | {f.level} | {f.type} | {unit} | "
                       f"{f.entity} | `{_cell(f.header)}` | {_cell(terms)} | {harvest} |")  # fmt: skip
    return "\n".join(out) + "\n"


def pages() -> dict[str, str]:
    """Relative path under docs/ → page text."""
    out = {"reference/codes.md": codes_markdown()}
    for name, version in list_profiles():
        out[f"profiles/{name}-{version}.md"] = profile_markdown(load_profile(f"{name}@{version}"))
    return out


def main(argv: list[str]) -> int:
    docs = Path(argv[0] if argv else "docs")
    for rel, text in pages().items():
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
