"""Deposit content: which files go in a package, its metadata, landing page and the PHI gate.

The bag itself (build, verify, zip, paths, hashing) is :mod:`isaprofile.bagit`, which knows nothing of
datasets; :func:`isaprofile.package.deposit.package_dataset` and ``verify_package`` there put the two
together. The PHI gate is re-exported here::

    check_phi(files, policy, *, workers=None, known=None) -> PhiResult

Heavy imports (pydicom, nibabel) happen only inside the PHI checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from isaprofile.package.phi import AllowEntry, PhiPolicy, PhiResult, check_phi, exceptions_json

__all__ = ["AllowEntry", "PhiPolicy", "PhiResult", "check_phi", "exceptions_json"]


def __getattr__(name: str) -> Any:
    """The PHI gate's names, imported when first asked for: ``verify`` imports this package's metadata
    checks and never needs the gate."""
    if name in __all__:
        from isaprofile.package import phi

        return getattr(phi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
