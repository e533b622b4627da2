"""The library's one writer of JSON text in its canonical layout (two-space indent, UTF-8)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any


def pretty_json(obj: Any, level: int = 0, *, sort_keys: bool = True) -> str:
    """``json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False)`` (the same text), nested ``level``
    indents deep, about 2.5x faster: the standard encoder has no C path with an indent and spends its time in
    a generator per token. Anything but plain JSON values (finite floats, string keys) goes to ``json.dumps``."""
    parts: list[str] = []
    _pretty(obj, level, parts.append, sort_keys)
    return "".join(parts)


def _pretty(o: Any, level: int, out: Callable[[str], Any], sort_keys: bool = True) -> None:
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
            _pretty(o[key], level + 1, out, sort_keys)
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
            _pretty(item, level + 1, out, sort_keys)
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
