"""Open a dataset wherever it is and check it: thin, named entry points over :func:`isaprofile.check`.

:func:`load_dataset` reads a dataset (or ISA-Tab) folder into the typed model with the structural,
cross-check and profile layers; :func:`validate` runs every layer and keeps the report.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from isaprofile.errors import DatasetError
from isaprofile.findings.issues import Report
from isaprofile.pipeline import CheckedDataset, ProfileRef, check, is_isatab

if TYPE_CHECKING:
    from isaprofile.harvest.images import ResultWrapper

__all__ = ["DatasetError", "is_isatab", "load_dataset", "validate"]


def load_dataset(
    path: str | Path, profile: ProfileRef = "auto", *, data_root: str | Path | None = None
) -> CheckedDataset:
    """Read the dataset or ISA-Tab folder ``path`` into the model (``.investigation``, ``.profile``,
    ``.report``), running every layer but the linked-data and PHI ones, which read more than the model.

    ``profile``: ``"auto"`` (the one the config or the ISA-Tab names), a profile name, path or object, or
    ``None``/``"none"`` for structural checks only. Raises :class:`DatasetError` only when ``path`` is not
    a readable folder.
    """
    return check(path, profile, skip=("linked", "phi"), data_root=data_root)


def validate(
    path: str | Path,
    profile: ProfileRef = "auto",
    *,
    skip: Collection[str] = (),
    data_root: str | Path | None = None,
    workers: int | None = None,
    progress: ResultWrapper | None = None,
    cache: bool = True,
) -> Report:
    """Validate a dataset or ISA-Tab folder with every layer (the CI gate; see :mod:`isaprofile.pipeline`).

    ``skip`` may name ``"linked"`` and ``"phi"``; ``report.stats["layers"]`` lists the layers that ran.
    ``cache=False`` reads every image header again instead of reusing the header cache (:mod:`isaprofile.cache`).
    """
    return check(path, profile, skip=skip, data_root=data_root, workers=workers, progress=progress,
                 cache=cache).report  # fmt: skip
