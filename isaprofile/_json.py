"""The library's one writer of JSON text in its canonical layout (two-space indent, UTF-8; the items of
long record lists one per line)."""

from __future__ import annotations

import itertools
import json
import math
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any

import orjson

from isaprofile._shared import ByIdentity


def pretty_json(obj: Any, level: int = 0, *, sort_keys: bool = True, flat: frozenset[str] = frozenset()) -> str:
    """``json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False)`` (the same text), nested ``level``
    indents deep, about 2.5x faster: the standard encoder has no C path with an indent and spends its time in
    a generator per token. Anything but plain JSON values (finite floats, string keys) goes to ``json.dumps``.

    The items of a list that is the value of a key in ``flat`` are each written on one line
    (:func:`flat_item`): a crate's ``@graph`` of 200,000 entities stays one entity per line to read, grep and
    diff, is a third of the bytes, and is written by orjson's encoder."""
    parts: list[str] = []
    _pretty(obj, level, parts.append, sort_keys, flat)
    return "".join(parts)


_ORJSON = {True: orjson.OPT_SORT_KEYS, False: 0}
_INT64 = range(-(2**63), 2**64)  # the ints orjson writes


def flat_item(obj: Any, *, sort_keys: bool = True) -> str:
    """An item of a ``flat`` list on one line, compact (no space after ``,`` and ``:``), by orjson: 0.8 s of
    the 2.3 s ENHANCE's crate took with the standard library's C encoder, and as much of its ISA-JSON. A float
    that is not finite is written ``null`` (JSON has no NaN).

    What orjson refuses (a key that is not text, an int beyond 64 bits) is made plain first and still written
    by orjson, so a float is spelt one way in every item, whatever else the item holds: :class:`FlatWriter`
    writes a shared list apart from its record and relies on that."""
    option = _ORJSON[sort_keys]
    try:
        return orjson.dumps(obj, option=option).decode()
    except orjson.JSONEncodeError:
        pass  # the refusal is handled below; a value orjson cannot write at all raises from there
    while True:
        token = "\x00" + secrets.token_hex(8) + "-"
        big: list[int] = []
        text = orjson.dumps(_plain(obj, token, big), option=option).decode()
        for n, value in enumerate(big):
            mark = encode_basestring(f"{token}{n}")
            if text.count(mark) != 1:  # a string of the item holds that very text: again with a new token
                break
            text = text.replace(mark, str(value))
        else:
            return text


def _plain(obj: Any, token: str, big: list[int]) -> Any:
    """``obj`` with each key as the standard encoder spells it (``1``, ``true``, ``null``, a float's repr) and
    each int beyond 64 bits as a marked string whose digits :func:`flat_item` puts back."""
    if isinstance(obj, dict):
        return {_key(k): _plain(v, token, big) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, token, big) for v in obj]
    if type(obj) is int and obj not in _INT64:
        big.append(obj)
        return f"{token}{len(big) - 1}"
    return obj


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (int, float)):  # bool is an int
        return json.dumps(key)
    raise TypeError(f"a JSON key must be text, a number, a boolean or None, not {type(key).__name__}")


class Encoded:
    """A value already written as JSON text, for :class:`FlatWriter` to put in its record as it is, piece by
    piece (:meth:`pieces`): ENHANCE's assay refers to its 207,610 segmentation processes, which as dicts were
    50 MiB and as one text 14 MB; as runs made when written (:meth:`items`) they cost nothing until then."""

    __slots__ = ("_whole", "_runs")

    def __init__(self, text: str) -> None:
        self._whole: str | None = text
        self._runs: list[str | Iterable[str]] = []

    @classmethod
    def items(cls, runs: Iterable[str | Iterable[str]]) -> Encoded:
        """A JSON list from runs of its items' text (each ``a,b``, without brackets); a run may be an iterable
        of such texts, read each time the value is written (a scan's references, made from its count)."""
        out = cls.__new__(cls)
        out._whole, out._runs = None, list(runs)
        return out

    def pieces(self) -> Iterator[str]:
        """The text, in pieces."""
        if self._whole is not None:
            yield self._whole
            return
        yield "["
        first = True
        for run in self._runs:
            for text in (run,) if isinstance(run, str) else run:
                if text:
                    if not first:
                        yield ","
                    yield text
                    first = False
        yield "]"

    @property
    def text(self) -> str:
        return "".join(self.pieces())


class FlatWriter:
    """:func:`flat_item` for the records of one document, where the value of a ``shared`` key that is the very
    list object of an earlier record is written from the text made for it then (the same text), and an
    :class:`Encoded` value of an ``encoded`` key is written as its text.

    ENHANCE's ISA-JSON has 207,610 segmentation processes whose parameter values are a few hundred shared
    lists, 60 % of the processes' 247 MB: each is encoded once. The record is encoded with a placeholder
    in its place, a string with a NUL and a random nonce; should a value of the record hold that very text,
    it is encoded again with a new nonce.
    """

    def __init__(self, shared: Collection[str], limit: int = 4096, encoded: Collection[str] = ()) -> None:
        self.shared = tuple(shared)
        self.encoded = tuple(encoded)
        self._texts: ByIdentity[str] = ByIdentity(limit)
        self._token = "\x00" + secrets.token_hex(8) + "-"

    def __call__(self, item: Any) -> str:
        return "".join(self.pieces(item))

    def pieces(self, item: Any) -> Iterable[str]:
        """The record's text in pieces that join to :meth:`__call__`'s: the shared and encoded texts are pieces
        of their own, not copied into one string (an assay's references would be, three times), and an encoded
        value's pieces are made as they are read."""
        if type(item) is not dict:
            return [flat_item(item)]
        texts: list[tuple[str, Iterable[str]]] = []
        for key in self.encoded:
            value = item.get(key)
            if type(value) is Encoded:
                texts.append((key, value.pieces()))  # read once, when the record's pieces are
        for key in self.shared:
            value = item.get(key)
            if type(value) is list and value:
                text = self._texts.get(value)
                if text is None:
                    text = self._texts.put(value, flat_item(value))
                texts.append((key, [text]))
        if not texts:
            return [flat_item(item)]
        while True:
            out = self._placed(item, texts)
            if out is not None:
                return out
            self._token = "\x00" + secrets.token_hex(8) + "-"

    def _placed(self, item: dict[str, Any], texts: list[tuple[str, Iterable[str]]]) -> Iterable[str] | None:
        """The record with each text in its key's place; None if a value of the record holds a placeholder."""
        marked = dict(item)
        for n, (key, _) in enumerate(texts):
            marked[key] = f"{self._token}{n}"
        out = flat_item(marked)
        places = []
        for n, (_, text) in enumerate(texts):
            mark = encode_basestring(f"{self._token}{n}")
            if out.count(mark) != 1:
                return None
            places.append((out.index(mark), len(mark), text))
        parts: list[Iterable[str]] = []
        at = 0
        for start, length, text in sorted(places, key=lambda p: p[0]):
            parts += [(out[at:start],), text]
            at = start + length
        parts.append((out[at:],))
        return itertools.chain.from_iterable(parts)


def utf8_chunks(pieces: Iterable[str], size: int) -> Iterator[bytes]:
    """``"".join(pieces).encode("utf-8")`` in chunks of about ``size`` bytes, a piece longer than ``size``
    sliced rather than copied whole (each code point is encoded alone, so the slices' bytes are the whole's)."""
    held: list[str] = []
    count = 0
    for piece in pieces:
        if len(piece) > size:
            if count:
                yield "".join(held).encode("utf-8")
                held, count = [], 0
            for i in range(0, len(piece), size):
                yield piece[i : i + size].encode("utf-8")
            continue
        held.append(piece)
        count += len(piece)
        if count >= size:
            yield "".join(held).encode("utf-8")
            held, count = [], 0
    if count:
        yield "".join(held).encode("utf-8")


def _pretty(o: Any, level: int, out: Callable[[str], Any], sort_keys: bool, flat: frozenset[str]) -> None:
    t = type(o)
    if t is str:
        out(encode_basestring(o))
    elif t is dict and all(type(k) is str for k in o):
        if not o:
            out("{}")
            return
        pad = "\n" + "  " * (level + 1)
        sep = "{"
        for key in sorted(o) if sort_keys else o:
            out(sep + pad + encode_basestring(key) + ": ")
            sep = ","
            v = o[key]
            if key in flat and type(v) is list and v:
                inner = "\n" + "  " * (level + 2)
                out("[" + inner + ("," + inner).join(flat_item(i, sort_keys=sort_keys) for i in v))
                out(pad + "]")
            else:
                _pretty(v, level + 1, out, sort_keys, flat)
        out("\n" + "  " * level + "}")
    elif t is list or t is tuple:
        if not o:
            out("[]")
            return
        pad = "\n" + "  " * (level + 1)
        sep = "["
        for item in o:
            out(sep + pad)
            sep = ","
            _pretty(item, level + 1, out, sort_keys, flat)
        out("\n" + "  " * level + "]")
    elif o is True:
        out("true")
    elif o is False:
        out("false")
    elif o is None:
        out("null")
    elif t is int:
        out(int.__repr__(o))
    elif t is float and math.isfinite(o):
        out(float.__repr__(o))
    else:  # NaN, subclasses, keys that are not text: as the standard encoder writes them (its text has no
        # raw line break inside a string, so indenting it is a plain replace)
        text = json.dumps(o, indent=2, sort_keys=sort_keys, ensure_ascii=False)
        out(text.replace("\n", "\n" + "  " * level))
