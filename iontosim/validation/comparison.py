"""Judging a simulated value against a published one, in the check's unit.

The verdicts:
- ``relative``: |sim - pub| <= tolerance.relative * |pub|
- ``absolute``: |sim - pub| <= tolerance.absolute
- ``within_range``: published low <= sim <= published high
- ``at_most`` / ``at_least``: sim <= pub / sim >= pub (a published upper or lower bound)
- ``greater_than`` / ``less_than``: sim > pub / sim < pub (a qualitative ordering, e.g. a ratio > 1)
- ``report_only``: nothing published to compare with; the simulated value is shown
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..scenario.units import parse_text
from .case import Check


def to_unit(text: str, unit: str) -> float:
    """A quantity text ('40 ug') as a number in `unit` ('' for a pure number). Raises ValueError."""
    q = parse_text(str(text))
    target = parse_text(f"1 {unit}") if unit else parse_text("1")
    if q.dimensionality != target.dimensionality:
        raise ValueError(f"{text!r} is not in units of {unit or 'a pure number'!r}")
    return float((q / target).to_base_units().magnitude)


def si_to_unit(value: float, si_unit: str, unit: str) -> float:
    """`value` in `si_unit` expressed in `unit`. Raises ValueError when the dimensions differ."""
    source = parse_text(f"1 {si_unit}") if si_unit not in ("", "1") else parse_text("1")
    target = parse_text(f"1 {unit}") if unit else parse_text("1")
    if source.dimensionality != target.dimensionality:
        raise ValueError(f"unit {unit!r} does not measure this quantity (its SI unit is {si_unit or '1'})")
    return value * float((source / target).to_base_units().magnitude)


@dataclass
class Verdict:
    passed: bool | None  # None: nothing to judge (report_only)
    published: str  # the published value as shown (check unit)
    published_value: float | None  # the number compared with (check unit); a range's midpoint
    relative_error: float | None  # (sim - pub) / |pub| where a published number exists
    tolerance: str  # the criterion as shown
    error_bar: tuple[float, float] | None = None  # published low/high for the picture (check unit)
    band: tuple[float, float] | None = None  # the values that pass (relative, absolute), for the picture
    bound: bool = False  # the published number is a bound or an ordering, drawn as a line


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _relative_tolerance(check: Check) -> float:
    tolerance = check.tolerance
    # Check._consistent: compare 'relative' has a tolerance, and a relative one (Tolerance._one: not both)
    assert tolerance is not None and tolerance.relative is not None
    return tolerance.relative


def _absolute_tolerance(check: Check) -> str:
    tolerance = check.tolerance
    # Check._consistent: compare 'absolute' has a tolerance, and an absolute one (Tolerance._one: not both)
    assert tolerance is not None and tolerance.absolute is not None
    return tolerance.absolute


def judge(check: Check, simulated: float) -> Verdict:
    """The verdict of `check` for `simulated` (a number in check.unit)."""
    pub, unit = check.published, check.unit
    shown_unit = f" {unit}" if unit else ""
    if pub.not_found is not None:
        return Verdict(None, "not published", None, None, "-")
    if pub.value is not None:
        value = to_unit(pub.value, unit)
        error = (simulated - value) / abs(value) if value != 0 else None
        bar = None
        shown = _fmt(value) + shown_unit
        if pub.uncertainty is not None:
            sigma = to_unit(pub.uncertainty, unit)
            bar = (value - sigma, value + sigma)
            shown = f"{_fmt(value)} ± {_fmt(sigma)}{shown_unit} ({pub.uncertainty_kind})"
    else:
        # Published._one_form: without a value (and found), a range with both ends
        assert pub.low is not None and pub.high is not None
        low, high = to_unit(pub.low, unit), to_unit(pub.high, unit)
        value = 0.5 * (low + high)
        error = None
        bar = (low, high)
        shown = f"{_fmt(low)} to {_fmt(high)}{shown_unit}"
    kind = check.compare
    band = None
    if kind == "relative":
        tol = _relative_tolerance(check)
        passed = error is not None and abs(error) <= tol
        criterion = f"±{tol * 100:.3g} %"
        band = (value - tol * abs(value), value + tol * abs(value))
    elif kind == "absolute":
        tol = to_unit(_absolute_tolerance(check), unit)
        passed = abs(simulated - value) <= tol
        criterion = f"±{_fmt(tol)}{shown_unit}"
        band = (value - tol, value + tol)
    elif kind == "within_range":
        assert bar is not None  # Check refuses 'within_range' without low and high
        passed = bar[0] <= simulated <= bar[1]
        criterion = "inside the published range"
    elif kind == "at_most":
        passed = simulated <= value
        criterion = f"<= {_fmt(value)}{shown_unit}"
        shown = f"at most {shown}"
    elif kind == "at_least":
        passed = simulated >= value
        criterion = f">= {_fmt(value)}{shown_unit}"
        shown = f"at least {shown}"
    elif kind == "greater_than":
        passed = simulated > value
        criterion = f"> {_fmt(value)}{shown_unit}"
        shown = f"> {shown}"
    elif kind == "less_than":
        passed = simulated < value
        criterion = f"< {_fmt(value)}{shown_unit}"
        shown = f"< {shown}"
    else:  # report_only with a published number: shown beside, not judged
        passed, criterion = None, "not judged"
    if not math.isfinite(simulated):
        passed = False if passed is not None else None
    bound = kind in ("at_most", "at_least", "greater_than", "less_than")
    return Verdict(passed, shown, value, error, criterion, bar, band, bound)
