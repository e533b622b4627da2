"""The catalogue of finding codes: one stable kebab-case code per kind of finding.

The catalogue is data: every ``catalogue/*.yaml`` file shipped with the package holds the codes
of one layer (ISA-Tab structure, profile rules, harvest, linked data, packaging). Each entry has a
title, a message template, a default severity, a description for the docs and an optional hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import yaml

_CODE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Severity(StrEnum):
    """How bad a finding is. Errors make a report invalid; warnings only under ``strict``.

    It lives beside the catalogue (which gives every code a default severity) so that
    :mod:`isaprofile.findings.issues` can import the catalogue without the catalogue importing it.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    title: str
    template: str
    severity: Severity  # the default; a validator may lower or raise it for one finding
    layer: str
    description: str = ""
    hint: str | None = None


# libyaml's safe loader when PyYAML has it (the same documents, about 6x faster: every command reads the catalogue
# and a profile at start-up), else PyYAML's own
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def catalogue() -> dict[str, Code]:
    """All codes, keyed by code, in layer then file order."""
    out: dict[str, Code] = {}
    folder = resources.files("isaprofile.findings") / "catalogue"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        layer = data["layer"]
        for code, spec in data["codes"].items():
            if not _CODE.match(code) or code in out:
                raise ValueError(f"catalogue {entry.name}: bad or duplicate code {code!r}")
            out[code] = Code(
                code=code,
                title=spec["title"],
                template=spec["message"],
                severity=Severity(spec.get("severity", "error")),
                layer=layer,
                description=spec.get("description", ""),
                hint=spec.get("hint"),
            )
    return out


def lookup(code: str) -> Code:
    """The catalogue entry for ``code``; ``KeyError`` for a code that does not exist."""
    try:
        return catalogue()[code]
    except KeyError:
        raise KeyError(f"unknown finding code {code!r}") from None
