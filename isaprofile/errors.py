"""The exceptions isaprofile raises. Every one derives from :class:`IsaprofileError`.

Bad content inside a readable input is never an exception: it is a finding in a
:class:`~isaprofile.findings.issues.Report`. Exceptions are for inputs that cannot be used at all
(a path that is not a dataset, a profile that cannot be loaded, a package that cannot be written).
"""

from __future__ import annotations

__all__ = ["DatasetError", "IsaprofileError", "SchedulerError"]


class IsaprofileError(Exception):
    """Base class of every exception isaprofile raises for unusable input (the CLI exits 2)."""


class DatasetError(IsaprofileError):
    """The path cannot be read as a dataset at all: missing, not a folder, neither a dataset nor ISA-Tab."""


class SchedulerError(IsaprofileError):
    """The Dask scheduler asked for cannot be used: ``distributed`` is not installed, the address is wrong or
    cannot be reached, it has no workers, or the work could not be finished on it (workers kept dying)."""
