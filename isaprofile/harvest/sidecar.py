"""JSON sidecars of NIfTI files (dcm2niix / BIDS): the acquisition keys the profiles use.

Only the keys listed in :data:`KEYS` are read, so identifying keys a sidecar may carry
(InstitutionName, StationName, AcquisitionDateTime, ...) never enter the harvest. BIDS times are in
seconds and are kept in seconds (the unit travels with the value); InjectedRadioactivity takes its
unit from InjectedRadioactivityUnits.

:func:`load_json_bounded` is the one reader of small user JSON files (sidecars, ``labels.json``): nesting
deeper than :data:`MAX_JSON_DEPTH` and numbers longer than :data:`MAX_NUMBER_DIGITS` characters are
refused with their line and column before :func:`json.loads` sees the text, so neither a recursion error
nor a quadratic big-integer conversion can escape (``json-too-deep``, ``json-number-too-long``).
"""

from __future__ import annotations

import json
import re
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


MAX_JSON_DEPTH = 64  # arrays and objects inside each other
MAX_NUMBER_DIGITS = 100  # characters of one JSON number (a double has 17 significant digits)
# the tokens that matter for the limits: strings (skipped whole), brackets and numbers
_TOKEN = re.compile(rb'"(?:[^"\\]+|\\.)*"?|[\[\]{}]|-?[0-9][0-9.eE+-]*')


class JsonLimitError(ValueError):
    """A JSON text beyond a limit: ``code`` is the finding code, ``line``/``column`` where (1-based)."""

    def __init__(self, code: str, line: int, column: int, limit: int) -> None:
        super().__init__(f"{code} at line {line}, column {column}")
        self.code, self.line, self.column, self.limit = code, line, column, limit

    def issue(self, file: str) -> Issue:
        return issue(self.code, file=file, line=self.line, column=self.column, limit=self.limit)


def _where(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


def check_json_limits(raw: bytes) -> None:
    """Raise :class:`JsonLimitError` when ``raw`` nests too deep or holds a too-long number."""
    depth = 0
    for m in _TOKEN.finditer(raw):
        tok = m.group()
        first = tok[:1]
        if first in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise JsonLimitError("json-too-deep", *_where(raw, m.start()), MAX_JSON_DEPTH)
        elif first in (b"]", b"}"):
            depth -= 1
        elif first != b'"' and len(tok) > MAX_NUMBER_DIGITS:
            raise JsonLimitError("json-number-too-long", *_where(raw, m.start()), MAX_NUMBER_DIGITS)


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:  # check_json_limits finds these first; kept as the last guard
        raise JsonLimitError("json-number-too-long", 1, 1, MAX_NUMBER_DIGITS)
    return int(text)


def load_json_bounded(raw: bytes) -> Any:
    """``raw`` (UTF-8 JSON) decoded within the limits; raises :class:`JsonLimitError`,
    :class:`UnicodeDecodeError` or :class:`json.JSONDecodeError`."""
    check_json_limits(raw)
    return json.loads(raw.decode("utf-8"), parse_int=_bounded_int)


def read_sidecar(path: str, rel: str) -> tuple[RawValues, list[Issue]]:
    """The known keys of the JSON sidecar at ``path`` as raw values (path ``$.<key>``), and findings."""
    try:
        with open(path, "rb") as fh:
            data = load_json_bounded(fh.read())
    except JsonLimitError as exc:
        return {}, [exc.issue(rel)]
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
