"""Quantity parsing to SI floats."""

import pytest

from iontosim.scenario import ScenarioError, parse_quantity


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("18 um", "length", 18e-6),
        ("2 mm", "length", 2e-3),
        ("5 cm^2", "area", 5e-4),
        ("5 cm2", "area", 5e-4),
        ("77 L", "volume", 0.077),
        ("10 min", "time", 600.0),
        ("1.6 h", "time", 5760.0),
        ("100 mg", "mass", 1e-4),
        ("140 mM", "concentration", 140.0),
        ("5 uM", "concentration", 5e-3),
        ("-100 mM", "concentration", -100.0),
        ("1 ug/mL", "mass_concentration", 1e-3),
        ("1.77 mA", "current", 1.77e-3),
        ("170 uA", "current", 170e-6),
        ("0.354 mA/cm^2", "current_density", 3.54),
        ("0.354 mA/cm2", "current_density", 3.54),
        ("17.7 mA.min", "charge", 1.062),
        ("2.1e-9 m^3/C", "volume_per_charge", 2.1e-9),
        ("5.0e-4 1/s", "rate", 5e-4),
        ("310.15 K", "temperature", 310.15),
        (4.5, "dimensionless", 4.5),
        ("1e-3", "dimensionless", 1e-3),
    ],
)
def test_parse_to_si(text, dimension, expected):
    assert parse_quantity(text, dimension, "x") == pytest.approx(expected, rel=1e-12)


def test_conversion_noise_is_removed():
    assert parse_quantity("140 mM", "concentration", "x") == 140.0
    assert parse_quantity("18 um", "length", "x") == 1.8e-5


@pytest.mark.parametrize("value", [18, 18.0, "18"])
def test_bare_number_for_dimensioned_field(value):
    with pytest.raises(ScenarioError) as info:
        parse_quantity(value, "length", "skin[0].thickness")
    assert info.value.field == "skin[0].thickness"
    assert "has no units" in info.value.reason and "length such as '18 um'" in info.value.reason


def test_wrong_dimension_names_expected_and_given():
    with pytest.raises(ScenarioError) as info:
        parse_quantity("18 mA", "length", "skin[0].thickness")
    assert "expected a length" in info.value.reason and "'18 mA'" in info.value.reason
    assert "[current]" in info.value.reason
    assert str(info.value) == f"skin[0].thickness: {info.value.reason}"


@pytest.mark.parametrize("text", ["37 degC", "98.6 degF"])
def test_offset_temperature_refused(text):
    with pytest.raises(ScenarioError, match="plain K"):
        parse_quantity(text, "temperature", "temperature")


@pytest.mark.parametrize("value", ["abc um", True, [1, 2], None, "nan m"])
def test_unreadable(value):
    with pytest.raises(ScenarioError):
        parse_quantity(value, "length", "f")


def test_dimensionless_rejects_units():
    with pytest.raises(ScenarioError, match="pure number"):
        parse_quantity("5 m", "dimensionless", "skin[0].pH")
