"""NIfTI header harvest with nibabel (header only; the image data is never loaded).

Values are keyed by header field: ``dim[i]`` and ``pixdim[i]`` per axis, ``pixdim`` (the in-plane voxel
size, ``pixdim[1]``), ``dim`` (the matrix as ``64x64x32``), ``datatype``, ``bitpix``, ``qform_code``,
``sform_code``, ``nifti_version``. Spatial sizes are given in mm and the time step (``pixdim[4]``) in
ms or s, converted from the header's xyzt units; with unknown units the number is kept without a unit.

The file must hold ``vox_offset + prod(dim) * bitpix / 8`` bytes; for ``.nii.gz`` the decompressed
stream is counted in chunks (bounded memory). Before nibabel reads it, the raw header is checked
(:func:`header_problems`): ``sizeof_hdr`` 348 or 540, ``dim[0]`` 1..7, every used dimension positive,
an image of at most 2^40 bytes, ``vox_offset`` inside the file — each a ``nifti-header-invalid`` error at
that field. A JSON sidecar with the same stem is merged.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO

from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest.sidecar import read_sidecar
from isaprofile.harvest.types import HarvestedImage, HeaderValues, RawValues

_CHUNK = 1 << 20
Inspect = Callable[[str, Any, str], Any]  # (kind, parsed header, rel) -> the caller's facts
_SPACE = {"mm": ("mm", 1.0), "meter": ("mm", 1000.0), "micron": ("mm", 1e-3)}
_TIME = {"sec": ("s", 1.0), "msec": ("ms", 1.0), "usec": ("ms", 1e-3)}

if TYPE_CHECKING:
    import nibabel as nib


@cache
def nifti_errors() -> tuple[type[BaseException], ...]:
    """What reading a bad NIfTI file can raise (nibabel is imported here, not with this module: a DICOM-only
    run never loads it)."""
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError
    from nibabel.wrapstruct import WrapStructError  # a header block of the wrong size (a cut .nii.gz)

    return (ImageFileError, HeaderDataError, WrapStructError, OSError, EOFError, ValueError, KeyError, IndexError,
            struct.error, zlib.error)  # fmt: skip


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


MAX_IMAGE_BYTES = 1 << 40


MAX_PREFIX = 64 << 20  # header + extensions kept in memory; a larger vox_offset is refused


class _Content:
    """One pass over a NIfTI file's content, decompressed for gzip (multi-member streams too): the
    first bytes are kept (header and extensions), the rest is only counted, in bounded chunks."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._gz = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gz else None
        self._pending = b""  # compressed bytes not yet inflated
        self.kept = bytearray()
        self.total = 0
        self._eof = False

    def _more(self, keep: bool) -> bool:
        """Decompress (or read) one chunk; False at the end of the content."""
        if self._eof:
            return False
        if self._inflate is None:
            data = self._fh.read(_CHUNK)
        else:
            data = b""
            while not data:
                raw = self._pending or self._fh.read(_CHUNK)
                if not raw:
                    break
                data = self._inflate.decompress(raw, _CHUNK)
                if self._inflate.eof:  # the rest, if any, is a further gzip member
                    self._pending = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    self._pending = self._inflate.unconsumed_tail
        if not data:
            self._eof = True
            return False
        self.total += len(data)
        if keep:
            self.kept += data
        return True

    def prefix(self, n: int) -> bytes:
        """At least the first ``n`` bytes of content (fewer at the end of the file)."""
        while len(self.kept) < n and self._more(keep=True):
            pass
        return bytes(self.kept[:n])

    def count(self, limit: int) -> int:
        """The content length, counted up to a little past ``limit``."""
        while self.total <= limit and self._more(keep=False):
            pass
        return self.total


def header_problems(path: str) -> list[tuple[str, str, str]]:
    """``(field, found, reason)`` for each inconsistency of the raw NIfTI-1/2 header of ``path``."""
    with open(path, "rb") as fh:
        return _problems(_Content(fh))


def _problems(content: _Content) -> list[tuple[str, str, str]]:
    """``(field, found, reason)`` for each inconsistency of the raw NIfTI-1/2 header (see the module
    docstring); empty when the header is consistent. Never loads the image. A file that is not NIfTI at
    all (no magic, too short) raises ``ImageFileError`` (``nifti-unreadable``)."""
    from nibabel.filebasedimages import ImageFileError

    head = content.prefix(540)
    if len(head) < 4:
        raise ImageFileError(f"{len(head)} bytes, too short for a NIfTI header")
    sizes = {e: struct.unpack(f"{e}i", head[:4])[0] for e in "<>"}
    endian = next((e for e, n in sizes.items() if n in (348, 540)), None)
    if endian is None:
        if head[344:348] not in (b"n+1\0", b"ni1\0") and head[4:8] not in (b"n+2\0", b"ni2\0"):
            raise ImageFileError("not a NIfTI header (no NIfTI magic)")
        return [("sizeof_hdr", str(sizes["<"]), "a NIfTI-1 header has 348, NIfTI-2 540")]
    two = sizes[endian] == 540
    need = 540 if two else 348
    if len(head) < need:
        return [("sizeof_hdr", f"{len(head)} bytes of header", f"the header needs {need}")]
    if two:
        (bitpix,) = struct.unpack(f"{endian}h", head[14:16])
        dim = list(struct.unpack(f"{endian}8q", head[16:80]))
        (vox_offset,) = struct.unpack(f"{endian}q", head[168:176])
    else:
        (bitpix,) = struct.unpack(f"{endian}h", head[72:74])
        dim = list(struct.unpack(f"{endian}8h", head[40:56]))
        (offset,) = struct.unpack(f"{endian}f", head[108:112])
        vox_offset = int(offset) if math.isfinite(offset) else -1
    problems: list[tuple[str, str, str]] = []
    if not 1 <= dim[0] <= 7:
        return [("dim[0]", str(dim[0]), "the number of dimensions must be 1 to 7")]
    for i in range(1, dim[0] + 1):
        if dim[i] <= 0:
            problems.append((f"dim[{i}]", str(dim[i]), "a used dimension must be positive"))
    if problems:
        return problems
    size = math.prod(dim[1 : dim[0] + 1]) * max(bitpix, 1) // 8
    if size > MAX_IMAGE_BYTES:
        shape = "x".join(str(d) for d in dim[1 : dim[0] + 1])
        problems.append(("dim", shape, f"the image would hold {size} bytes, more than 2^40"))
    if vox_offset < 0:
        problems.append(("vox_offset", str(vox_offset), "the offset of the image data cannot be negative"))
    elif vox_offset > MAX_PREFIX:
        problems.append(("vox_offset", str(vox_offset), f"extensions of more than {MAX_PREFIX} bytes"))
    else:
        available = len(content.prefix(vox_offset))
        if vox_offset > available:
            problems.append(("vox_offset", str(vox_offset), f"the file holds only {available} bytes"))
    return problems


def read_nifti_file(
    path: str, rel: str, sidecar: str | None = None, sidecar_rel: str | None = None, inspect: Inspect | None = None
) -> tuple[HarvestedImage | None, list[Issue]]:
    """Harvest one NIfTI file (and its sidecar) in one read of the file; never raises for a bad file.

    ``inspect("nifti", (header, extensions), rel)``, when given, runs on the parsed header in the same
    read (the PHI gate's facts); its result is the item's ``inspected``.
    """
    issues: list[Issue] = []
    try:  # one open: header, extensions, integrity and the PHI facts all come from this read
        with open(path, "rb") as fh:
            content = _Content(fh)
            problems = _problems(content)
            if problems:
                return None, [issue("nifti-header-invalid", file=rel, path=f, found=v, reason=r)
                              for f, v, r in problems]  # fmt: skip
            header = _parse_header(content)
            raw = _header_values(header)
            offset = int(header.get_data_offset())
            shape = [int(d) for d in header.get_data_shape()]
            bitpix = int(header["bitpix"])
            expected = offset + math.prod(shape) * bitpix // 8
            found = content.count(expected)
            inspected = inspect("nifti", (header, header.extensions), rel) if inspect is not None else None
    except nifti_errors() as exc:
        return None, [issue("nifti-unreadable", file=rel, reason=_reason(exc))]
    if found < expected:
        issues.append(
            issue("nifti-truncated", file=rel, path="vox_offset + dim * bitpix", found=found, expected=expected)
        )
    sources = [(rel, raw)]
    if sidecar is not None and sidecar_rel is not None:
        extra, found_issues = read_sidecar(sidecar, sidecar_rel)
        issues.extend(found_issues)
        sources.append((sidecar_rel, extra))
    values = HeaderValues(*sources)
    modality = values["Modality"].value if "Modality" in values else None
    item = HarvestedImage(
        kind="nifti",
        paths=[rel],
        modality=str(modality) if modality else None,
        subject=nifti_stem(rel),
        folder=os.path.dirname(rel).replace(os.sep, "/") or ".",
        values=values,
        sidecar=sidecar_rel,
        inspected={rel: inspected} if inspect is not None else {},
    )
    return item, issues


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse_header(content: _Content) -> Any:
    """The nibabel header (with its extensions) of a file :func:`_problems` accepted."""
    import nibabel as nib

    head = content.prefix(540)
    two = struct.unpack("<i", head[:4])[0] == 540 or struct.unpack(">i", head[:4])[0] == 540
    klass: Any = nib.Nifti2Header if two else nib.Nifti1Header
    return klass.from_fileobj(io.BytesIO(content.prefix(_vox_offset(head, two))))


def read_nifti_header(path: str | os.PathLike[str]) -> Any:
    """The header and extensions of a NIfTI file, in one bounded read (never the image data).

    Raises one of :func:`nifti_errors` (``HeaderDataError`` for an inconsistent header)."""
    from nibabel.spatialimages import HeaderDataError

    with open(path, "rb") as fh:
        content = _Content(fh)
        problems = _problems(content)
        if problems:
            field, found, reason = problems[0]
            raise HeaderDataError(f"{field} = {found}: {reason}")
        return _parse_header(content)


def _vox_offset(head: bytes, two: bool) -> int:
    """Where the image data starts, from a header :func:`_problems` accepted (so it is sane)."""
    endian = "<" if struct.unpack("<i", head[:4])[0] in (348, 540) else ">"
    if two:
        return int(struct.unpack(f"{endian}q", head[168:176])[0])
    return int(struct.unpack(f"{endian}f", head[108:112])[0])


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
