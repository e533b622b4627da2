"""Render a :class:`Report` as text, JSON, JUnit XML, SARIF, GitHub annotations or HTML.

All formats show the same findings. JSON, JUnit and SARIF list every finding; text and GitHub
annotations group findings that share a code and a cause (the message with its location parts set
aside) so that 27 identical notes read as one line with a count and a few examples.

Locations: a finding's ``file`` is relative to the dataset (or ISA-Tab folder) that was checked.
SARIF and GitHub annotations need paths relative to the repository, so they take ``source`` (the
checked path) and re-base each file on the root of the git work tree that holds it (else the
current directory); SARIF names that root ``%SRCROOT%`` in ``originalUriBaseIds``.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from isaprofile._json import pretty_json
from isaprofile.findings.codes import lookup
from isaprofile.findings.issues import Issue, Report, Severity

FORMATS = ("text", "json", "junit", "sarif", "github", "html")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
# The catalogue's reference page; the HTML report links each code to its row there.
CODES_PAGE = "docs/reference/codes.md"
GROUP_AT = 4  # text output folds a group of this many findings or more into one line
EXAMPLES = 3  # ... showing this many of them
# GitHub shows at most 10 error, 10 warning and 10 notice annotations per step, 50 per job
# (actions/toolkit, docs/problem-matchers.md, "Limitations").
ANNOTATIONS_PER_LEVEL = 10
_ONE_PER_LINE = frozenset({"issues"})  # a JSON report's findings, one per line (a deposit may have 50,000)
_LOCATION_FIELDS = frozenset({"file", "line", "column", "path", "value"})


def render(
    report: Report,
    fmt: str = "text",
    strict: bool = False,
    *,
    source: str | Path | None = None,
    failure: str | None = None,
) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`), ending with a newline.

    ``source`` is the dataset or ISA-Tab path the findings' files are relative to (used by SARIF,
    GitHub annotations and HTML to name files relative to the repository). ``failure`` is the
    message of a run that could not check its input at all (exit 2); SARIF then carries it as a
    tool execution notification, the other formats as a line of their own.
    """
    if fmt == "json":
        doc = report.to_dict(strict)
        if failure is not None:
            doc = {**doc, "valid": False, "error": failure}
        return pretty_json(doc, sort_keys=False, flat=_ONE_PER_LINE) + "\n"
    if fmt == "junit":
        return _junit(report, strict, failure)
    if fmt == "sarif":
        return json.dumps(sarif(report, source=source, failure=failure), indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return "".join(line + "\n" for line in github_annotations(report, source=source, failure=failure))
    if fmt == "html":
        return html_report(report, strict, source=source, failure=failure)
    if fmt == "text":
        return _text(report, strict, failure)
    raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")


# --- grouping -------------------------------------------------------------------------------------


@dataclass
class Group:
    """Findings with the same severity, code and cause, in report order."""

    code: str
    severity: Severity
    cause: tuple[str, ...]
    issues: list[Issue] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.issues)


@functools.cache  # one per message template: a report may hold tens of thousands of findings of one code
def _template_regex(template: str) -> tuple[re.Pattern[str], list[str]] | None:
    parts: list[str] = []
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for literal, name, _spec, _conv in parsed:
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<g{len(names)}>.*?)")
            names.append(name)
    return re.compile("".join(parts) + r"\Z", re.DOTALL), names


def cause(i: Issue) -> tuple[str, ...]:
    """What a finding says apart from where it is: its message template's non-location fields.

    Two findings of one code with the same cause differ only in file, line, column, path or value.
    A message that does not match its template (a finding made by hand) is its own cause.
    """
    try:
        compiled = _template_regex(lookup(i.code).template)
    except KeyError:
        compiled = None
    if compiled is not None:
        rx, names = compiled
        m = rx.match(i.message)
        if m:
            return tuple(m.group(f"g{n}") for n, name in enumerate(names) if name not in _LOCATION_FIELDS)
    return (i.message,)


def group(issues: Iterable[Issue]) -> list[Group]:
    """Findings grouped by severity, code and :func:`cause`; groups in order of first appearance."""
    groups: dict[tuple, Group] = {}
    for i in issues:
        key = (i.severity, i.code, cause(i))
        if key not in groups:
            groups[key] = Group(i.code, i.severity, key[2])
        groups[key].issues.append(i)
    return list(groups.values())


def _line(i: Issue) -> str:
    where = i.where()
    return (
        f"{where}: {i.severity.value}: {i.message} [{i.code}]"
        if where
        else f"{i.severity.value}: {i.message} [{i.code}]"
    )


def _text(report: Report, strict: bool, failure: str | None = None) -> str:
    lines = []
    if failure is not None:
        lines.append(f"error: {failure}")
    for g in group(report.issues):
        first = g.issues[0]
        if len(g) < GROUP_AT:
            for i in g.issues:
                lines.append(_line(i))
                if i.hint:
                    lines.append(f"    hint: {i.hint}")
            continue
        lines.append(f"{g.severity.value}: {len(g)} × {lookup(g.code).title} [{g.code}], for example:")
        lines += [f"    {_line(i)}" for i in g.issues[:EXAMPLES]]
        lines.append(f"    … and {len(g) - EXAMPLES} more like these (every one is in --format json or sarif)")
        if first.hint:
            lines.append(f"    hint: {first.hint}")
    c = report.counts()
    verdict = "valid" if report.is_valid(strict) and failure is None else "INVALID"
    lines.append(f"{verdict}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s)")
    return "\n".join(lines) + "\n"


# --- JUnit ----------------------------------------------------------------------------------------


def _junit(report: Report, strict: bool, failure: str | None = None) -> str:
    from xml.sax.saxutils import escape, quoteattr  # here: it imports urllib.request, 12 ms at every start

    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    cases = []
    if failure is not None:
        cases.append(f'  <testcase classname="isaprofile" name="input"><error type="unreadable" '
                     f"message={quoteattr(failure)}>{escape(failure)}</error></testcase>")  # fmt: skip
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
    total = max(len(report.issues) + (failure is not None), 1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="isaprofile" tests="{total}" failures="{fails}" errors="{int(failure is not None)}">\n'
            + "\n".join(cases) + "\n</testsuite>\n")  # fmt: skip


# --- locations relative to the repository ---------------------------------------------------------


def repository_root(start: str | Path | None = None) -> Path:
    """The root of the git work tree holding ``start`` (a ``.git`` folder or file), else the current folder."""
    here = Path(start if start is not None else ".").absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return Path.cwd()


@dataclass(frozen=True)
class Locator:
    """Turns a finding's file (relative to the checked dataset) into a path relative to the repository root."""

    root: Path
    base: Path  # the folder the findings' files are relative to

    @classmethod
    def for_source(cls, source: str | Path | None) -> Locator:
        src = Path(source if source is not None else ".").absolute()
        base = src.parent if src.is_file() else src
        return cls(repository_root(base), base)

    def relative(self, file: str) -> str | None:
        """``file`` as a POSIX path relative to the repository root; None when it lies outside it."""
        path = Path(file)
        full = path if path.is_absolute() else self.base / path
        rel = os.path.relpath(os.path.normpath(full), self.root)
        if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
            return None
        return Path(rel).as_posix()

    def artifact(self, file: str) -> dict:
        rel = self.relative(file)
        if rel is not None:
            return {"uri": quote(rel), "uriBaseId": SRCROOT}
        full = Path(file) if Path(file).is_absolute() else self.base / file
        return {"uri": Path(os.path.normpath(full)).as_uri()}


# --- SARIF ----------------------------------------------------------------------------------------


def _tool_metadata() -> tuple[str | None, str | None]:
    """isaprofile's version and home page from its installed metadata (no URL is made up)."""
    from importlib import metadata

    try:
        meta = metadata.metadata("isaprofile")
    except metadata.PackageNotFoundError:
        from isaprofile import __version__

        return __version__, None
    url = meta["Home-page"] if "Home-page" in meta else None
    for entry in meta.get_all("Project-URL") or []:
        label, _, link = entry.partition(",")
        if label.strip().lower() in {"homepage", "home", "documentation", "source", "repository"} and not url:
            url = link.strip()
    return meta["Version"], (url or None)


_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def sarif(report: Report, *, source: str | Path | None = None, failure: str | None = None) -> dict:
    """A SARIF 2.1.0 log of ``report``: one run, URIs relative to ``%SRCROOT%`` (the repository root).

    ``failure`` (the input could not be read) becomes an error notification of an unsuccessful invocation,
    with no results, so an upload step still gets a valid file.
    """
    loc = Locator.for_source(source)
    rules: dict[str, dict] = {}
    results = []
    for i in report.issues:
        entry = lookup(i.code)
        rule = {"id": i.code, "name": _rule_name(i.code), "shortDescription": {"text": entry.title},
                "fullDescription": {"text": entry.description or entry.title},
                "defaultConfiguration": {"level": _LEVEL[Severity(entry.severity)]}}  # fmt: skip
        if entry.hint:
            rule["help"] = {"text": entry.hint}
        rules[i.code] = rule
        result: dict = {"ruleId": i.code, "level": _LEVEL[i.severity], "message": {"text": i.message}}
        if i.file:
            physical: dict = {"artifactLocation": loc.artifact(i.file)}
            region = {}
            if i.line:
                region["startLine"] = i.line
            if i.column:
                region["startColumn"] = i.column
            if region:
                physical["region"] = region
            location: dict = {"physicalLocation": physical}
            if i.path:
                location["logicalLocations"] = [{"fullyQualifiedName": i.path}]
            result["locations"] = [location]
        elif i.path:
            result["locations"] = [{"logicalLocations": [{"fullyQualifiedName": i.path}]}]
        results.append(result)
    order = sorted(rules)
    index = {code: n for n, code in enumerate(order)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    version, url = _tool_metadata()
    driver: dict = {"name": "isaprofile", "rules": [rules[k] for k in order]}
    if version:
        driver["version"] = version
    if url:
        driver["informationUri"] = url
    invocation: dict = {"executionSuccessful": failure is None}
    if failure is not None:
        invocation["exitCode"] = 2
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": failure}, "descriptor": {"id": "input-unreadable"}}
        ]
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": loc.root.as_uri() + "/",
                                         "description": {"text": "The root of the repository (git work tree) "
                                                                 "holding the checked dataset."}}},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }  # fmt: skip
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule_name(code: str) -> str:
    """A SARIF rule name is an identifier-like word: ``value-not-allowed`` → ``ValueNotAllowed``."""
    return "".join(part.capitalize() for part in code.split("-"))


# --- GitHub workflow commands ---------------------------------------------------------------------

_GH_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(
    report: Report, *, source: str | Path | None = None, failure: str | None = None
) -> Iterator[str]:
    """GitHub Actions workflow commands (``::error file=…,line=…::message``), one per finding.

    GitHub shows only the first few annotations of each level, so beyond :data:`ANNOTATIONS_PER_LEVEL`
    findings of a level one annotation per code says how many more there are.
    """
    loc = Locator.for_source(source)
    if failure is not None:
        yield f"::error title=isaprofile::{_gh_data(failure)}"
    shown: dict[Severity, int] = {s: 0 for s in Severity}
    rest: dict[tuple[Severity, str], int] = {}
    for g in group(report.issues):
        for i in g.issues:
            if shown[i.severity] >= ANNOTATIONS_PER_LEVEL:
                rest[(i.severity, i.code)] = rest.get((i.severity, i.code), 0) + 1
                continue
            shown[i.severity] += 1
            props = [f"title={_gh_prop(i.code)}"]
            rel = loc.relative(i.file) if i.file else None
            if rel is not None:
                props.insert(0, f"file={_gh_prop(rel)}")
                if i.line:
                    props.insert(1, f"line={i.line}")
                    if i.column:
                        props.insert(2, f"col={i.column}")
            text = f"{i.message} ({i.path})" if i.path else i.message
            yield f"::{_GH_LEVEL[i.severity]} {','.join(props)}::{_gh_data(text)}"
    for (sev, code), n in rest.items():
        yield (f"::{_GH_LEVEL[sev]} title={_gh_prop(code)}::{n} more {code} finding(s) not annotated "
               "(the SARIF or JSON report lists all)")  # fmt: skip


def in_github_actions() -> bool:
    """True inside a GitHub Actions job (``GITHUB_ACTIONS=true``)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


# --- HTML -----------------------------------------------------------------------------------------

_HTML_STYLE = """
body{font-family:system-ui,sans-serif;max-width:72em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f4f4f4}.error{color:#b00020}.warning{color:#8a5a00}.info{color:#245}
.verdict{font-size:1.3em;font-weight:bold}.ok{color:#0a6b2f}.bad{color:#b00020}code{font-size:.95em}
details{margin:.4em 0}summary{cursor:pointer}.banner{border:2px solid #b00020;padding:.5em 1em;background:#fff0f0}
@media print{details{display:block}summary{list-style:none}}
"""


def html_report(
    report: Report,
    strict: bool = False,
    *,
    source: str | Path | None = None,
    failure: str | None = None,
    codes_page: str = CODES_PAGE,
) -> str:
    """A self-contained HTML page: the verdict and counts, then the findings grouped by code.

    Each code links to its entry in the finding-code reference (``codes_page#code``); every location is
    relative to the repository root when ``source`` lies in one. All text is escaped.
    """
    e = html.escape
    loc = Locator.for_source(source)
    c = report.counts()
    valid = report.is_valid(strict) and failure is None
    by_code: dict[str, list[Issue]] = {}
    for i in report.issues:
        by_code.setdefault(i.code, []).append(i)
    order = sorted(by_code, key=lambda k: (_RANK[by_code[k][0].severity], k))
    title = "isaprofile validation report"
    where = loc.relative(str(loc.base)) if source is not None else None
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(title)}</title><style>{_HTML_STYLE}</style></head><body>", f"<h1>{e(title)}</h1>"]  # fmt: skip
    if where is not None:
        out.append(f"<p>Checked: <code>{e(where or '.')}</code></p>")
    if failure is not None:
        out.append(f'<p class="banner" role="alert"><b>The input could not be checked:</b> {e(failure)}</p>')
    verdict = "valid" if valid else "INVALID"
    out.append(f'<p class="verdict {"ok" if valid else "bad"}" id="verdict">{verdict}'
               f"{' (strict: warnings count)' if strict else ''}</p>")  # fmt: skip
    out.append('<table id="summary"><tr><th>Errors</th><th>Warnings</th><th>Notes</th><th>Codes</th></tr>'
               f"<tr><td>{c['error']}</td><td>{c['warning']}</td><td>{c['info']}</td><td>{len(by_code)}</td></tr>"
               "</table>")  # fmt: skip
    stats = {k: v for k, v in report.stats.items() if isinstance(v, int | float) and k not in c}
    if stats:
        out.append("<p>" + ", ".join(f"{e(str(k))}: {e(str(v))}" for k, v in stats.items()) + "</p>")
    if by_code:
        out.append('<h2>Findings by code</h2><table id="codes"><tr><th>Severity</th><th>Code</th><th>Title</th>'
                   "<th>Count</th></tr>")  # fmt: skip
        for code in order:
            sev = by_code[code][0].severity.value
            out.append(f'<tr><td class="{sev}">{sev}</td><td><a href="#{e(code)}"><code>{e(code)}</code></a></td>'
                       f"<td>{e(lookup(code).title)}</td><td>{len(by_code[code])}</td></tr>")  # fmt: skip
        out.append("</table>")
    for code in order:
        entry, items = lookup(code), by_code[code]
        out.append(f'<section id="{e(code)}" class="code"><h3><code>{e(code)}</code> — {e(entry.title)} '
                   f"({len(items)})</h3>")  # fmt: skip
        if entry.description:
            out.append(f"<p>{e(entry.description)}</p>")
        if entry.hint:
            out.append(f"<p><i>Hint:</i> {e(entry.hint)}</p>")
        out.append(f'<p><a class="docs" href="{e(codes_page)}#{e(code)}">Documentation of {e(code)}</a></p>')
        out.append(f"<details{' open' if len(items) <= 20 else ''}><summary>{len(items)} finding(s)</summary>"
                   "<table><tr><th>Severity</th><th>Location</th><th>Message</th></tr>")  # fmt: skip
        for i in items:
            place = _html_place(i, loc)
            out.append(f'<tr><td class="{i.severity.value}">{i.severity.value}</td><td>{e(place)}</td>'
                       f"<td>{e(i.message)}</td></tr>")  # fmt: skip
        out.append("</table></details></section>")
    if not by_code and failure is None:
        out.append("<p>No findings.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _html_place(i: Issue, loc: Locator) -> str:
    file = (loc.relative(i.file) or i.file) if i.file else ""
    parts = [file] + [str(n) for n in (i.line, i.column) if n is not None and file]
    place = ":".join(p for p in parts if p)
    if i.path:
        place = f"{place} ({i.path})" if place else i.path
    return place
