"""The library's one writer of JSON text in its canonical layout (two-space indent, UTF-8; the items of
long record lists one per line)."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Collection
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


# the standard encoder for what orjson refuses (an int beyond 64 bits, a key that is not text); one per key
# order, made once (json.dumps makes one per call); the records written here are data the library built, never
# cyclic, so the encoder's per-call cycle bookkeeping is left out
_FLAT = {order: json.JSONEncoder(sort_keys=order, ensure_ascii=False, check_circular=False,
                                  separators=(",", ":")).encode for order in (True, False)}  # fmt: skip
_ORJSON = {True: orjson.OPT_SORT_KEYS, False: 0}


def flat_item(obj: Any, *, sort_keys: bool = True) -> str:
    """An item of a ``flat`` list on one line, compact (no space after ``,`` and ``:``), by orjson: 0.8 s of
    the 2.3 s ENHANCE's crate took with the standard library's C encoder, and as much of its ISA-JSON. A float
    that is not finite is written ``null`` (JSON has no NaN)."""
    try:
        return orjson.dumps(obj, option=_ORJSON[sort_keys]).decode()
    except orjson.JSONEncodeError:
        return _FLAT[sort_keys](_finite(obj))


def _finite(obj: Any) -> Any:
    """``obj`` with each float that is not finite as None, as orjson writes it (the standard encoder would
    write ``Infinity``, which is not JSON)."""
    t = type(obj)
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is dict:
        return {k: _finite(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [_finite(v) for v in obj]
    return obj


class Encoded:
    """A value already written as JSON text, for :class:`FlatWriter` to put in its record as it is: ENHANCE's
    assay refers to its 207,610 segmentation processes, 14 MB as one text instead of 50 MiB of dicts."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


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
        if type(item) is not dict:
            return flat_item(item)
        texts = []
        for key in self.encoded:
            value = item.get(key)
            if type(value) is Encoded:
                texts.append((key, value.text))
        for key in self.shared:
            value = item.get(key)
            if type(value) is list and value:
                text = self._texts.get(value)
                if text is None:
                    text = self._texts.put(value, flat_item(value))
                texts.append((key, text))
        if not texts:
            return flat_item(item)
        while True:
            out = self._placed(item, texts)
            if out is not None:
                return out
            self._token = "\x00" + secrets.token_hex(8) + "-"

    def _placed(self, item: dict[str, Any], texts: list[tuple[str, str]]) -> str | None:
        """The record with each text in its key's place; None if a value of the record holds a placeholder."""
        marked = dict(item)
        for n, (key, _) in enumerate(texts):
            marked[key] = f"{self._token}{n}"
        out = flat_item(marked)
        for n, (_, text) in enumerate(texts):
            mark = encode_basestring(f"{self._token}{n}")
            if out.count(mark) != 1:
                return None
            out = out.replace(mark, text)
        return out


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
