"""The image readers a pool's workers will need, loaded in the parent before it forks them.

A worker forked from a process that has imported pydicom (0.3 s) or nibabel has them; one forked before
imports them itself, once in each worker of each pool. The header pass, the PHI gate and the landing page's
previews each load what their files need here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from isaprofile.harvest.nifti import is_nifti, nifti_errors

__all__ = ["load_readers", "load_readers_for"]


def load_readers(kinds: Collection[str]) -> None:
    """Import the readers of these kinds of file (``"dicom"``, ``"nifti"``), here, before a pool forks its
    workers: each would import pydicom (0.3 s) or nibabel itself otherwise. What no file needs is never
    loaded (see :func:`isaprofile.harvest.images.read_one`)."""
    if "dicom" in kinds:
        import isaprofile.harvest.dicom  # noqa: F401
    if "nifti" in kinds:
        nifti_errors()  # nibabel (which loads pydicom too, when installed)


def load_readers_for(paths: Iterable[str]) -> None:
    """:func:`load_readers` for files known by their names: NIfTI by its suffix, anything else read as DICOM."""
    load_readers({"nifti" if is_nifti(p) else "dicom" for p in paths})
