"""Unit parsing: one shared pint registry and conversion of config quantities to SI floats."""

from __future__ import annotations

import math
import re
from numbers import Real

import pint

from .errors import ScenarioError

ureg = pint.UnitRegistry()  # mM, uM (millimolar = mmol/L) and the micro prefix "u" are pint built-ins

#: dimension name -> (SI unit used for resolved output, example for messages)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "dimensionless": ("", "4.5"),
    "length": ("m", "18 um"),
    "area": ("m^2", "5 cm^2"),
    "volume": ("m^3", "77 L"),
    "time": ("s", "10 min"),
    "mass": ("kg", "100 mg"),
    "concentration": ("mol/m^3", "140 mM"),
    "mass_concentration": ("kg/m^3", "1 ug/mL"),
    "current": ("A", "1.77 mA"),
    "current_density": ("A/m^2", "0.354 mA/cm^2"),
    "charge": ("C", "17.7 mA.min"),
    "volume_per_charge": ("m^3/C", "2.1e-9 m^3/C"),
    "rate": ("1/s", "1e-4 1/s"),
    "temperature": ("K", "310.15 K"),
    "voltage": ("V", "10 V"),
    "molar_mass": ("kg/mol", "300 g/mol"),
    "diffusivity": ("m^2/s", "6e-10 m^2/s"),
}

_DOT_PRODUCT = re.compile(r"(?<=[A-Za-zµμ])\.(?=[A-Za-zµμ])")  # "mA.min" -> "mA*min"
_UNIT_POWER = re.compile(r"\b([A-Za-zµμ]+)(\d+)\b")  # "cm2" -> "cm^2" (not "1e3")


def _clean(x: float) -> float:
    """Drop binary noise from unit conversion (139.99999999999997 -> 140.0)."""
    return float(f"{x:.15g}")


def _dimensionality(dimension: str):
    try:
        unit = DIMENSIONS[dimension][0]
    except KeyError:
        raise ValueError(f"unknown dimension {dimension!r}; known: {', '.join(DIMENSIONS)}") from None
    return ureg.Quantity(f"1 {unit}").dimensionality


def _describe(q: pint.Quantity) -> str:
    dims = str(q.dimensionality)
    return "a pure number" if dims == "dimensionless" else f"{q.units:~} ({dims})"


def parse_text(text: str) -> pint.Quantity:
    """Parse a quantity string ('18 um', '0.354 mA/cm2', '17.7 mA.min') into a pint Quantity."""
    expr = _UNIT_POWER.sub(r"\1^\2", _DOT_PRODUCT.sub("*", text.strip()))
    q = ureg.Quantity(expr)
    if not isinstance(q, pint.Quantity):  # a bare number string
        q = ureg.Quantity(float(q))
    return q


def to_si(value: object, dimension: str) -> float:
    """Convert a number or quantity string to an SI float; raises ValueError with the reason."""
    example = DIMENSIONS[dimension][1] if dimension in DIMENSIONS else ""
    expected = "pure number" if dimension == "dimensionless" else dimension.replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise ValueError(f"expected a {expected} such as '{example}', got {value!r}")
    if isinstance(value, Real):
        if dimension != "dimensionless":
            raise ValueError(f"{value!r} has no units; expected a {expected} such as '{example}'")
        result = float(value)
    else:
        try:
            q = parse_text(value)
        except Exception as exc:  # pint raises several unrelated types
            raise ValueError(f"cannot read {value!r} as a quantity ({exc})") from None
        if dimension == "temperature":
            result = _kelvin(q, value)
        elif q.dimensionality != _dimensionality(dimension):
            if q.unitless and dimension != "dimensionless":
                raise ValueError(f"{value!r} has no units; expected a {expected} such as '{example}'")
            raise ValueError(f"expected a {expected} such as '{example}', got {value!r}, which is {_describe(q)}")
        else:
            result = float(q.to_base_units().magnitude)
    if not math.isfinite(result):
        raise ValueError(f"{value!r} is not a finite number")
    return _clean(result)


def _kelvin(q: pint.Quantity, text: str) -> float:
    if q.unitless:
        raise ValueError(f"{text!r} has no units; expected a temperature such as '310.15 K'")
    if q.dimensionality != ureg.kelvin.dimensionality:
        raise ValueError(f"expected a temperature such as '310.15 K', got {text!r}, which is {_describe(q)}")
    if q.units != ureg.kelvin:
        raise ValueError(
            f"temperature must be written in plain K (e.g. '310.15 K'), got {text!r}; "
            "degC/degF are refused to avoid offset-scale mistakes"
        )
    return float(q.magnitude)


def parse_quantity(value: object, dimension: str, field: str) -> float:
    """Return ``value`` in SI units (m, s, kg, mol/m^3, A, A/m^2, m^2, m^3, m^3/C, 1/s, K).

    ``dimension`` is a key of DIMENSIONS; a bare number is accepted only for 'dimensionless'.
    Raises ScenarioError(field, reason).
    """
    try:
        return to_si(value, dimension)
    except ValueError as exc:
        raise ScenarioError(field, str(exc)) from None


def si_unit(dimension: str) -> str:
    """The SI unit string used when writing a resolved quantity of ``dimension``."""
    return DIMENSIONS[dimension][0]


def format_si(value: float, dimension: str) -> str | float:
    """'1.8e-05 m' for a length; a plain float for dimensionless values."""
    unit = si_unit(dimension)
    return float(value) if not unit else f"{float(value)!r} {unit}"


def duration_text(seconds: float) -> str:
    """A duration for people, the one way titles, the terminal and messages write it: "250 ms",
    "45 s", "10 min", "6.67 h"."""
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
