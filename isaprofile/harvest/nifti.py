"""NIfTI header harvest with nibabel (header only; the image data is never loaded).

Values are keyed by header field: ``dim[i]`` and ``pixdim[i]`` per axis, ``pixdim`` (the in-plane voxel
size, ``pixdim[1]``), ``dim`` (the matrix as ``64x64x32``), ``datatype``, ``bitpix``, ``qform_code``,
``sform_code``, ``nifti_version``. Spatial sizes are given in mm and the time step (``pixdim[4]``) in
ms or s, converted from the header's xyzt units; with unknown units the number is kept without a unit.

The file must hold ``vox_offset + prod(dim) * bitpix / 8`` bytes; for ``.nii.gz`` the decompressed
stream is counted in chunks (bounded memory). A JSON sidecar with the same stem is merged.
"""

from __future__ import annotations

import math
import os
import zlib

import nibabel as nib
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest.sidecar import read_sidecar
from isaprofile.harvest.types import HarvestedImage, RawValues, to_values

_CHUNK = 1 << 20
_SPACE = {"mm": ("mm", 1.0), "meter": ("mm", 1000.0), "micron": ("mm", 1e-3)}
_TIME = {"sec": ("s", 1.0), "msec": ("ms", 1.0), "usec": ("ms", 1e-3)}
NIFTI_ERRORS = (ImageFileError, HeaderDataError, OSError, EOFError, ValueError, zlib.error)


def is_nifti(path: str) -> bool:
    """True for ``.nii`` and ``.nii.gz`` files."""
    low = path.lower()
    return low.endswith(".nii") or low.endswith(".nii.gz")


def nifti_stem(path: str) -> str:
    """The file name without ``.nii`` / ``.nii.gz``."""
    name = os.path.basename(path)
    for ext in (".nii.gz", ".nii"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def read_nifti_file(
    path: str, rel: str, sidecar: str | None = None, sidecar_rel: str | None = None
) -> tuple[HarvestedImage | None, list[Issue]]:
    """Harvest one NIfTI file (and its sidecar); never raises for a bad file."""
    issues: list[Issue] = []
    try:
        img = nib.load(path)
        header = img.header
        raw = _header_values(header)
        offset = int(getattr(img.dataobj, "offset", 0) or 0)
        shape = [int(d) for d in header.get_data_shape()]
        bitpix = int(header["bitpix"])
        expected = offset + math.prod(shape) * bitpix // 8
        found = _content_length(path, expected)
    except NIFTI_ERRORS as exc:
        return None, [issue("nifti-unreadable", file=rel, reason=_reason(exc))]
    if found < expected:
        issues.append(
            issue("nifti-truncated", file=rel, path="vox_offset + dim * bitpix", found=found, expected=expected)
        )
    values = to_values(raw, rel)
    if sidecar is not None and sidecar_rel is not None:
        extra, found_issues = read_sidecar(sidecar, sidecar_rel)
        issues.extend(found_issues)
        values.update(to_values(extra, sidecar_rel))
    modality = values["Modality"].value if "Modality" in values else None
    item = HarvestedImage(
        kind="nifti",
        paths=[rel],
        modality=str(modality) if modality else None,
        subject=nifti_stem(rel),
        folder=os.path.dirname(rel).replace(os.sep, "/") or ".",
        values=values,
        sidecar=sidecar_rel,
    )
    return item, issues


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _content_length(path: str, limit: int) -> int:
    """Bytes of content (decompressed for .gz), counting at most a little past ``limit``.

    A gzip stream that ends early counts what could be decompressed.
    """
    if not path.lower().endswith(".gz"):
        return os.path.getsize(path)
    total = 0
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as fh:
        while total <= limit:
            data = fh.read(_CHUNK)
            if not data:
                break
            while data and total <= limit:
                total += len(inflate.decompress(data, _CHUNK))
                if inflate.eof:  # the rest, if any, is a further gzip member
                    data = inflate.unused_data
                    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    data = inflate.unconsumed_tail
    return total


def _header_values(header: nib.nifti1.Nifti1Header) -> RawValues:
    out: RawValues = {}
    dim = [int(d) for d in header["dim"]]
    ndim = max(0, min(dim[0], 7))
    pixdim = [float(p) for p in header["pixdim"]]
    space, time = header.get_xyzt_units()
    out["nifti_version"] = ("NIfTI-2" if header.sizeof_hdr == 540 else "NIfTI-1", None, "sizeof_hdr")
    out["dim"] = ("x".join(str(d) for d in dim[1 : ndim + 1]), None, f"dim[1:{ndim + 1}]")
    for i in range(1, ndim + 1):
        out[f"dim[{i}]"] = (dim[i], None, f"dim[{i}]")
    s_unit, s_factor = _SPACE.get(space, (None, 1.0))
    for i in range(1, min(ndim, 3) + 1):
        out[f"pixdim[{i}]"] = (_round(pixdim[i] * s_factor), s_unit, f"pixdim[{i}]")
    if ndim >= 1:
        out["pixdim"] = (_round(pixdim[1] * s_factor), s_unit, "pixdim[1]")
    if ndim >= 4:
        t_unit, t_factor = _TIME.get(time, (None, 1.0))
        out["pixdim[4]"] = (_round(pixdim[4] * t_factor), t_unit, "pixdim[4]")
    out["datatype"] = (str(header.get_data_dtype().name), None, "datatype")
    out["bitpix"] = (int(header["bitpix"]), None, "bitpix")
    out["qform_code"] = (int(header["qform_code"]), None, "qform_code")
    out["sform_code"] = (int(header["sform_code"]), None, "sform_code")
    return out


def _round(x: float) -> float:
    return float(f"{x:.7g}")
