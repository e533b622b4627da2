"""The one progress type of the library.

A :data:`Progress` is a callback taking the number of units (bytes, files) completed since the last
call, e.g. ``tqdm(...).update``. Producers call it as work completes; :func:`tracked` calls it once per
item of a stream. It lives here, away from the model and the BagIt engine, so every layer can share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

Progress = Callable[[int], None]


def tracked(items: Iterable[T], progress: Progress | None) -> Iterator[T]:
    """Yield ``items`` unchanged, calling ``progress(1)`` after each one (nothing when ``None``)."""
    if progress is None:
        yield from items
        return
    for item in items:
        yield item
        progress(1)
