"""Typed exceptions of the packaging layer.

Bad *input* is reported as findings in a :class:`~isaprofile.findings.issues.Report`. These
exceptions are raised only when a build must stop (a source vanished, the disk is full, a write
failed, the destination is not ours to replace). Each carries :attr:`PackageError.issue`, the
catalogue finding that explains it, names the file, and is raised only after the temporary build
folder has been removed, so nothing half-written is left behind.
"""

from __future__ import annotations

from typing import Any

from isaprofile.errors import IsaprofileError
from isaprofile.findings.issues import Issue, Report, issue


class PackageError(IsaprofileError):
    """A build or read that had to stop; :attr:`issue` is the finding that says why."""

    code = "write-failed"

    def __init__(self, file: str, **params: Any) -> None:
        self.file = str(file)
        self.params = params
        self.issue: Issue = issue(self.code, file=self.file, **params)
        super().__init__(self.issue.message)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across worker processes
        return (_rebuild, (type(self), self.file, self.params))

    def report(self) -> Report:
        """The finding as a one-issue report, for the CLI."""
        return Report([self.issue])


class InputVanishedError(PackageError):
    """A source file disappeared, shrank or became unreadable during the build."""

    code = "input-vanished"


class DiskFullError(PackageError):
    """No space left on the device while writing the package (ENOSPC / EDQUOT)."""

    code = "disk-full"


class WriteFailedError(PackageError):
    """Any other I/O error while writing the package."""

    code = "write-failed"


class DestinationNotPackageError(PackageError):
    """The destination exists and is not a package this library may replace."""

    code = "destination-not-package"


class UnsafeZipError(PackageError):
    """A zip cannot be read safely (broken, or refused by the safety checks)."""

    code = "zip-invalid"


def _rebuild(cls: type[PackageError], file: str, params: dict[str, Any]) -> PackageError:
    return cls(file, **params)
