"""Which DICOM attributes the harvest reads, their units, and how a value becomes a raw value.

Values keep DICOM's own units (ms for TR/TE, mm, T, kV, mA, mA.s, Bq); converting to a profile's unit
is done when values are mapped to profile fields. Multi-valued attributes: Pixel Spacing gives the row
spacing under ``PixelSpacing`` (and the column spacing under ``PixelSpacing[1]`` when it differs);
other multi-valued attributes are joined with a backslash, DICOM's own separator.

Enhanced (multi-frame) objects keep acquisition parameters in functional groups: attributes absent
from the top level are looked up in the standard macros of SharedFunctionalGroupsSequence, then of
the first item of PerFrameFunctionalGroupsSequence (per-frame values may vary; the first frame's is
taken).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import PersonName

from isaprofile.harvest.dicom_flat import FlatError, sequence_value, tag_key
from isaprofile.harvest.types import RawValues
from isaprofile.model import Term

# keyword -> unit symbol (None: no unit)
COMMON: dict[str, str | None] = {
    "Modality": None, "Manufacturer": None, "ManufacturerModelName": None, "SoftwareVersions": None,
    "Rows": None, "Columns": None, "NumberOfFrames": None, "PixelSpacing": "mm", "SliceThickness": "mm",
    "SpacingBetweenSlices": "mm", "ImageOrientationPatient": None, "StudyInstanceUID": None,
    "SeriesInstanceUID": None, "SOPInstanceUID": None, "SeriesNumber": None, "StudyDate": None,
    "StudyDescription": None, "SeriesDescription": None, "PatientID": None, "PatientWeight": "kg",
    "BodyPartExamined": None, "SamplesPerPixel": None, "BitsAllocated": None, "PhotometricInterpretation": None,
}  # fmt: skip
CT: dict[str, str | None] = {
    "KVP": "kV", "XRayTubeCurrent": "mA", "Exposure": "mA.s", "ExposureTime": "ms", "ConvolutionKernel": None,
    "FilterType": None, "ReconstructionDiameter": "mm", "ContrastBolusAgent": None, "FocalSpots": "mm",
}  # fmt: skip
MR: dict[str, str | None] = {
    "MagneticFieldStrength": "T", "RepetitionTime": "ms", "EchoTime": "ms", "EffectiveEchoTime": "ms",
    "InversionTime": "ms", "InversionTimes": "ms", "FlipAngle": "deg", "ScanningSequence": None,
    "SequenceVariant": None, "SequenceName": None, "PulseSequenceName": None, "MRAcquisitionType": None,
    "ReceiveCoilName": None, "TransmitCoilName": None, "NumberOfAverages": None, "EchoTrainLength": None,
}  # fmt: skip
PET: dict[str, str | None] = {
    "Units": None, "DecayCorrection": None, "ReconstructionMethod": None, "AttenuationCorrectionMethod": None,
    "CorrectedImage": None,
}  # fmt: skip
RADIOPHARMACEUTICAL: dict[str, str | None] = {
    "Radiopharmaceutical": None, "RadionuclideTotalDose": "Bq", "RadionuclideHalfLife": "s",
    "RadiopharmaceuticalStartTime": None, "RadiopharmaceuticalStartDateTime": None,
    "RadiopharmaceuticalVolume": "mL", "RadiopharmaceuticalRoute": None,
}  # fmt: skip
CODES_IN_RADIOPHARMACEUTICAL = ("RadionuclideCodeSequence", "RadiopharmaceuticalCodeSequence")
ATTRIBUTES: dict[str, str | None] = {**COMMON, **CT, **MR, **PET}
FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def tag_path(keyword: str) -> str:
    """``(gggg,eeee) Keyword`` for a keyword of the DICOM dictionary."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}"


def _tag_of(elem_tag: int) -> str:
    return f"({elem_tag >> 16:04X},{elem_tag & 0xFFFF:04X})"


def _scalar(val: Any) -> str | int | float | None:
    """A DICOM element value as a str/int/float, or None when empty."""
    if val is None or val == "":
        return None
    if isinstance(val, bytes):
        return None  # binary (OB/UN) values are not harvested
    if isinstance(val, PersonName):
        return None  # never harvest names
    if isinstance(val, bool):
        return val
    if isinstance(val, int):
        return int(val)
    if isinstance(val, float):
        return float(val)
    text = str(val).strip()
    return text or None


def convert(keyword: str, val: Any, unit: str | None, path: str, out: RawValues) -> None:
    """Add the element value ``val`` of ``keyword`` to ``out`` as one or two raw values."""
    if isinstance(val, MultiValue | list | tuple):
        scalars = [_scalar(v) for v in val]
        items = [v for v in scalars if v is not None]
        if not items:
            return
        if keyword == "PixelSpacing":
            out[keyword] = (items[0], unit, f"{path}[0]")
            if len(items) > 1 and items[1] != items[0]:
                out[f"{keyword}[1]"] = (items[1], unit, f"{path}[1]")
            return
        if len(items) == 1:
            out[keyword] = (items[0], unit, path)
        else:
            out[keyword] = ("\\".join(_text(v) for v in items), unit, path)
        return
    value = _scalar(val)
    if value is not None:
        out[keyword] = (value, unit, path)


def _text(v: str | int | float) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_attributes(ds: Dataset, keywords: dict[str, str | None], out: RawValues, prefix: str = "") -> None:
    """Read ``keywords`` present in ``ds`` into ``out``; ``prefix`` is the path of ``ds`` in its file."""
    for keyword, unit in keywords.items():
        if keyword in out:
            continue
        elem = ds.get(keyword)
        if elem is None:
            continue
        convert(keyword, elem, unit, prefix + tag_path(keyword), out)


@cache
def _srt_to_sct() -> dict[str, str]:
    """Legacy SNOMED RT (``SRT``) code values → SNOMED CT concept ids, from pydicom's copy of the
    DICOM PS3.16 SNOMED mapping (``pydicom.sr._snomed_dict``); empty when pydicom lacks it."""
    try:
        from pydicom.sr._snomed_dict import mapping
    except ImportError:
        return {}
    return dict(mapping.get("SRT", {}))


def srt_to_sct(value: str) -> str | None:
    """The SNOMED CT concept id of the legacy SRT code ``value`` (``T-62000`` → ``10200004``), or None."""
    return _srt_to_sct().get(value)


def code_term(item: Dataset) -> Term | None:
    """A coded entry (CodeValue/CodingSchemeDesignator/CodeMeaning) as a Term.

    Schemes: ``SCT`` (SNOMED CT) becomes source ``SNOMED`` with accession ``SNOMED:<id>`` (the prefix
    :attr:`isaprofile.model.Term.iri` resolves to snomed.info). Legacy ``SRT`` (SNOMED RT) codes, which
    DICOM retired in favour of SCT and which older SEG files still carry (``T-62000`` liver), become their
    SNOMED CT equivalent through DICOM's SRT→SCT mapping; an SRT code without an equivalent stays
    ``SRT``. Every other scheme designator (``DCM``, ``UMLS``, ...) is kept as the source and the
    accession prefix.
    """
    meaning = _scalar(item.get("CodeMeaning"))
    value = _scalar(item.get("CodeValue")) or _scalar(item.get("LongCodeValue")) or _scalar(item.get("URNCodeValue"))
    scheme = _scalar(item.get("CodingSchemeDesignator"))
    if meaning is None and value is None:
        return None
    if scheme == "SRT" and value is not None and (sct := srt_to_sct(str(value))) is not None:
        scheme, value = "SCT", sct
    source = "SNOMED" if scheme == "SCT" else scheme
    label = str(meaning if meaning is not None else value)
    accession = f"{source}:{value}" if source and value is not None else None
    return Term(label, str(source) if source else None, accession)


def read_code(ds: Dataset, keyword: str, out: RawValues, prefix: str = "") -> None:
    """Add the first item of the code sequence ``keyword`` of ``ds`` as a Term."""
    seq = ds.get(keyword)
    if not seq:
        return
    term = code_term(seq[0])
    if term is not None:
        out[keyword] = (term, None, f"{prefix}{tag_path(keyword)}[0]")


def read_functional_groups(ds: Dataset, keywords: Iterable[str], out: RawValues) -> None:
    """Fill ``keywords`` missing from ``out`` from the standard macros of the functional groups.

    The groups are read as :mod:`isaprofile.harvest.dicom_flat` items when their bytes allow it, else as
    pydicom's Datasets (the same values either way)."""
    keywords = list(keywords)
    found = dict(out)
    try:
        _functional_groups(ds, sequence_value, keywords, found)
    except FlatError:
        found = dict(out)
        _functional_groups(ds, lambda d, k: d.get(k), keywords, found)
    out.update(found)


def _functional_groups(ds: Dataset, get: Any, keywords: Iterable[str], out: RawValues) -> None:
    missing = {k: ATTRIBUTES[k] for k in keywords if k not in out}
    if not missing:
        return
    for group_kw in FUNCTIONAL_GROUPS:
        groups = get(ds, group_kw)
        if not groups:
            continue
        group = groups[0]
        group_path = f"{tag_path(group_kw)}[0]>"
        for elem in group:
            if elem.tag.is_private or elem.VR != "SQ" or not elem.value:
                continue
            macro = elem.value[0]
            macro_path = f"{group_path}{_tag_of(elem.tag)} {elem.keyword}[0]>"
            for keyword in [k for k in missing if k in macro]:
                convert(keyword, macro[keyword].value, missing.pop(keyword), macro_path + tag_path(keyword), out)
            if not missing:
                return


def read_radiopharmaceutical(ds: Dataset, out: RawValues) -> None:
    """Radiopharmaceutical, dose, start time and radionuclide of a PET object's first radiopharmaceutical."""
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    if not isinstance(seq, Sequence) or not seq:
        return
    prefix = f"{tag_path('RadiopharmaceuticalInformationSequence')}[0]>"
    read_attributes(seq[0], RADIOPHARMACEUTICAL, out, prefix)
    for keyword in CODES_IN_RADIOPHARMACEUTICAL:
        read_code(seq[0], keyword, out, prefix)


# Fast path: the top-level attributes are decoded from pydicom's raw elements directly (ASCII text,
# numbers, binary integers and floats), which is several times cheaper than pydicom's general value
# conversion; anything unusual (other VRs, other character sets, malformed numbers) goes through pydicom.
_ASCII_VRS = {"CS", "DS", "IS", "UI", "AS", "DA", "TM", "DT"}
_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC"}
_BINARY_VRS = {"US": ("H", 2), "SS": ("h", 2), "UL": ("L", 4), "SL": ("l", 4), "FL": ("f", 4), "FD": ("d", 8)}
_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}


def _known_tag(keyword: str) -> int:
    """The tag of ``keyword``, which must be in the DICOM dictionary (every keyword of the tables above is)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"not a DICOM keyword: {keyword}")
    return tag


_BY_TAG: dict[int, tuple[str, str | None, str, str]] = {
    _known_tag(k): (k, u, dictionary_VR(_known_tag(k)), tag_path(k)) for k, u in ATTRIBUTES.items()
}
_FALLBACK = object()
_RADIOPHARMACEUTICAL_TAG = tag_for_keyword("RadiopharmaceuticalInformationSequence")


def _charset(elem: Any) -> str | None:
    """The Python codec for a dataset's text (``elem``: its Specific Character Set element or None), when it is
    one the fast path handles, else None."""
    if elem is None:
        return "latin-1"
    raw = elem.value
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    if isinstance(raw, MultiValue | list):
        return None
    return _CHARSETS.get(str(raw or "").strip(" \0"))


def _decode(elem: RawDataElement, vr: str, codec: str | None) -> Any:
    """The value of a raw element, or ``_FALLBACK`` when pydicom should convert it."""
    data = elem.value
    if data is None:  # deferred or empty
        return _FALLBACK if elem.length else None
    if elem.VR is not None and elem.VR != vr:
        return _FALLBACK
    if vr in _BINARY_VRS:
        fmt, size = _BINARY_VRS[vr]
        if len(data) % size:
            return _FALLBACK
        numbers = struct.unpack(f"{'<' if elem.is_little_endian else '>'}{len(data) // size}{fmt}", data)
        return numbers[0] if len(numbers) == 1 else list(numbers)
    if vr in _ASCII_VRS:
        text = data.decode("latin-1")
    elif vr in _TEXT_VRS and codec is not None:
        text = data.decode(codec, "replace")
    else:
        return _FALLBACK
    parts = [p.strip(" \0") for p in text.split("\\")] if vr not in ("ST", "LT", "UT") else [text.strip(" \0")]
    vals: list[str | int | float]
    try:
        if vr == "DS":
            vals = [float(p) for p in parts if p]
        elif vr == "IS":
            vals = [int(p) for p in parts if p]
        else:
            vals = [p for p in parts if p]
    except ValueError:
        return _FALLBACK
    if not vals:
        return None
    return vals[0] if len(vals) == 1 else vals


_SEQ_TAGS = {_known_tag(k) for k in (*FUNCTIONAL_GROUPS, "RadiopharmaceuticalInformationSequence")}


_WANTED = frozenset(_BY_TAG)
# the same tags as shared BaseTag objects (dicom_flat.tag_key): a key of a dataset read by harvest.dicom_header
# is found in these by identity, without BaseTag.__eq__; any other key still matches by value
_WANTED_KEYS = frozenset(tag_key(t) for t in _WANTED)
_CHARSET_KEY = tag_key(0x00080005)
_SEQ_KEYS = frozenset(tag_key(t) for t in _SEQ_TAGS)
# Slices of one series repeat most attributes byte for byte: decoded results are kept per raw value.
_DECODED: dict[tuple, list[tuple[str, tuple]]] = {}
_DECODED_MAX = 4096


def read_top_level(ds: Dataset, out: RawValues) -> set[int]:
    """The top-level :data:`ATTRIBUTES` of ``ds`` into ``out``; returns the tags of sequences to read.

    One pass over the wanted elements without converting them (see the fast path above); an element
    whose raw bytes were decoded before (in another slice of the series) reuses that result.
    """
    present = ds.keys()
    # Dataset.get_item costs ~6 µs an element (tag normalisation, slices); the element mapping behind it,
    # present in pydicom 2 and 3, gives the same raw elements directly. Fall back to get_item otherwise.
    lookup = getattr(ds, "_dict", None)
    get = lookup.get if isinstance(lookup, dict) else ds.get_item
    charset = get(_CHARSET_KEY)
    if isinstance(charset, RawDataElement) and charset.value is None:
        charset = ds.get_item(_CHARSET_KEY)  # a deferred value: read as get_item reads it
    codec = _charset(charset)
    charset_key = charset.value if isinstance(charset, RawDataElement) else None
    # a dataset's own key objects (the shared ones for harvest.dicom_header's reads: found by identity), in tag order
    for dict_key in sorted((t for t in present if t in _WANTED_KEYS), key=int):
        tag = int(dict_key)
        keyword, unit, vr, path = _BY_TAG[tag]
        elem = get(dict_key)
        # only raw (undecoded) elements are cached, keyed by their bytes
        key: tuple | None = None
        if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
            key = (tag, elem.value, elem.VR, elem.is_little_endian, charset_key)
        hit = _DECODED.get(key) if key is not None else None
        if hit is not None:
            out.update(hit)
            continue
        added: RawValues = {}
        value = _decode(elem, vr, codec) if isinstance(elem, RawDataElement) else _FALLBACK
        if value is None:
            pass
        elif value is _FALLBACK:
            convert(keyword, ds[tag].value, unit, path, added)
        elif isinstance(value, str | float | int) and not isinstance(value, bool) and keyword != "PixelSpacing":
            added[keyword] = (value, unit, path)  # already stripped, non-empty
        else:
            convert(keyword, value, unit, path, added)
        out.update(added)
        if key is not None:
            if len(_DECODED) >= _DECODED_MAX:
                _DECODED.clear()
            _DECODED[key] = list(added.items())
    return {int(t) for t in present if t in _SEQ_KEYS}


def harvest_attributes(ds: Dataset) -> RawValues:
    """Every harvested attribute of ``ds`` (top level, functional groups, radiopharmaceutical)."""
    out: RawValues = {}
    sequences = read_top_level(ds, out)
    if sequences - {_RADIOPHARMACEUTICAL_TAG}:
        read_functional_groups(ds, ATTRIBUTES, out)
    if out.get("PatientWeight", (None,))[0] == 0:
        del out["PatientWeight"]  # 0 means "not known" in practice
    if "InversionTime" not in out and "InversionTimes" in out:
        val, unit, path = out["InversionTimes"]
        if isinstance(val, int | float):
            out["InversionTime"] = (val, unit, path)
    if _RADIOPHARMACEUTICAL_TAG in sequences:
        read_radiopharmaceutical(ds, out)
    return out
