"""Offline JSON-LD: the shipped contexts, reading documents safely, and parsing them into rdflib.

Every ``@context`` isaprofile writes is shipped in ``isaprofile/linked/contexts/``. Before a
document reaches rdflib, each context reference is replaced by the shipped context it names
(:func:`inline_contexts`); a remote context that is not shipped is a finding and the document is
not parsed, so rdflib never has a URL to fetch. Reading a document never raises for bad input:
text that is not JSON, nesting beyond :data:`MAX_DEPTH` and remote contexts are findings.
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any

from isaprofile._json import FlatWriter, pretty_json, utf8_chunks
from isaprofile.findings.issues import Report, issue
from isaprofile.linked._common import jpath

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.2/context"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.2"
SCHEMA_ORG_CONTEXT = "https://schema.org/"
MAX_DEPTH = 64
MAX_VALUE = 256 << 20  # characters of one streamed value (an entity of a crate)
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


class GraphStream:
    """A JSON-LD document read from a binary file one ``@graph`` entity at a time, for crates too large to
    hold parsed (a million entities): ``head`` holds the top-level members before ``@graph``, iterating
    gives ``(index, entity)``, and ``tail`` the members after it once iteration is over.

    Only the layout of a top-level object whose ``@graph`` array is a member is streamed;
    :attr:`streamable` is False for any other document (then read it whole with :func:`read_document`).
    A fault while streaming (not JSON, not UTF-8, nesting deeper than :data:`MAX_DEPTH`) ends the
    iteration and is in :attr:`report` with the same codes :func:`read_document` uses.
    """

    def __init__(self, fh: IO[bytes], file: str | None = None, chunk: int = 1 << 20) -> None:
        self.fh, self.file, self.chunk = fh, file, chunk
        self.report = Report()
        self.head: dict[str, Any] = {}
        self.tail: dict[str, Any] = {}
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf, self._pos, self._eof = "", 0, False
        self._bytes_read = 0
        self._lines_dropped = 0  # line breaks in text already dropped from the buffer (for positions)
        self._column_base = 0  # the column the buffer starts at, on its first line
        self.has_context = False  # whether the value last read holds a "@context" member (or the text)
        self.streamable = self._open()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if not self.streamable:
            return
        index = 0
        if self._peek() == "]":
            self._pos += 1
        else:
            while True:
                ent = self._value(("@graph", index))
                if ent is _FAULT:
                    return
                yield index, ent
                index += 1
                sep = self._peek()
                if sep not in ("]", ","):
                    self._fault("Expecting ',' delimiter")
                    return
                self._pos += 1
                if sep == "]":
                    break
        self._members(self.tail, first=False)

    # --- reading ----------------------------------------------------------------------------------

    def _open(self) -> bool:
        if self._peek() != "{":
            return False
        self._pos += 1
        if not self._members(self.head, stop_at="@graph"):
            return False
        if self._peek() != "[":
            return False
        self._pos += 1
        return True

    def _members(self, into: dict[str, Any], stop_at: str | None = None, first: bool = True) -> bool:
        """Read ``"key": value`` members into ``into`` up to the object's end (False), or up to the
        value of ``stop_at`` (True); ``first``: no member has been read yet."""
        while True:
            c = self._peek()
            if c == "}":
                self._pos += 1
                return False
            if c == "":
                self._fault("Unexpected end of data")
                return False
            if not first:
                if c != ",":
                    self._fault("Expecting ',' delimiter")
                    return False
                self._pos += 1
                self._peek()
            key = self._value(("$",))
            if not isinstance(key, str) or self._peek() != ":":
                if key is not _FAULT:
                    self._fault("Expecting property name and ':'")
                return False
            self._pos += 1
            if key == stop_at:
                self._peek()
                return True
            value = self._value((key,))
            if value is _FAULT:
                return False
            into[key] = value
            first = False

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end), moving past the white space."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf) or not self._more():
                return self._buf[self._pos : self._pos + 1]

    def _more(self) -> bool:
        if self._eof:
            return False
        if self._pos > self.chunk:  # drop what was read: the buffer stays about one chunk long
            dropped = self._buf[: self._pos]
            breaks = dropped.count("\n")
            self._lines_dropped += breaks
            last = dropped.rfind("\n")
            self._column_base = len(dropped) - last - 1 if breaks else self._column_base + len(dropped)
            self._buf, self._pos = self._buf[self._pos :], 0
        data = self.fh.read(self.chunk)
        try:
            text = self._utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            self.report.add(issue("jsonld-not-json", file=self.file, path="$",
                                  reason=f"not UTF-8 at byte {self._bytes_read + exc.start}"))  # fmt: skip
            self._eof = True
            self._buf = self._buf[: self._pos]
            return False
        self._bytes_read += len(data)
        self._eof = not data
        self._buf += text
        return bool(text) or not self._eof

    def _value(self, where: tuple[str | int, ...]) -> Any:
        """The next JSON value, read whole (more of the file is read until it is complete)."""
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # the value may go on in the next chunk (a value is not taken to be longer than MAX_VALUE)
                if len(self._buf) - self._pos < MAX_VALUE and self._more():
                    continue
                self._fault(exc.msg, exc.pos)
                return _FAULT
            except RecursionError:
                self.report.add(issue("jsonld-too-deep", file=self.file, path=jpath(*where), limit=MAX_DEPTH))
                return _FAULT
            if end >= len(self._buf) and not self._eof and self._more():
                continue  # a number may go on in the next chunk
            # nesting deeper than MAX_DEPTH needs more brackets than that: only then is the value walked
            brackets = self._buf.count("{", self._pos, end) + self._buf.count("[", self._pos, end)
            self.has_context = self._buf.find('"@context"', self._pos, end) >= 0
            deep = _too_deep(value) if brackets > MAX_DEPTH else None
            if deep is not None:
                self.report.add(issue("jsonld-too-deep", file=self.file, path=jpath(*where) + deep[1:],
                                      limit=MAX_DEPTH))  # fmt: skip
                return _FAULT
            self._pos = end
            return value

    def _fault(self, msg: str, pos: int | None = None) -> None:
        self._eof = True
        if self.report.issues:  # the stream ends at its first fault (a bad byte also leaves the JSON cut)
            return
        at = self._pos if pos is None else pos
        line = self._lines_dropped + self._buf.count("\n", 0, at) + 1
        last = self._buf.rfind("\n", 0, at)
        column = at - last if last >= 0 else self._column_base + at + 1
        self.report.add(issue("jsonld-not-json", file=self.file, line=line, column=column, path="$", reason=msg))


_FAULT = object()  # what GraphStream._value gives for a value it could not read


def holds_context(node: Any) -> bool:
    """Whether a ``@context`` member is anywhere in ``node`` (an entity seldom has one)."""
    if isinstance(node, dict):
        return "@context" in node or any(holds_context(v) for v in node.values())
    if isinstance(node, list):
        return any(holds_context(v) for v in node)
    return False


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


def inline_contexts(
    doc: dict[str, Any], file: str | None = None, at: tuple[str | int, ...] = ()
) -> tuple[dict[str, Any] | None, Report]:
    """``doc`` with its context references replaced by the shipped contexts (``at``: where ``doc`` sits in
    a larger document, for the findings' paths, e.g. one entity of a streamed graph).

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

    out = walk(doc, at)
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


# The record lists of our documents (a crate's entities; ISA-JSON's materials, data files and processes):
# their items are written one per line, the rest of the document indented.
RECORD_LISTS = frozenset({"@graph", "sources", "samples", "otherMaterials", "dataFiles", "processSequence"})
# values that many records share as one list object (ISA-JSON: a process's parameter values and inputs; the
# crate's writer: a segmentation's references to its values)
SHARED_VALUES = ("parameterValues", "inputs", "parameterValue")


def dumps(doc: dict[str, Any]) -> bytes:
    """The canonical bytes of a JSON document: sorted keys, two-space indent but the items of
    :data:`RECORD_LISTS` one per line, UTF-8, final newline."""
    return (pretty_json(doc, flat=RECORD_LISTS) + "\n").encode("utf-8")


def dump_graph_chunks(context: Any, entities: Iterable[dict[str, Any]], size: int = 1 << 20) -> Iterator[bytes]:
    """:func:`dumps` of ``{"@context": context, "@graph": [*entities]}`` in pieces of about ``size`` bytes,
    taking the entities one at a time (the same bytes, without the graph in memory)."""
    entity = FlatWriter(SHARED_VALUES, encoded=("about",))  # an assay's references to its processes (jsonld)

    def pieces() -> Iterator[str]:
        yield from ('{\n  "@context": ', pretty_json(context, 1, flat=RECORD_LISTS), ',\n  "@graph": [')
        empty = True
        for ent in entities:
            yield "\n    " if empty else ",\n    "
            yield from entity.pieces(ent)
            empty = False
        yield "]\n}\n" if empty else "\n  ]\n}\n"

    return utf8_chunks(pieces(), size)


class Lazy:
    """A list of a document that is made when it is written (:func:`dump_lazy_chunks`) or resolved
    (:func:`resolve_lazy`): ``make()`` gives its items (plain JSON values, no Lazy in them), once. Lists
    are made in the order of the sorted keys that lead to them, so a list may rely on the side effects of
    one written before it."""

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
        return list(node.make())
    if isinstance(node, dict) and _holds_lazy(node):
        return {k: resolve_lazy(node[k]) for k in sorted(node)}
    if isinstance(node, list) and _holds_lazy(node):
        return [resolve_lazy(v) for v in node]
    return node


def dump_lazy_chunks(doc: dict[str, Any], size: int = 1 << 20) -> Iterator[bytes]:
    """:func:`dumps` of ``resolve_lazy(doc)`` in pieces of about ``size`` bytes, each :class:`Lazy` list made
    item by item as it is written: only the rest of the document is ever in memory."""

    record = FlatWriter(SHARED_VALUES)

    def emit(node: Any, level: int, flat: bool = False) -> Iterator[str]:
        pad, inner = "\n" + "  " * level, "\n" + "  " * (level + 1)
        if isinstance(node, Lazy) or (flat and isinstance(node, list) and not _holds_lazy(node)):
            first = True
            for item in node.make() if isinstance(node, Lazy) else node:  # plain JSON: encoded whole
                yield ("[" if first else ",") + inner
                yield from record.pieces(item) if flat else [pretty_json(item, level + 1, flat=RECORD_LISTS)]
                first = False
            yield "[]" if first else pad + "]"
        elif isinstance(node, list) and _holds_lazy(node):
            for i, item in enumerate(node):
                yield ("[" if i == 0 else ",") + inner
                yield from emit(item, level + 1)
            yield pad + "]"
        elif isinstance(node, dict) and _holds_lazy(node):
            for i, key in enumerate(sorted(node)):
                yield ("{" if i == 0 else ",") + inner + json.dumps(key, ensure_ascii=False) + ": "
                yield from emit(node[key], level + 1, key in RECORD_LISTS)
            yield pad + "}"
        else:
            yield pretty_json(node, level, flat=RECORD_LISTS)

    yield from utf8_chunks(itertools.chain(emit(doc, 0), ["\n"]), size)
