"""Work done once per shared object: a label's dict of values is every subject's (ENHANCE: 130 dicts for 207,610
segmentations, see :mod:`isaprofile.harvest.assemble`), so what a writer makes of a dict it makes once.

Dicts are not hashable, and two equal dicts of different records are not known to stay equal, so those helpers
go by identity, and keep the objects they have seen: an id stays its own only while its object lives.
:class:`OneCopy` is the other way round: equal immutable values made apart become one object.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

V = TypeVar("V")


class FirstSeen:
    """``seen(obj)`` is True the first time ``obj`` is given, False after."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[int, object] = {}

    def __call__(self, obj: object) -> bool:
        if id(obj) in self._kept:
            return False
        self._kept[id(obj)] = obj
        return True


class ByIdentity(Generic[V]):
    """What was made from an object (and a key: the same dict may be placed two ways), remembered by the
    object's identity; emptied once ``limit`` are held, since it is only a shortcut."""

    __slots__ = ("_made", "limit")

    def __init__(self, limit: int) -> None:
        self._made: dict[tuple[int, Any], tuple[object, V]] = {}
        self.limit = limit

    def get(self, obj: object, key: Any = None) -> V | None:
        hit = self._made.get((id(obj), key))
        return None if hit is None else hit[1]

    def put(self, obj: object, made: V, key: Any = None) -> V:
        if len(self._made) >= self.limit:
            self._made.clear()
        self._made[(id(obj), key)] = (obj, made)
        return made


T = TypeVar("T")


class OneCopy(Generic[T]):
    """``one(value)``: the first value equal to ``value`` that was given, so equal immutable values made apart
    (read from each of 17,840 files, or unpickled one by one) are one object; emptied once ``limit`` are held,
    since it only saves memory."""

    __slots__ = ("_kept", "limit")

    def __init__(self, limit: int) -> None:
        self._kept: dict[T, T] = {}
        self.limit = limit

    def __call__(self, value: T) -> T:
        if len(self._kept) >= self.limit:
            self._kept.clear()
        return self._kept.setdefault(value, value)
