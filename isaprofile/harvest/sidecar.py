"""JSON sidecars of NIfTI files (dcm2niix / BIDS): the acquisition keys the profiles use.

Only the keys listed in :data:`KEYS` are read, so identifying keys a sidecar may carry
(InstitutionName, StationName, AcquisitionDateTime, ...) never enter the harvest. BIDS times are in
seconds and are kept in seconds (the unit travels with the value); InjectedRadioactivity takes its
unit from InjectedRadioactivityUnits.
"""

from __future__ import annotations

import json
from typing import Any

from isaprofile.findings.issues import Issue, issue
from isaprofile.harvest.types import RawValues
from isaprofile.units import find_unit

# sidecar key -> unit symbol (None: no unit)
KEYS: dict[str, str | None] = {
    "Modality": None, "Manufacturer": None, "ManufacturersModelName": None, "SoftwareVersions": None,
    "MagneticFieldStrength": "T", "EchoTime": "s", "RepetitionTime": "s", "InversionTime": "s",
    "FlipAngle": "deg", "SliceThickness": "mm", "SpacingBetweenSlices": "mm", "ScanningSequence": None,
    "SequenceVariant": None, "SequenceName": None, "PulseSequenceName": None, "MRAcquisitionType": None,
    "ReceiveCoilName": None, "EchoTrainLength": None, "SeriesDescription": None, "ProtocolName": None,
    "BodyPartExamined": None, "ConvolutionKernel": None, "KVP": "kV", "XRayTubeCurrent": "mA",
    "XRayExposure": "mA.s", "ExposureTime": "s", "TracerName": None, "TracerRadionuclide": None,
    "InjectedRadioactivity": None, "InjectedMass": None, "RadionuclideTotalDose": "Bq", "Units": None,
    "DecayCorrection": None, "ReconstructionMethod": None, "AttenuationCorrection": None,
    "PatientWeight": "kg", "ImageDecayCorrected": None,
}  # fmt: skip
UNIT_KEYS = {"InjectedRadioactivity": "InjectedRadioactivityUnits", "InjectedMass": "InjectedMassUnits"}


def read_sidecar(path: str, rel: str) -> tuple[RawValues, list[Issue]]:
    """The known keys of the JSON sidecar at ``path`` as raw values (path ``$.<key>``), and findings."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        return {}, [issue("sidecar-unreadable", file=rel, reason=reason)]
    if not isinstance(data, dict):
        return {}, [issue("sidecar-unreadable", file=rel, reason="the top level is not a JSON object")]
    out: RawValues = {}
    for key, unit in KEYS.items():
        if key not in data:
            continue
        value = _scalar(data[key])
        if value is None:
            continue
        if key in UNIT_KEYS:
            unit = _unit(data.get(UNIT_KEYS[key]))
        out[key] = (value, unit, f"$.{key}")
    return out, []


def _unit(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    unit = find_unit(text)
    return unit.symbol if unit else None


def _scalar(val: Any) -> str | int | float | bool | None:
    """A JSON value as a scalar; lists of scalars are joined with a backslash; other values dropped."""
    if isinstance(val, bool | int):
        return val
    if isinstance(val, float):
        return val if val == val and val not in (float("inf"), float("-inf")) else None
    if isinstance(val, str):
        text = "".join(ch for ch in val if ch >= " " or ch == "\t").strip()
        return text or None
    if isinstance(val, list) and val and all(isinstance(v, str | int | float) for v in val):
        return "\\".join(str(v) for v in val)
    return None
