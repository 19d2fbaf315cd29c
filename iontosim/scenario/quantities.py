"""Pydantic field types for quantities: parse config text to SI floats and check bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, get_args

from pydantic import BeforeValidator
from pydantic.fields import FieldInfo

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


def parser(dimension: str, *, gt: float | None = None, ge: float | None = None,
           lt: float | None = None, le: float | None = None, what: str | None = None) -> Callable[[object], float]:
    """A function reading ``dimension`` to an SI float and checking bounds; raises ValueError(reason)."""

    def validate(value: object) -> float:
        x = to_si(value, dimension)
        bad = ((gt is not None and not x > gt) or (ge is not None and not x >= ge)
               or (lt is not None and not x < lt) or (le is not None and not x <= le))
        if bad:
            if gt == 0 and lt is None and le is None:
                need = "must be positive"
            elif ge == 0 and lt is None and le is None:
                need = "must not be negative"
            else:
                need = f"must be {_bounds_text(gt, ge, lt, le)}"
            raise ValueError(f"{what or 'value'} {need}, got {value!r}")
        return x

    return validate


def quantity(dimension: str, **bounds: Any) -> Any:
    """``Annotated[float, ...]`` field type: text in any unit of ``dimension`` -> SI float (bounds as parser)."""
    return Annotated[float, BeforeValidator(parser(dimension, **bounds)), Dim(dimension)]


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
