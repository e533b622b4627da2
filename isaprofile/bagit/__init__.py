"""A BagIt (RFC 8493) engine: atomic reproducible builds, split deposits, zips, path safety,
hashing and a validator for any bag. It knows nothing of datasets, ISA-Tab or RO-Crate; the
deposit content is :mod:`isaprofile.package`'s concern.

The entry points (see each module's docstring for the details)::

    build_bag(dest, payload, metadata, *, bag_info, zip=False, workers=None, progress=None) -> BuildResult
    build_split(dest, payload, metadata, *, bag_info, max_files=100, max_bytes=50e9) -> BuildResult
    plan_parts(sizes, *, max_files=100, max_bytes=50e9, reserved_files=0) -> Plan
    verify_package(path, *, checks=(), workers=None) -> Report
    SafeZip(path, limits=None)               read a zip without trusting it
"""

from __future__ import annotations

from isaprofile.bagit.build import PARTS_INDEX, BuildResult, atomic_publish, build_bag, cleanup_leftovers
from isaprofile.bagit.errors import (
    DestinationNotPackageError,
    DiskFullError,
    InputVanishedError,
    PackageError,
    UnsafeZipError,
    WriteFailedError,
)
from isaprofile.bagit.hashing import FileDigest, Hasher, copy_files, hash_file, hash_files
from isaprofile.bagit.split import ZENODO, Plan, build_split, plan_parts, verify_split
from isaprofile.bagit.verify import Check, PackageView, verify_bag, verify_package
from isaprofile.bagit.ziputil import SafeZip, ZipLimits, write_zip

__all__ = [
    "PARTS_INDEX",
    "ZENODO",
    "BuildResult",
    "Check",
    "DestinationNotPackageError",
    "DiskFullError",
    "FileDigest",
    "Hasher",
    "InputVanishedError",
    "PackageError",
    "PackageView",
    "Plan",
    "SafeZip",
    "UnsafeZipError",
    "WriteFailedError",
    "ZipLimits",
    "atomic_publish",
    "build_bag",
    "build_split",
    "cleanup_leftovers",
    "copy_files",
    "hash_file",
    "hash_files",
    "plan_parts",
    "verify_bag",
    "verify_package",
    "verify_split",
    "write_zip",
]
