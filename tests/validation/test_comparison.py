"""Verdicts: each kind of comparison passes and fails where it should (iontosim/validation/comparison.py)."""

from __future__ import annotations

import pytest

from iontosim.validation.case import Check
from iontosim.validation.comparison import judge, si_to_unit, to_unit


def check(compare: str, published: dict, tolerance: dict | None = None, unit: str = "ug") -> Check:
    data = {
        "id": "c",
        "what": "a simulated quantity",
        "quantity": "drug_delivered",
        "scenario": "s",
        "unit": unit,
        "published": {"source": "IONSYS_LABEL", "tag": "QUOTE", **published},
        "compare": compare,
    }
    if tolerance is not None:
        data["tolerance"] = {"basis": "stated for the test", **tolerance}
    return Check.model_validate(data)


def test_relative_tolerance_in_the_checks_unit():
    c = check("relative", {"value": "0.04 mg"}, {"relative": 0.25})  # published in mg, checked in ug
    assert judge(c, 49.9).passed and judge(c, 30.1).passed
    assert not judge(c, 50.1).passed and not judge(c, 29.9).passed
    assert judge(c, 50.0).relative_error == pytest.approx(0.25)


def test_absolute_and_range_and_bounds():
    a = check(
        "absolute",
        {"value": "2.7 uL/cm^2/h", "uncertainty": "1.3 uL/cm^2/h", "uncertainty_kind": "SD"},
        {"absolute": "1.3 uL/cm^2/h"},
        unit="uL/cm^2/h",
    )
    assert judge(a, 1.5).passed and not judge(a, 1.3).passed
    assert judge(a, 2.0).error_bar == pytest.approx((1.4, 4.0))
    r = check("within_range", {"low": "1 kohm*cm^2", "high": "100 kohm*cm^2"}, unit="kohm*cm^2")
    assert judge(r, 7.0).passed and not judge(r, 0.5).passed and not judge(r, 150.0).passed
    assert judge(check("at_most", {"value": "10 ug"}), 10.0).passed
    assert not judge(check("less_than", {"value": "10 ug"}), 10.0).passed
    assert judge(check("greater_than", {"value": "1"}, unit=""), 1.01).passed
    assert not judge(check("at_least", {"value": "1 ug"}), 0.99).passed


def test_nothing_published_is_not_judged():
    c = check("report_only", {"tag": "NOT FOUND", "not_found": "section not retrieved"})
    v = judge(c, 3.0)
    assert v.passed is None and v.published == "not published"


def test_a_non_finite_simulation_fails():
    assert judge(check("at_most", {"value": "10 ug"}), float("nan")).passed is False


def test_units():
    assert to_unit("40 ug", "mg") == pytest.approx(0.04)
    assert si_to_unit(7.56e-9, "m/s", "uL/cm^2/h") == pytest.approx(2.7216)
    assert si_to_unit(0.1, "ohm*m^2", "kohm*cm^2") == pytest.approx(1.0)
    with pytest.raises(ValueError):
        to_unit("40 ug", "mm")
