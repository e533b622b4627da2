"""Deposit content: which files go in a package, its metadata, landing page and the PHI gate.

The bag itself (build, verify, zip, paths, hashing) is :mod:`isaprofile.bagit`, which knows nothing
of datasets; its entry points are re-exported here for convenience::

    build_bag(dest, payload, metadata, *, bag_info, zip=False, workers=None, progress=None) -> BuildResult
    build_split(dest, payload, metadata, *, bag_info, max_files=100, max_bytes=50e9) -> BuildResult
    plan_parts(sizes, *, max_files=100, max_bytes=50e9, reserved_files=0) -> Plan
    verify_package(path, *, checks=(), workers=None) -> Report
    check_phi(files, policy, *, workers=None) -> PhiResult   the PHI gate, run before anything is written
    SafeZip(path, limits=None)               read a zip without trusting it

Heavy imports (pydicom, nibabel) happen only inside the PHI checks.
"""

from __future__ import annotations

from isaprofile.bagit.build import BuildResult, build_bag, cleanup_leftovers
from isaprofile.bagit.errors import (
    DestinationNotPackageError,
    DiskFullError,
    InputVanishedError,
    PackageError,
    UnsafeZipError,
    WriteFailedError,
)
from isaprofile.bagit.hashing import FileDigest, copy_files, hash_files
from isaprofile.bagit.split import ZENODO, Plan, build_split, plan_parts
from isaprofile.bagit.verify import PackageView, verify_package
from isaprofile.bagit.ziputil import SafeZip, ZipLimits, write_zip
from isaprofile.package.phi import AllowEntry, PhiPolicy, PhiResult, check_phi, exceptions_json

__all__ = [
    "ZENODO",
    "AllowEntry",
    "PhiPolicy",
    "PhiResult",
    "check_phi",
    "exceptions_json",
    "BuildResult",
    "DestinationNotPackageError",
    "DiskFullError",
    "FileDigest",
    "InputVanishedError",
    "PackageError",
    "PackageView",
    "Plan",
    "SafeZip",
    "UnsafeZipError",
    "WriteFailedError",
    "ZipLimits",
    "build_bag",
    "build_split",
    "cleanup_leftovers",
    "copy_files",
    "hash_files",
    "plan_parts",
    "verify_package",
    "write_zip",
]
