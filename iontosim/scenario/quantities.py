"""Pydantic field types for quantities: parse config text to SI floats and check bounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import GetCoreSchemaHandler
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from .units import to_si


@dataclass(frozen=True)
class Dim:
    """Field metadata: the physical dimension of a float field (a key of units.DIMENSIONS)."""

    name: str


def _bounds_text(gt, ge, lt, le) -> str:
    if ge is not None and le is not None:
        return f"between {ge:g} and {le:g}"
    low = f"> {gt:g}" if gt is not None else (f">= {ge:g}" if ge is not None else "")
    high = f"< {lt:g}" if lt is not None else (f"<= {le:g}" if le is not None else "")
    return " and ".join(t for t in (low, high) if t)


#: The largest magnitude a value of each dimension may take, in SI units: far beyond any skin
#: iontophoresis set-up, so that an absurd finite value (a 1e300 m layer, a 1e300 A current) is
#: refused here, naming its field, instead of reaching the solver as an overflow.
PLAUSIBLE_MAGNITUDE: dict[str, tuple[float, str]] = {
    "length": (1.0, "1 m"),
    "area": (1.0, "1 m^2"),
    "volume": (10.0, "10 m^3"),
    "time": (3.2e7, "a year"),
    "mass": (1.0, "1 kg"),
    "concentration": (1e5, "100 M"),
    "mass_concentration": (1e4, "10 g/mL"),
    "current": (1.0, "1 A"),
    "current_density": (1e3, "100 mA/cm^2"),
    "charge": (1e5, "1e5 C"),
    "temperature": (400.0, "400 K"),
    "voltage": (1e3, "1 kV"),
}


def parser(
    dimension: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    what: str | None = None,
) -> Callable[[object], float]:
    """A function reading ``dimension`` to an SI float and checking bounds; raises ValueError(reason)."""

    def validate(value: object) -> float:
        x = to_si(value, dimension)
        bad = (
            (gt is not None and not x > gt)
            or (ge is not None and not x >= ge)
            or (lt is not None and not x < lt)
            or (le is not None and not x <= le)
        )
        if bad:
            if gt == 0 and lt is None and le is None:
                need = "must be positive"
            elif ge == 0 and lt is None and le is None:
                need = "must not be negative"
            else:
                need = f"must be {_bounds_text(gt, ge, lt, le)}"
            raise ValueError(f"{what or 'value'} {need}, got {value!r}")
        if dimension in PLAUSIBLE_MAGNITUDE and not abs(x) <= PLAUSIBLE_MAGNITUDE[dimension][0]:
            limit = PLAUSIBLE_MAGNITUDE[dimension][1]
            raise ValueError(
                f"{what or dimension.replace('_', ' ')} {value!r} is beyond any skin set-up (at most {limit} in size)"
            )
        return x

    return validate


@dataclass(frozen=True)
class SI(Dim):
    """Field metadata of a quantity, ``Annotated[float, SI("length", gt=0, what="length")]``: text in
    any unit of the dimension `name` becomes an SI float, its bounds checked (as `parser`). Written
    out in the annotation, so that type checkers see a float."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    what: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        read = parser(self.name, gt=self.gt, ge=self.ge, lt=self.lt, le=self.le, what=self.what)
        return core_schema.no_info_before_validator_function(read, handler(source))


def dimension_of(info: FieldInfo) -> str | None:
    """The Dim name attached to a field (directly, or inside Optional/list/dict), else None."""
    for meta in info.metadata:
        if isinstance(meta, Dim):
            return meta.name
    return _find_dim(info.annotation)


def _find_dim(annotation: Any) -> str | None:
    for arg in get_args(annotation):
        if isinstance(arg, Dim):
            return arg.name
        found = _find_dim(arg)
        if found:
            return found
    return None
