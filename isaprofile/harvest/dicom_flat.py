"""A fast read of DICOM sequences: the items of a sequence whose bytes pydicom left unparsed, as light objects.

``pydicom.dcmread`` keeps a top-level sequence of defined length as raw bytes until it is first looked at; then
it builds a :class:`pydicom.dataset.Dataset` for every item at every depth, which is most of the cost of
reading an Enhanced multi-frame object or a SEG (a Dataset per frame of PerFrameFunctionalGroupsSequence and
per item of each nested macro). :func:`sequence` reads those bytes once per file with :mod:`struct` and gives
:class:`FlatItem` objects instead, which answer the part of the Dataset API the harvest and the PHI gate use
(``item.get(keyword)``, ``keyword in item``, ``item[keyword].value``, iteration in tag order), with values
decoded by pydicom's own converters, so every value is the one pydicom would give.

The read follows pydicom's reader (``pydicom.filereader.read_sequence`` / ``read_sequence_item`` /
``read_dataset`` / ``data_element_generator``, pydicom 3.0) on well-formed data: explicit and implicit VR,
little and big endian, defined and undefined lengths with item and sequence delimiters, nested sequences
(by explicit VR, by the dictionary when the VR is implicit or UN, by the private dictionary for private
elements), UN of undefined length read as a sequence, an item in implicit VR inside explicit-VR data
(pydicom's test on the first element's VR bytes), the Specific Character Set of an item for the text
below it. Anything else — a length past its sequence or item, an item tag where an element should be, a
missing delimiter, tags out of order or repeated, an unknown VR, an undefined-length value that is not a
sequence, nesting deeper than :data:`MAX_DEPTH`, non-default pydicom reading options — raises
:class:`FlatError` (every step advances and every length is checked against its bounds), and the caller
then reads the element with pydicom as before, so the result is pydicom's in every case.

Reads are kept until :func:`forget` (the end of one file's read): a top-level sequence by the identity of its
bytes, so the PHI gate and the harvest readers share one read per file, and a nested sequence by its bytes, so
the frames of a SEG that repeat one (a plane position per segment, the same codes in every frame) read it once.
Converted values are kept by their bytes (bounded), so a value repeated in every frame is converted once.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, MutableSequence
from functools import cache
from typing import Any, TypeAlias

from pydicom import config
from pydicom.charset import convert_encodings
from pydicom.datadict import (
    dictionary_has_tag,
    dictionary_keyword,
    dictionary_VR,
    private_dictionary_VR,
    tag_for_keyword,
)
from pydicom.dataelem import RawDataElement
from pydicom.errors import BytesLengthException
from pydicom.tag import BaseTag
from pydicom.uid import UID as _UID_CLASS
from pydicom.valuerep import AMBIGUOUS_VR

hooks: Any = None
_LONG_VRS: Any = ()
try:  # pydicom 3: the reader's rules below are pydicom 3's; with pydicom 2 every sequence is left to pydicom
    from pydicom import hooks
    from pydicom.datadict import _dictionary_vr_fast
    from pydicom.dataelem import convert_raw_data_element
    from pydicom.valuerep import EXPLICIT_VR_LENGTH_32 as _LONG_VRS
except ImportError:  # pragma: no cover - pydicom 2
    pass

__all__ = [
    "MAX_DEPTH", "FlatElement", "FlatError", "FlatItem", "absent_from", "decode", "forget", "keyword_of",
    "parse_sequence", "plain_value", "raw_value", "sequence", "sequence_value", "tag_key",
]  # fmt: skip

MAX_DEPTH = 80  # nesting read here; deeper raises FlatError (pydicom then reads it, the PHI gate stops at 64)
_ITEM, _SEQ_END = 0xFFFEE000, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_CHARSET = 0x00080005
_LONG = frozenset(str(vr) for vr in _LONG_VRS)
_AMBIGUOUS = frozenset(str(vr) for vr in AMBIGUOUS_VR)
_HEAD = {True: struct.Struct("<HHL").unpack_from, False: struct.Struct(">HHL").unpack_from}
_EXPLICIT = {True: struct.Struct("<HH2sH").unpack_from, False: struct.Struct(">HH2sH").unpack_from}
_LENGTH = {True: struct.Struct("<L").unpack_from, False: struct.Struct(">L").unpack_from}
_TAG = {True: struct.Struct("<HH").unpack_from, False: struct.Struct(">HH").unpack_from}
_TAG_BYTES = {True: struct.Struct("<HH").pack, False: struct.Struct(">HH").pack}

# an element: (VR as pydicom gives it, value bytes or list of items for SQ, VR as in the file or None)
Element: TypeAlias = tuple[str, Any, str | None]


class FlatError(ValueError):
    """The bytes are not a sequence this reader takes as it is (malformed, or an encoding it leaves to
    pydicom); the caller reads the element with pydicom instead."""


def _known_vrs() -> dict[bytes, str]:
    """The VRs pydicom's reader knows (``pydicom.filereader.ENCODED_VR``): VR bytes -> str; any other VR
    bytes raise FlatError."""
    from pydicom.filereader import ENCODED_VR

    return {raw: raw.decode("ascii") for raw in ENCODED_VR if b" " not in raw}


_VRS = _known_vrs()


@cache
def _public_vr(tag: int) -> str | None:
    """``dictionary_VR(tag)``, or None when the tag is not in the dictionary."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


@cache
def _undefined_vr(tag: int) -> str | None:
    """pydicom's look-up for an undefined-length element of implicit VR (``_dictionary_vr_fast``)."""
    try:
        return str(_dictionary_vr_fast(tag))
    except KeyError:
        return None


@cache
def _private_vr(tag: int, creator: str) -> str:
    try:
        return str(private_dictionary_VR(tag, creator))
    except KeyError:
        return "UN"


@cache
def keyword_of(tag: int) -> str:
    """``DataElement.keyword``: the dictionary keyword, or "" for private and unknown tags."""
    return str(dictionary_keyword(tag)) if dictionary_has_tag(tag) else ""


@cache
def _tag(keyword: str) -> int | None:
    return tag_for_keyword(keyword)


def _reading_is_default() -> bool:
    """Whether pydicom reads with the options the rules here follow (its defaults)."""
    return bool(
        hooks is not None
        and getattr(config.settings, "infer_sq_for_un_vr", True)
        and config.replace_un_with_known_vr
        and config.assume_implicit_vr_switch
        and not config.data_element_callback
        and config.settings.reading_validation_mode != config.RAISE
        and hooks.raw_element_vr is _DEFAULT_VR_HOOK
    )


_DEFAULT_VR_HOOK = getattr(hooks, "raw_element_vr", None)


# converted values by (VR, bytes, little endian, character set for text VRs); cleared when full
_VALUES: dict[tuple[Any, ...], Any] = {}
_VALUES_MAX = 16384
_MISSING = object()
_TEXT_VRS = frozenset({"PN", "SH", "LO", "ST", "LT", "UC", "UT"})  # the VRs whose conversion takes the charset


def _encoding_key(encoding: Any) -> Any:
    if type(encoding) is str:
        return encoding  # the usual case, without the (slow) abstract-class check below
    return tuple(encoding) if isinstance(encoding, list | MutableSequence) else encoding


# A nested sequence of defined length is read when first looked at (as pydicom leaves such a sequence as bytes
# until it is converted); until then its element holds (buffer, start, stop, implicit, encoding, depth).
_Lazy: TypeAlias = tuple[bytes, int, int, bool, Any, int]


# nested sequences already read, by their bytes and everything else the read depends on: the frames of a SEG
# repeat many of them byte for byte (a plane position once per segment, the same derivation and purpose codes
# in every frame), and the items read are never changed, so one read serves them all; cleared by forget()
_NESTED: dict[tuple[Any, ...], list[FlatItem]] = {}
_NESTED_MAX = 65536


def _read_lazy(lazy: _Lazy, little: bool) -> list[FlatItem]:
    buf, start, stop, implicit, encoding, depth = lazy
    key = (buf[start:stop], implicit, little, _encoding_key(encoding), depth)
    hit = _NESTED.get(key)
    if hit is not None:
        return hit
    items, after = _items(buf, start, stop, False, implicit, little, encoding, depth)
    if after != stop:
        raise FlatError("sequence does not end at its length")
    if len(_NESTED) >= _NESTED_MAX:
        _NESTED.clear()
    _NESTED[key] = items
    return items


class FlatElement:
    """One element of a :class:`FlatItem` as ``DataElement``-like attributes (``tag``, ``VR``, ``value``,
    ``keyword``)."""

    __slots__ = ("tag", "VR", "value")

    def __init__(self, tag: int, vr: str, value: Any) -> None:
        self.tag = BaseTag(tag)
        self.VR = vr
        self.value = value

    @property
    def keyword(self) -> str:
        return keyword_of(int(self.tag))


class FlatItem:
    """One item of a sequence: its elements (tag -> element, in file order, which is tag order), the
    character set its text is decoded with, and its encoding."""

    __slots__ = ("elements", "encoding", "implicit", "little")

    def __init__(self, elements: dict[int, Element], encoding: Any, implicit: bool, little: bool) -> None:
        self.elements = elements
        self.encoding = encoding
        self.implicit = implicit
        self.little = little

    def value(self, tag: int) -> Any:
        """The element's value as pydicom converts it (a list of items for a sequence); ``KeyError`` when
        absent; :class:`FlatError` when the VR is ambiguous (pydicom settles it from the dataset).

        Values are converted once per distinct (VR, bytes, byte order, character set) and the result is
        shared: the frames of a SEG repeat most of their values (positions once per segment, codes in
        every frame), and nothing here changes a value it is given."""
        vr, value, raw_vr = self.elements[tag]
        if vr == "SQ":
            if type(value) is tuple:
                value = _read_lazy(value, self.little)
                self.elements[tag] = ("SQ", value, raw_vr)
            return value
        key = (vr, value, self.little, _encoding_key(self.encoding) if vr in _TEXT_VRS else None)
        hit = _VALUES.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        if vr in _AMBIGUOUS:
            raise FlatError(f"ambiguous VR {vr}")
        out = _uid(value) if vr == "UI" else None
        if out is None:
            out = decode(tag, vr, value, raw_vr, self.implicit, self.little, self.encoding)
        if len(_VALUES) >= _VALUES_MAX:
            _VALUES.clear()
        _VALUES[key] = out
        return out

    def get(self, keyword: str, default: Any = None) -> Any:
        """``Dataset.get(keyword)``: the value, or ``default`` when absent."""
        tag = _tag(keyword)
        element = self.elements.get(tag) if tag is not None else None
        if tag is None or element is None:
            return default
        if element[0] == "SQ" and type(element[1]) is list:
            return element[1]  # a sequence already read (the usual second look)
        return self.value(tag)

    def macro(self, sequence: str, keyword: str) -> Any:
        """The value of ``keyword`` in the first item of the sequence ``sequence`` (a functional group macro),
        or None."""
        tag = _tag(sequence)
        element = self.elements.get(tag) if tag is not None else None
        if tag is None or element is None or element[0] != "SQ":
            return None
        items = element[1] if type(element[1]) is list else self.value(tag)
        return items[0].get(keyword) if items else None

    def __contains__(self, keyword: object) -> bool:
        tag = _tag(keyword) if isinstance(keyword, str) else keyword
        return tag in self.elements

    def __getitem__(self, keyword: str) -> FlatElement:
        tag = _tag(keyword)
        if tag is None or tag not in self.elements:
            raise KeyError(keyword)
        return FlatElement(tag, self.elements[tag][0], self.value(tag))

    def __iter__(self) -> Iterator[FlatElement]:
        """The elements in tag order, each value converted as it is reached (as iterating a Dataset does)."""
        for tag, (vr, _, _) in self.elements.items():
            yield FlatElement(tag, vr, self.value(tag))

    def __len__(self) -> int:
        return len(self.elements)

    def __repr__(self) -> str:  # never the values: they may identify a person
        return f"FlatItem({len(self.elements)} elements)"


_VALID_UID = re.compile(rb"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")


def _uid(value: bytes) -> Any:
    """A valid UID's value as pydicom converts it (a ``UID`` without its trailing padding), made without its
    validation, which a valid UID passes silently; None for anything else (pydicom converts that). A SEG names
    each slice it segments: CRLM's 90 per file were a tenth of reading one."""
    text = value.rstrip(b"\x00 ")
    if len(text) > 64 or _VALID_UID.fullmatch(text) is None:
        return None
    return str.__new__(_UID_CLASS, text.decode("ascii"))


def decode(tag: int, vr: str, value: bytes, raw_vr: str | None, implicit: bool, little: bool, encoding: Any) -> Any:
    """A value converted by pydicom's ``raw_element_value`` hook, as ``Dataset[tag].value`` would be."""
    raw = RawDataElement(BaseTag(tag), raw_vr, len(value), value, 0, implicit, little)
    data: dict[str, Any] = {"VR": vr}
    hooks.raw_element_value(raw, data, encoding=encoding, ds=None)
    return data["value"]


def _charset(item: dict[int, Element], implicit: bool, little: bool) -> Any:
    """The encodings of an item that has its own Specific Character Set (as ``read_dataset`` sets them)."""
    _, value, raw_vr = item[_CHARSET]
    raw = RawDataElement(BaseTag(_CHARSET), raw_vr, len(value), value, 0, implicit, little)
    try:
        return convert_encodings(convert_raw_data_element(raw).value)
    except (LookupError, ValueError, TypeError, BytesLengthException, NotImplementedError) as exc:
        raise FlatError("unreadable Specific Character Set") from exc


def _creator(item: dict[int, Element], tag: int, implicit: bool, little: bool, encoding: Any) -> str | None:
    """The private creator of a private ``tag`` in ``item`` (``_private_vr_for_tag``'s look-up), or None."""
    creator_tag = (tag & 0xFFFF0000) | ((tag & 0xFFFF) >> 8)
    elem = item.get(creator_tag)
    if elem is None:
        return None
    vr, value, raw_vr = elem
    if vr == "SQ" or vr in _AMBIGUOUS:
        raise FlatError("private creator that is not text")
    try:
        text = decode(creator_tag, vr, value, raw_vr, implicit, little, encoding)
    except (ValueError, TypeError, BytesLengthException, NotImplementedError, LookupError) as exc:
        raise FlatError("unreadable private creator") from exc
    if not isinstance(text, str):
        raise FlatError("private creator that is not one text value")
    return text


def _vr_of(tag: int, raw_vr: str | None, length: int, item: dict[int, Element], implicit: bool, little: bool,
           encoding: Any) -> str:  # fmt: skip
    """The VR pydicom gives a defined-length element (``hooks.raw_element_vr`` and ``DataElement`` rules)."""
    private = bool((tag >> 16) & 1)
    if raw_vr is not None and raw_vr != "UN":
        return raw_vr
    if raw_vr is None:
        vr = _public_vr(tag)
        if vr is not None:
            return vr
        if not private:
            return "UL" if tag & 0xFFFF == 0 else "UN"
    elif not private:  # explicit UN of a public tag: the dictionary's VR when short enough
        return (_public_vr(tag) or "UN") if length < 0xFFFF else "UN"
    element = tag & 0xFFFF
    if 0x0010 <= element < 0x0100:
        return "LO"  # a private creator
    if not element & 0xFF00:
        return "UN"
    creator = _creator(item, tag, implicit, little, encoding)
    if creator is None:
        return "UN"
    return _private_vr(tag, creator)


def _items(buf: bytes, pos: int, end: int, undefined: bool, implicit: bool, little: bool, encoding: Any,
           depth: int) -> tuple[list[FlatItem], int]:  # fmt: skip
    """The items of a sequence starting at ``pos``: up to ``end`` (defined length) or its delimiter."""
    if depth > MAX_DEPTH:
        raise FlatError(f"sequences nested deeper than {MAX_DEPTH}")
    head = _HEAD[little]
    items: list[FlatItem] = []
    while undefined or pos < end:
        if pos + 8 > end:
            raise FlatError("item header past the end")
        group, elem, length = head(buf, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQ_END:
            if undefined:
                return items, pos
            raise FlatError("sequence delimiter in a sequence of defined length")
        if tag != _ITEM:
            raise FlatError("not an item")
        if length == _UNDEFINED:
            item, pos = _item(buf, pos, end, False, implicit, little, encoding, depth)
        else:
            if pos + length > end:
                raise FlatError("item past the end of its sequence")
            item, pos = _item(buf, pos, pos + length, True, implicit, little, encoding, depth)
        items.append(item)
    return items, pos


def _item(buf: bytes, pos: int, end: int, defined: bool, implicit: bool, little: bool, encoding: Any,
          depth: int) -> tuple[FlatItem, int]:  # fmt: skip
    """One item from ``pos``: up to ``end`` (defined length) or its item delimiter (``end`` bounds it)."""
    if not implicit and pos + 6 <= end:
        # pydicom reads an item of explicit-VR data as implicit VR when its first VR is not two capitals
        implicit = not (0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B)
    head = _HEAD[little] if implicit else _EXPLICIT[little]
    long_length = _LENGTH[little]
    vrs, long_vrs = _VRS, _LONG
    elements: dict[int, Element] = {}
    last = -1
    has_sequence = False
    while not defined or pos < end:
        if pos + 8 > end:
            raise FlatError("element header past the end")
        if implicit:
            group, elem, length = head(buf, pos)
            raw_vr = None
            pos += 8
        else:
            group, elem, vr_bytes, length = head(buf, pos)
            pos += 8
            if group != 0xFFFE:
                raw_vr = vrs.get(vr_bytes)
                if raw_vr is None:
                    raise FlatError("unknown VR")
                if raw_vr in long_vrs:
                    if pos + 4 > end:
                        raise FlatError("element header past the end")
                    (length,) = long_length(buf, pos)
                    pos += 4
        tag = group << 16 | elem
        if group == 0xFFFE:
            if tag == 0xFFFEE00D and not defined:  # the item delimiter
                return FlatItem(elements, encoding, implicit, little), pos
            raise FlatError("delimiter or item tag among the elements of an item")
        if tag <= last:
            raise FlatError("elements out of order or repeated")
        last = tag
        if length == 0xFFFFFFFF:  # undefined length
            vr = "SQ" if raw_vr == "UN" else raw_vr
            if vr is None:
                vr = _undefined_vr(tag)
                if vr is None:  # not in the dictionary: a sequence when an item follows
                    if pos + 4 > end:
                        raise FlatError("element past the end")
                    group2, elem2 = _TAG[little](buf, pos)
                    vr = "SQ" if (group2 << 16 | elem2) == _ITEM else None
            if vr != "SQ":
                raise FlatError("a value of undefined length that is not a sequence")
            if tag == _CHARSET:
                raise FlatError("Specific Character Set as a sequence")
            items, pos = _items(buf, pos, end, True, implicit, little, encoding, depth + 1)
            elements[tag] = ("SQ", items, raw_vr)
            has_sequence = True
            continue
        stop = pos + length
        if stop > end:
            raise FlatError("value past the end")
        vr = raw_vr if raw_vr is not None and raw_vr != "UN" else _vr_of(tag, raw_vr, length, elements, implicit,
                                                                          little, encoding)  # fmt: skip
        if tag == 0x00080005:  # Specific Character Set: the text below is decoded with it
            if has_sequence:
                raise FlatError("Specific Character Set after a sequence")
            elements[tag] = (vr, buf[pos:stop], raw_vr)
            encoding = _charset(elements, implicit, little)
            pos = stop
            continue
        if vr == "SQ":  # read when looked at; an empty one is known now
            if depth + 1 > MAX_DEPTH:
                raise FlatError(f"sequences nested deeper than {MAX_DEPTH}")
            elements[tag] = ("SQ", (buf, pos, stop, implicit, encoding, depth + 1) if length else [], raw_vr)
            has_sequence = True
        else:
            elements[tag] = (vr, buf[pos:stop], raw_vr)
        pos = stop
    return FlatItem(elements, encoding, implicit, little), pos


def parse_sequence(data: bytes, implicit: bool, little: bool, encoding: Any = "iso8859") -> list[FlatItem]:
    """The items of the value of a sequence of defined length (``data``: its bytes, as pydicom keeps them in
    a ``RawDataElement``). Raises :class:`FlatError` for anything pydicom should read instead."""
    if not _reading_is_default():
        raise FlatError("pydicom reads with other options")
    items, end = _items(bytes(data), 0, len(data), False, implicit, little, encoding, 1)
    if end != len(data):
        raise FlatError("trailing bytes")
    return items


# the few most recent reads: (id(bytes), encoding) -> (bytes, items or None when the bytes are left to pydicom)
_RECENT: dict[tuple[Any, ...], tuple[bytes, list[FlatItem] | None]] = {}
_RECENT_MAX = 8


def _encoding_of(ds: Any) -> str | MutableSequence[str]:
    """The character set ``Dataset.__getitem__`` decodes the dataset's elements with."""
    encoding: str | MutableSequence[str] = ds.original_character_set or ds._character_set
    return encoding


# One BaseTag object per tag, shared: the datasets read by harvest.dicom_header are keyed by these, so a look-up
# with the same object is found by identity. A look-up with another BaseTag or an int calls BaseTag.__eq__, a
# Python method, for every hit (about 60 per CT slice). Bounded: a hostile file's tags beyond it get their own.
_KEYS: dict[int, BaseTag] = {}
_KEYS_MAX = 65536


def tag_key(tag: int) -> BaseTag:
    """The shared :class:`BaseTag` of ``tag`` (a new one once :data:`_KEYS_MAX` tags are known)."""
    key = _KEYS.get(tag)
    if key is None:
        key = BaseTag(tag)
        if len(_KEYS) < _KEYS_MAX:
            _KEYS[tag] = key
    return key


_MAYBE_SEQUENCE = frozenset({None, "SQ", "UN"})  # the VRs as written of an element that may hold items


def sequence(ds: Any, tag: int) -> list[FlatItem] | None:
    """The items of the sequence ``tag`` of the pydicom dataset ``ds`` when it is still raw bytes there and
    reads here; None when it is not (absent, already converted, deferred, not a sequence, or left to
    pydicom): then use ``ds[tag]``."""
    lookup = getattr(ds, "_dict", None)
    raw = lookup.get(_KEYS.get(tag, tag)) if isinstance(lookup, dict) else None
    if not isinstance(raw, RawDataElement) or not isinstance(raw.value, bytes):
        return None
    if raw.VR not in _MAYBE_SEQUENCE or not _reading_is_default() or raw.length == _UNDEFINED:
        return None  # (the default VR hook keeps an explicit VR other than UN as written)
    encoding = _encoding_of(ds)
    vr_data: dict[str, Any] = {}
    try:
        hooks.raw_element_vr(raw, vr_data, encoding=encoding, ds=ds)
    except KeyError:  # pydicom's strict mode for an unknown tag: let it say so
        return None
    if vr_data.get("VR") != "SQ":
        return None
    data = raw.value
    implicit, little = bool(raw.is_implicit_VR), bool(raw.is_little_endian)
    # keyed by everything the read depends on; the bytes object itself is checked (and kept alive) so
    # that an id is never taken for another object's
    key = (id(data), implicit, little, _encoding_key(encoding))
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    items: list[FlatItem] | None
    try:
        items = parse_sequence(data, implicit, little, encoding)
    except FlatError:
        items = None
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.pop(next(iter(_RECENT)))
    _RECENT[key] = (data, items)
    return items


def raw_value(ds: Any, tag: int) -> tuple[str, Any] | None:
    """``(VR, value)`` of the element ``tag`` still raw in the pydicom dataset ``ds``, as ``ds[tag]`` would
    give them, without converting it in ``ds``; None when pydicom should convert it (absent, converted,
    deferred, of undefined length, a sequence, an ambiguous VR, the character set itself, non-default
    reading options). Values are converted once per distinct bytes (see :meth:`FlatItem.value`)."""
    lookup = getattr(ds, "_dict", None)
    raw = lookup.get(_KEYS.get(tag, tag)) if isinstance(lookup, dict) else None
    if not isinstance(raw, RawDataElement) or not isinstance(raw.value, bytes) or raw.length == _UNDEFINED:
        return None
    if tag == _CHARSET or not _reading_is_default():
        return None
    vr = raw.VR
    if vr is None or vr == "UN":  # the default hook keeps any other VR as written (checked by the line above)
        vr_data: dict[str, Any] = {}
        try:
            hooks.raw_element_vr(raw, vr_data, encoding=_encoding_of(ds), ds=ds)
        except KeyError:
            return None
        vr = vr_data.get("VR")
    vr = str(vr)
    if vr == "SQ" or vr in _AMBIGUOUS:
        return None
    data = raw.value
    text = vr in _TEXT_VRS
    encoding = _encoding_of(ds) if text else None  # only text is decoded with the character set
    key = (vr, data, bool(raw.is_little_endian), _encoding_key(encoding) if text else None)
    hit = _VALUES.get(key, _MISSING)
    if hit is not _MISSING:
        return vr, hit
    if encoding is None:
        encoding = _encoding_of(ds)
    out = decode(tag, vr, data, raw.VR, bool(raw.is_implicit_VR), bool(raw.is_little_endian), encoding)
    if len(_VALUES) >= _VALUES_MAX:
        _VALUES.clear()
    _VALUES[key] = out
    return vr, out


def forget() -> None:
    """Drop the kept reads (the end of one file's read: nothing of it is looked up again)."""
    _RECENT.clear()
    _NESTED.clear()


def plain_value(ds: Any, keyword: str) -> Any:
    """``ds.get(keyword)`` for an element of ``ds``'s own level, converted without being stored in ``ds`` when
    it is still raw (:func:`raw_value`: the same value, cheaper)."""
    tag = _tag(keyword)
    if tag is None:
        return ds.get(keyword)
    lookup = getattr(ds, "_dict", None)
    if isinstance(lookup, dict) and _KEYS.get(tag, tag) not in lookup:
        return None  # absent (a keyword is never a plain attribute of a Dataset, so get() says None too)
    known = raw_value(ds, tag)
    return known[1] if known is not None else ds.get(keyword)


def absent_from(ds: Any, keyword: str, inner: Iterable[str]) -> frozenset[str]:
    """The keywords of ``inner`` that no item of the raw sequence ``keyword`` of ``ds`` holds at any depth: their
    tags' bytes occur nowhere in its value (a sequence not raw, or not there, proves nothing: empty set)."""
    tag = _tag(keyword)
    lookup = getattr(ds, "_dict", None)
    raw = lookup.get(_KEYS.get(tag, tag)) if tag is not None and isinstance(lookup, dict) else None
    if not isinstance(raw, RawDataElement) or not isinstance(raw.value, bytes):
        return frozenset()
    pack = _TAG_BYTES[bool(raw.is_little_endian)]
    out = set()
    for name in inner:
        t = _tag(name)
        if t is not None and raw.value.find(pack(t >> 16, t & 0xFFFF)) < 0:
            out.add(name)
    return frozenset(out)


_UI_LENGTH = {True: struct.Struct("<H").unpack_from, False: struct.Struct(">H").unpack_from}
_IMPLICIT_LENGTH = {True: struct.Struct("<L").unpack_from, False: struct.Struct(">L").unpack_from}


def raw_uids(ds: Any, keyword: str, inner: str) -> set[str] | None:
    """Every value of the UI element ``inner`` at any depth of the raw top-level sequence ``keyword`` of ``ds``,
    found in its bytes without reading its items; None unless each place its tag's bytes occur reads as a plain
    UID (digits and dots, as pydicom would give it) or the sequence is not raw. A superset of what reading the
    items gives (bytes that merely look like the tag add a value), so a caller may skip reading the items when
    every value is one it knows (a SEG's 450 frames each name a source slice its series list already names)."""
    tag, inner_tag = _tag(keyword), _tag(inner)
    lookup = getattr(ds, "_dict", None)
    raw = lookup.get(_KEYS.get(tag, tag)) if tag is not None and isinstance(lookup, dict) else None
    if inner_tag is None or not isinstance(raw, RawDataElement) or not isinstance(raw.value, bytes):
        return None
    little, implicit, data = bool(raw.is_little_endian), bool(raw.is_implicit_VR), raw.value
    pattern = _TAG_BYTES[little](inner_tag >> 16, inner_tag & 0xFFFF)
    if any(pattern[i:] == pattern[: 4 - i] for i in range(1, 4)):
        return None  # bytes that could overlap themselves: a split could hide a real tag in a look-alike
    out: set[str] = set()
    length_of = _IMPLICIT_LENGTH[little] if implicit else _UI_LENGTH[little]  # after "UI" when explicit
    for piece in data.split(pattern)[1:]:  # each piece starts where the tag's bytes end
        if len(piece) < 4 or (not implicit and piece[:2] != b"UI"):
            return None  # another VR, or an item read as implicit VR: the items must be read
        (length,) = length_of(piece, 0 if implicit else 2)
        value = piece[4 : 4 + length]
        if len(value) != length:
            return None  # the value would run into the tag's bytes again, or past the end
        value = value.rstrip(b"\x00 ")
        if not value or value.translate(None, b"0123456789."):
            return None
        out.add(value.decode("ascii"))
    return out


def sequence_value(ds: Any, keyword: str) -> Any:
    """``ds.get(keyword)`` for a sequence keyword, as :class:`FlatItem` objects when :func:`sequence` reads it."""
    tag = _tag(keyword)
    if tag is not None:
        items = sequence(ds, tag)
        if items is not None:
            return items
    return ds.get(keyword)
