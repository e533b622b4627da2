"""Offline JSON-LD: the shipped contexts, reading documents safely, and parsing them into rdflib.

Every ``@context`` isaprofile writes is shipped in ``isaprofile/linked/contexts/``. Before a
document reaches rdflib, each context reference is replaced by the shipped context it names
(:func:`inline_contexts`); a remote context that is not shipped is a finding and the document is
not parsed, so rdflib never has a URL to fetch. Reading a document never raises for bad input:
text that is not JSON, nesting beyond :data:`MAX_DEPTH` and remote contexts are findings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from isaprofile.findings.issues import Report, issue
from isaprofile.linked._common import jpath

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.2/context"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.2"
SCHEMA_ORG_CONTEXT = "https://schema.org/"
MAX_DEPTH = 64
# each RO-Crate version is read with its own context: the versions map a few terms to different IRIs
# (ComputationalWorkflow, FormalParameter, input, output; cite-as and RepositoryObject in 1.1)
_FILES = {
    "https://w3id.org/ro/crate/1.1/context": "ro-crate-1.1.jsonld",
    "https://w3id.org/ro/crate/1.2/context": "ro-crate-1.2.jsonld",
    "https://w3id.org/ro/crate/1.3/context": "ro-crate.jsonld",
    "https://schema.org": "schema-org.jsonld",
    "https://schema.org/": "schema-org.jsonld",
    "http://schema.org": "schema-org.jsonld",
    "http://schema.org/": "schema-org.jsonld",
}
# Terms the ISA RO-Crate profile uses that the RO-Crate context does not define (Bioschemas).
ISA_TERMS: dict[str, str] = {
    "LabProcess": "https://bioschemas.org/LabProcess",
    "LabProtocol": "https://bioschemas.org/LabProtocol",
    "Sample": "https://bioschemas.org/Sample",
    "executesLabProtocol": "https://bioschemas.org/properties/executesLabProtocol",
    "parameterValue": "https://bioschemas.org/properties/parameterValue",
    "intendedUse": "https://bioschemas.org/properties/intendedUse",
    "additionalProperty": "https://bioschemas.org/properties/additionalProperty",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def shipped_contexts() -> list[str]:
    """The context URLs resolved locally, sorted."""
    return sorted(_FILES)


@cache
def _load(name: str) -> str:
    return (resources.files("isaprofile.linked") / "contexts" / name).read_text(encoding="utf-8")


def load_context(url: str) -> dict[str, Any] | None:
    """The ``@context`` object of a shipped context URL (a fresh copy), or None when not shipped."""
    name = _FILES.get(url.strip())
    if name is None:
        return None
    return json.loads(_load(name))["@context"]


def read_document(source: str | Path | bytes | dict[str, Any], file: str | None = None) -> tuple[
    dict[str, Any] | None, Report
]:  # fmt: skip
    """Read a JSON-LD document from a path, bytes or an already decoded dict.

    Returns the document (None when it cannot be used) and the findings: ``jsonld-unreadable``,
    ``jsonld-not-json``, ``jsonld-not-object``, ``jsonld-too-deep``.
    """
    report = Report()
    if isinstance(source, dict):
        doc: Any = source
    else:
        if isinstance(source, bytes):
            raw = source
        else:
            file = file or str(source)
            try:
                raw = Path(source).read_bytes()
            except OSError as exc:
                report.add(issue("jsonld-unreadable", file=file, reason=exc.strerror or type(exc).__name__))
                return None, report
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            report.add(issue("jsonld-not-json", file=file, path="$", reason=f"not UTF-8 at byte {exc.start}"))
            return None, report
        except json.JSONDecodeError as exc:
            report.add(issue("jsonld-not-json", file=file, line=exc.lineno, column=exc.colno, path="$",
                             reason=exc.msg))  # fmt: skip
            return None, report
        except RecursionError:
            report.add(issue("jsonld-too-deep", file=file, path="$", limit=MAX_DEPTH))
            return None, report
    deep = _too_deep(doc)
    if deep is not None:
        report.add(issue("jsonld-too-deep", file=file, path=deep, limit=MAX_DEPTH))
        return None, report
    if not isinstance(doc, dict):
        report.add(issue("jsonld-not-object", file=file, path="$"))
        return None, report
    return doc, report


def _too_deep(doc: Any) -> str | None:
    """The JSON path of the first place nested deeper than :data:`MAX_DEPTH`, or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        node, where = stack.pop()
        if len(where) > MAX_DEPTH:
            return jpath(*where)
        if isinstance(node, dict):
            stack.extend((v, (*where, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))
    return None


def inline_contexts(doc: dict[str, Any], file: str | None = None) -> tuple[dict[str, Any] | None, Report]:
    """``doc`` with its context references replaced by the shipped contexts.

    Any ``@context`` (top level, nested, or ``@import``) naming a URL that is not shipped gives a
    ``jsonld-context-remote`` finding at its JSON path, and no document is returned. Only the objects on
    the way to a ``@context`` are new; the rest is shared with ``doc`` (a crate of a million entities is not
    copied), so treat both as read-only.
    """
    report = Report()

    def resolve(ctx: Any, where: tuple[str | int, ...]) -> Any:
        if isinstance(ctx, str):
            local = load_context(ctx)
            if local is None:
                report.add(issue("jsonld-context-remote", file=file, path=jpath(*where), url=ctx))
            return local
        if isinstance(ctx, list):
            return [resolve(c, (*where, i)) for i, c in enumerate(ctx)]
        if isinstance(ctx, dict) and isinstance(ctx.get("@import"), str):
            imported = resolve(ctx["@import"], (*where, "@import"))
            rest = {k: v for k, v in ctx.items() if k != "@import"}
            return {**(imported or {}), **rest}
        return ctx

    def walk(node: Any, where: tuple[str | int, ...]) -> Any:
        """``node`` with its contexts resolved: the same object when it holds none."""
        if isinstance(node, dict):
            new = {k: resolve(v, (*where, k)) if k == "@context" else walk(v, (*where, k)) for k, v in node.items()}
            return new if any(new[k] is not v for k, v in node.items()) else node
        if isinstance(node, list):
            items = [walk(v, (*where, i)) for i, v in enumerate(node)]
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        return node

    out = walk(doc, ())
    return (None if report.issues else out), report


def to_graph(doc: dict[str, Any], file: str | None = None) -> tuple[Any, Report]:
    """Parse a JSON-LD document into an ``rdflib.Graph`` with only shipped contexts (no network).

    Returns (graph or None, findings). A document rdflib cannot interpret gives ``jsonld-invalid``.
    """
    from rdflib import Graph

    local, report = inline_contexts(doc, file)
    if local is None:
        return None, report
    graph = Graph()
    try:
        graph.parse(data=json.dumps(local), format="json-ld")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        report.add(issue("jsonld-invalid", file=file, path="$", reason=str(exc)[:200]))
        return None, report
    return graph, report


def dumps(doc: dict[str, Any]) -> bytes:
    """The canonical bytes of a JSON document: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def dump_graph_chunks(context: Any, entities: Iterable[dict[str, Any]], size: int = 1 << 20) -> Iterator[bytes]:
    """:func:`dumps` of ``{"@context": context, "@graph": [*entities]}`` in pieces of about ``size`` bytes,
    taking the entities one at a time (the same bytes, without the graph in memory)."""
    encoder = json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)
    parts = ['{\n  "@context": ', encoder.encode(context).replace("\n", "\n  "), ',\n  "@graph": [']
    held, empty = 0, True
    for ent in entities:
        # JSON text has no raw line breaks inside strings, so re-indenting is a plain replace
        piece = ("\n    " if empty else ",\n    ") + encoder.encode(ent).replace("\n", "\n    ")
        parts.append(piece)
        held += len(piece)
        empty = False
        if held >= size:
            yield "".join(parts).encode("utf-8")
            parts, held = [], 0
    parts.append("]\n}\n" if empty else "\n  ]\n}\n")
    yield "".join(parts).encode("utf-8")


class Lazy:
    """A list of a document that is made when it is written (:func:`dump_lazy_chunks`) or resolved
    (:func:`resolve_lazy`): ``make()`` gives its items, once. Lists are made in the order of the sorted keys
    that lead to them, so a list may rely on the side effects of one written before it."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Iterable[Any]]) -> None:
        self.make = make


def _holds_lazy(node: Any) -> bool:
    if isinstance(node, Lazy):
        return True
    if isinstance(node, dict):
        return any(_holds_lazy(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_lazy(v) for v in node)
    return False


def resolve_lazy(node: Any) -> Any:
    """``node`` with every :class:`Lazy` list made (in written order): a plain JSON document."""
    if isinstance(node, Lazy):
        return [resolve_lazy(v) for v in node.make()]
    if isinstance(node, dict) and _holds_lazy(node):
        return {k: resolve_lazy(node[k]) for k in sorted(node)}
    if isinstance(node, list) and _holds_lazy(node):
        return [resolve_lazy(v) for v in node]
    return node


def dump_lazy_chunks(doc: dict[str, Any], size: int = 1 << 20) -> Iterator[bytes]:
    """:func:`dumps` of ``resolve_lazy(doc)`` in pieces of about ``size`` bytes, each :class:`Lazy` list made
    item by item as it is written: only the rest of the document is ever in memory."""
    encoder = json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)

    def emit(node: Any, level: int) -> Iterator[str]:
        pad, inner = "\n" + "  " * level, "\n" + "  " * (level + 1)
        if isinstance(node, Lazy) or (isinstance(node, list) and _holds_lazy(node)):
            items = node.make() if isinstance(node, Lazy) else node
            first = True
            for item in items:
                yield "[" + inner if first else "," + inner
                yield from emit(item, level + 1)
                first = False
            yield "[]" if first else pad + "]"
        elif isinstance(node, dict) and _holds_lazy(node):
            for i, key in enumerate(sorted(node)):
                yield ("{" if i == 0 else ",") + inner + json.dumps(key, ensure_ascii=False) + ": "
                yield from emit(node[key], level + 1)
            yield pad + "}"
        else:  # JSON text has no raw line breaks inside strings, so re-indenting is a plain replace
            yield encoder.encode(node).replace("\n", pad)

    parts: list[str] = []
    held = 0
    for piece in emit(doc, 0):
        parts.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(parts).encode("utf-8")
            parts, held = [], 0
    parts.append("\n")
    yield "".join(parts).encode("utf-8")
