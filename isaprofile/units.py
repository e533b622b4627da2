"""Units the profiles use: UO terms with their UCUM symbol, and conversion between them.

Only units of the same dimension convert. A unit is found by its UO label, UCUM symbol or a common
spelling (``kg``, ``Kilogram``, ``msec``), so sheet headers such as ``Weight [kg]`` resolve.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unit:
    label: str  # the UO label, e.g. "millisecond"
    symbol: str  # UCUM code, e.g. "ms"
    accession: str | None  # UO CURIE when UO has the unit, else None (see docs/profiles.md)
    dimension: str
    factor: float  # multiply by this to get the dimension's base unit

    @property
    def iri(self) -> str | None:
        if self.accession is None:
            return None
        prefix, local = self.accession.split(":", 1)
        return f"http://purl.obolibrary.org/obo/{prefix}_{local}"


_UNITS = [
    Unit("second", "s", "UO:0000010", "time", 1.0),
    Unit("millisecond", "ms", "UO:0000028", "time", 1e-3),
    Unit("minute", "min", "UO:0000031", "time", 60.0),
    Unit("hour", "h", "UO:0000032", "time", 3600.0),
    Unit("day", "d", "UO:0000033", "time", 86400.0),
    Unit("week", "wk", "UO:0000034", "time", 604800.0),
    Unit("year", "a", "UO:0000036", "time", 31557600.0),
    Unit("metre", "m", "UO:0000008", "length", 1.0),
    Unit("centimetre", "cm", "UO:0000015", "length", 1e-2),
    Unit("millimetre", "mm", "UO:0000016", "length", 1e-3),
    Unit("micrometre", "um", "UO:0000017", "length", 1e-6),
    Unit("kilogram", "kg", "UO:0000009", "mass", 1.0),
    Unit("gram", "g", "UO:0000021", "mass", 1e-3),
    Unit("milligram", "mg", "UO:0000022", "mass", 1e-6),
    Unit("tesla", "T", "UO:0000228", "magnetic flux density", 1.0),
    Unit("degree", "deg", "UO:0000185", "plane angle", 1.0),
    Unit("percent", "%", "UO:0000187", "ratio", 1e-2),
    Unit("millilitre", "mL", "UO:0000098", "volume", 1e-3),
    Unit("microlitre", "uL", "UO:0000101", "volume", 1e-6),
    Unit("kilovolt", "kV", "UO:0000248", "voltage", 1e3),
    Unit("volt", "V", "UO:0000218", "voltage", 1.0),
    Unit("milliampere", "mA", "UO:0000037", "current", 1e-3),
    Unit("milliampere second", "mA.s", None, "charge", 1e-3),
    Unit("becquerel", "Bq", "UO:0000132", "activity", 1.0),
    Unit("megabecquerel", "MBq", None, "activity", 1e6),
    Unit("millicurie", "mCi", None, "activity", 3.7e7),
    Unit("millimole per kilogram", "mmol/kg", None, "dose per mass", 1e-3),
    Unit("micromole per kilogram", "umol/kg", None, "dose per mass", 1e-6),
    Unit("milligram per kilogram", "mg/kg", None, "mass per mass", 1e-6),
    Unit("kilogram per square metre", "kg/m2", None, "mass per area", 1.0),
    Unit("nanogram per millilitre", "ng/mL", None, "mass concentration", 1e-9 / 1e-6),
    Unit("month", "mo", "UO:0000035", "time", 2629800.0),
]

_ALIASES = {
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "msec": "ms",
    "milliseconds": "ms",
    "mins": "min",
    "minutes": "min",
    "hours": "h",
    "hr": "h",
    "days": "d",
    "weeks": "wk",
    "week": "wk",
    "w": "wk",
    "years": "a",
    "yr": "a",
    "y": "a",
    "months": "mo",
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "micrometer": "um",
    "µm": "um",
    "grams": "g",
    "gr": "g",
    "kilograms": "kg",
    "deg.": "deg",
    "°": "deg",
    "degrees": "deg",
    "kvp": "kV",
    "mas": "mA.s",
    "ma*s": "mA.s",
    "ms*ma": "mA.s",
    "ml": "mL",
    "µl": "uL",
    "ul": "uL",
    "mbq": "MBq",
    "percent": "%",
    "pct": "%",
    "µmol/kg": "umol/kg",
    "kg/m^2": "kg/m2",
}


def _index() -> dict[str, Unit]:
    out: dict[str, Unit] = {}
    for u in _UNITS:
        for key in (u.label, u.symbol, u.accession):
            if key:
                out[key.lower()] = u
        out[u.label.replace("metre", "meter").lower()] = u
        out[u.label.replace("litre", "liter").lower()] = u
    for alias, symbol in _ALIASES.items():
        out[alias.lower()] = out[symbol.lower()]
    return out


_BY_NAME = _index()


def find_unit(name: str) -> Unit | None:
    """The unit called ``name`` (UO label, UCUM symbol, UO CURIE or common spelling), or None."""
    return _BY_NAME.get(name.strip().lower())


def convert(value: float, source: Unit, target: Unit) -> float:
    """``value`` in ``source`` expressed in ``target``; ``ValueError`` across dimensions."""
    if source.dimension != target.dimension:
        raise ValueError(f"cannot convert {source.label} to {target.label}")
    if source == target:
        return value
    out = value * source.factor / target.factor
    return float(f"{out:.12g}")  # keep 0.001 * 1000 == 1.0 exact for readers
