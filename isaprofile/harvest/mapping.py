"""Map harvested header values (raw DICOM / NIfTI / sidecar names) to a profile's field keys.

Each profile field lists where it can be harvested from (``harvest: {dicom: KVP, sidecar: ...}``).
For a DICOM item the ``dicom`` keys are tried, for a NIfTI item the ``nifti`` then ``sidecar`` keys,
each in the order the profile lists them; the first present wins. A field harvested from both
``Rows`` and ``Columns`` gets the derived matrix size (``128x128x1``). Numbers are converted to the
field's unit when the units share a dimension (provenance is kept); otherwise they stay as read and
the validator reports the mismatch.
"""

from __future__ import annotations

from isaprofile.harvest.types import HarvestedImage, unit_term
from isaprofile.model import Value
from isaprofile.profile.model import Field, Profile
from isaprofile.units import convert, find_unit

# DICOM Modality (0008,0060) -> the assay key profiles use
MODALITY_KEYS = {"MR": "MRI", "CT": "CT", "PT": "PET", "NM": "NM", "US": "US", "SEG": "SEG"}
_SOURCES = {"dicom-series": ("dicom",), "dicom-seg": ("dicom",), "nifti": ("nifti", "sidecar")}
_COMBINED: dict[tuple[str, ...], str] = {("Rows", "Columns"): "MatrixSize"}


def profile_modality(item: HarvestedImage) -> str | None:
    """The profile's assay key for the item's DICOM / sidecar modality (``MR`` -> ``MRI``)."""
    if item.modality is None:
        return None
    return MODALITY_KEYS.get(item.modality.upper(), item.modality)


def to_profile_values(
    item: HarvestedImage,
    profile: Profile,
    entity: str = "scan",
    modality: str | None = None,
    *,
    convert_units: bool = True,
) -> dict[str, Value]:
    """The item's values keyed by the profile's field keys, for the fields of ``entity``.

    ``modality`` (the profile's assay key, e.g. ``MRI``) restricts the fields to those that apply to
    it; by default it is derived from the item (:func:`profile_modality`). Fields without a harvested
    value are absent from the result.
    """
    modality = modality if modality is not None else profile_modality(item)
    fields = profile.fields_for(entity, modality if modality in profile.assays else None)
    out: dict[str, Value] = {}
    for fld in fields:
        value = _lookup(item, fld)
        if value is None:
            continue
        out[fld.key] = _in_unit(value, fld) if convert_units else value
    return out


def _lookup(item: HarvestedImage, fld: Field) -> Value | None:
    for kind in _SOURCES[item.kind]:
        keys = tuple(k for source, k in fld.harvest if source == kind)
        if not keys:
            continue
        combined = _COMBINED.get(keys)
        if combined is not None and combined in item.values:
            return item.values[combined]
        for key in keys:
            if key in item.values:
                return item.values[key]
    return None


def _in_unit(value: Value, fld: Field) -> Value:
    target = fld.unit
    if target is None or value.unit is None or not isinstance(value.value, int | float):
        return value
    if isinstance(value.value, bool):
        return value
    source = find_unit(value.unit.accession or value.unit.label)
    if source is None or source.dimension != target.dimension or source == target:
        return value
    return Value(convert(float(value.value), source, target), unit_term(target.symbol), value.provenance)
