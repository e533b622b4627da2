"""Render a :class:`Report` as text, JSON, JUnit XML or SARIF. All formats show the same findings."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from isaprofile.findings.codes import lookup
from isaprofile.findings.issues import Report, Severity

FORMATS = ("text", "json", "junit", "sarif")


def render(report: Report, fmt: str = "text", strict: bool = False) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`), ending with a newline."""
    if fmt == "json":
        return json.dumps(report.to_dict(strict), indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        return _junit(report, strict)
    if fmt == "sarif":
        return json.dumps(_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "text":
        return _text(report, strict)
    raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")


def _text(report: Report, strict: bool) -> str:
    lines = []
    for i in report.issues:
        where = i.where()
        lines.append(f"{where}: {i.severity.value}: {i.message} [{i.code}]" if where else
                     f"{i.severity.value}: {i.message} [{i.code}]")  # fmt: skip
        if i.hint:
            lines.append(f"    hint: {i.hint}")
    c = report.counts()
    verdict = "valid" if report.is_valid(strict) else "INVALID"
    lines.append(f"{verdict}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s)")
    return "\n".join(lines) + "\n"


def _junit(report: Report, strict: bool) -> str:
    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    cases = []
    for n, i in enumerate(report.issues, 1):
        name = quoteattr(f"{n}: {i.code} {i.where()}")
        body = escape(i.message)
        if i.severity in failing:
            cases.append(f'  <testcase classname="isaprofile.{i.code}" name={name}>'
                         f'<failure type="{i.severity.value}" message={quoteattr(i.message)}>{body}</failure>'
                         "</testcase>")  # fmt: skip
        else:
            cases.append(f'  <testcase classname="isaprofile.{i.code}" name={name}>'
                         f"<system-out>{body}</system-out></testcase>")  # fmt: skip
    if not cases:
        cases.append('  <testcase classname="isaprofile" name="validation"/>')
    fails = sum(1 for i in report.issues if i.severity in failing)
    total = max(len(report.issues), 1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="isaprofile" tests="{total}" failures="{fails}" errors="0">\n'
            + "\n".join(cases) + "\n</testsuite>\n")  # fmt: skip


def _sarif(report: Report) -> dict:
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    rules, results = {}, []
    for i in report.issues:
        entry = lookup(i.code)
        rules[i.code] = {"id": i.code, "name": entry.title, "shortDescription": {"text": entry.title},
                         "fullDescription": {"text": entry.description or entry.title}}  # fmt: skip
        result: dict = {"ruleId": i.code, "level": level[i.severity], "message": {"text": i.message}}
        if i.file:
            region = {}
            if i.line:
                region["startLine"] = i.line
            if i.column:
                region["startColumn"] = i.column
            loc: dict = {"artifactLocation": {"uri": i.file}}
            if region:
                loc["region"] = region
            result["locations"] = [{"physicalLocation": loc}]
            if i.path:
                result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": i.path}]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "isaprofile", "informationUri": "https://pypi.org/project/isaprofile/",
                                      "rules": [rules[k] for k in sorted(rules)]}},
                  "results": results}],
    }  # fmt: skip
