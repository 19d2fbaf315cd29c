"""The terminal summary for people: labels with units, n/a and NaN spelled out, the protocol."""

from __future__ import annotations

import math

import pytest

import iontosim
from iontosim.output.terminal import BALANCE_WARNING, balance_warnings, summary_lines

BASE = {
    "scenario": "lidocaine_epinephrine",
    "drug": "lidocaine",
    "drug_delivered_ug_per_cm2": 134.0,
    "drug_delivered_ug": 670.0,
    "charge_mC_per_cm2": 212.4,
    "mean_drug_transport_number": 0.231,
    "peak_voltage_V": -3.76,
    "skin_resistance_kohm_cm2": 8.57,
    "peak_plasma_concentration_ng_per_mL": 3.81,
    "mass_balance_relative_error": 6.1e-8,
    "charge_balance_relative_error": 4.7e-8,
    "wall_time_s": 1.7,
}


def _text(summary, scenario=None) -> str:
    """The lines, each with its runs of spaces (the label column's padding) made one."""
    return "\n".join(" ".join(line.split()) for line in summary_lines(summary, scenario))


def test_delivered_per_cm2_and_over_the_patch_with_units():
    text = _text(BASE)
    assert "lidocaine delivered 134 µg/cm² (670 µg over 5 cm²)" in text
    assert "-3.76 V peak, donor to deep tissue" in text  # signed, and says which voltage
    assert "8.57 kΩ·cm²" in text and "_" not in text.replace("lidocaine_epinephrine", "")


def test_no_current_is_not_a_number():
    text = _text(BASE | {"charge_mC_per_cm2": 0.0, "mean_drug_transport_number": math.nan})
    assert "transport number n/a (no current)" in text
    assert "nan" not in text.lower() and "skin voltage" not in text


def test_acid_and_a_species_without_plasma_model():
    saline = iontosim.load("metal_electrode_saline")
    text = _text(BASE | {"drug": "H+", "scenario": saline.name}, saline)
    assert "acid (H+) delivered" in text
    assert "plasma peak not modelled (no systemic section for H+)" in text
    assert text.splitlines()[0] == "metal_electrode_saline: 2 mA × 22 min, then 10 min passive"


@pytest.mark.parametrize("value, warned", [(math.nan, True), (10 * BALANCE_WARNING, True), (1e-8, False)])
def test_balance_errors_nan_shown_and_large_warned(value, warned):
    summary = BASE | {"mass_balance_relative_error": value}
    assert ("NaN" in _text(summary)) == math.isnan(value)
    assert bool(balance_warnings(summary)) == warned


@pytest.mark.parametrize(
    "name, text",
    [
        ("lidocaine_epinephrine", "1.77 mA × 10 min, then 50 min passive"),
        ("fentanyl_ionsys", "3 × (0.17 mA × 10 min, 50 min passive)"),
        ("passive_lidocaine", "60 min passive"),
        ("wearable_patch", "0.1 mA × 6.67 h, then 5.33 h passive"),
    ],
)
def test_protocol_text(name, text):
    assert iontosim.load(name).protocol_text() == text


def test_the_start_line_names_the_size_of_the_problem():
    from iontosim.output.terminal import start_line

    effort = {"unknowns": 28292, "ranks": 2, "linear_solver": "mumps"}
    assert start_line(iontosim.load("lidocaine_epinephrine"), effort) == (
        "lidocaine_epinephrine: 60 min simulated, 28 292 unknowns on 2 ranks, linear solver mumps"
    )


def test_the_progress_bar_counts_steps_and_estimates_the_time_left(monkeypatch):
    from rich.console import Console

    from iontosim.output import terminal

    clock = iter([1000.0, 1100.0, 5000.0, 5010.0, 5020.0])  # wall clock at each call
    monkeypatch.setattr(terminal, "_clock", lambda: next(clock))
    console = Console(record=True, width=150, force_terminal=False)
    bar = terminal.RunProgress(iontosim.load("lidocaine_epinephrine"), console)
    with bar:
        bar(900.0, 3600.0, {"time_steps": 37, "unknowns": 2030, "ranks": 1})  # a resumed run: starts late
        bar(1800.0, 3600.0, {"time_steps": 80, "unknowns": 2030, "ranks": 1})  # 900 s simulated in 100 s
        fields = bar.progress.tasks[0].fields
        assert fields["steps"] == 80 and fields["left"] == "~3.33 min left"  # 100 s x 1800 / 900 = 200 s
        bar(60.0, 3600.0, {"time_steps": 1})  # a second run (a 1D return column) from t = 0
        bar(120.0, 3600.0, {"time_steps": 2})  # 60 s simulated in 10 s
        assert bar.progress.tasks[0].fields["left"] == "~9.67 min left"  # 10 s x 3480 / 60 = 580 s
        bar(3600.0, 3600.0, {"time_steps": 3})
        assert bar.progress.tasks[0].fields["left"] == ""  # done: no "~0 ms left"
    text = console.export_text()
    assert text.splitlines()[0].startswith("lidocaine_epinephrine: 60 min simulated, 2 030 unknowns on 1 rank")
    assert "3 steps" in text and "left" not in text
