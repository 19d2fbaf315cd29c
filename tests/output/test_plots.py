"""Figures: written as PNG files, and what each must show (read back from the matplotlib artists,
not from pixels)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from iontosim.output import plot_all
from iontosim.output.metrics import summarize
from iontosim.output.plots import _depth_ticks, draw_profiles, draw_voltage

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_all_writes_pngs(record, tmp_path):
    paths = plot_all(record, tmp_path / "figs")
    assert [p.name for p in paths] == ["profiles.png", "delivery.png", "voltage.png"]
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000


def _hlines(ax) -> list[float]:
    """The y of every horizontal line drawn across the axes (axhline)."""
    return [
        float(line.get_ydata()[0])
        for line in ax.get_lines()
        if len(line.get_xdata()) == 2 and tuple(line.get_xdata()) == (0, 1)
    ]


def test_the_voltage_figure_draws_the_device_limit_and_the_switch_on(record):
    record = dataclasses.replace(record, voltage_limit=12.0, protocol="0.35 mA/cm² × 10 min")
    fig = draw_voltage(record)
    ax_v, ax_switch_on, ax_i, _ = fig.axes[:4]
    assert 12.0 in _hlines(ax_v) and -12.0 not in _hlines(ax_v)  # the run is anodic: one side
    assert pytest.approx(0.5) in _hlines(ax_i)  # 5 A/m^2 = 0.5 mA/cm^2
    labels = [text.get_text() for text in ax_v.get_legend().get_texts()]
    assert any(label.startswith("peak 8 V") for label in labels)  # 5 + 3 t/T_ON at its end
    assert ax_switch_on.get_xscale() == "log"
    assert "0.35 mA/cm² × 10 min" in fig.get_suptitle()


def test_a_cathodal_run_draws_the_negative_limit(record):
    flipped = dict(record.series)
    flipped["voltage"] = -np.asarray(record.series["voltage"])
    flipped["current_density"] = -np.asarray(record.series["current_density"])
    fig = draw_voltage(dataclasses.replace(record, series=flipped))
    assert _hlines(fig.axes[0]).count(-10.0) == 1 and 10.0 not in _hlines(fig.axes[0])


def test_profiles_leave_out_values_below_the_floor_and_mark_the_front(record):
    summary = summarize(record, threshold=1.0)
    fig = draw_profiles(record, summary=summary)
    ax_drug = fig.axes[0]
    low = ax_drug.get_ylim()[0]
    for line in ax_drug.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size > 2:  # a profile, not a marker line
            assert np.all(np.isnan(y) | (y >= low)), "a value below the floor is drawn"
            assert np.isnan(y).any(), "the linear profiles reach zero: the floor must cut them"
    assert 1.0 in _hlines(ax_drug)  # the threshold [mol/m^3]
    fronts = [line.get_xdata()[0] for line in ax_drug.get_lines() if line.get_linestyle() == "-."]
    assert fronts == [pytest.approx(summary["penetration_depth_um"])]


def test_the_last_profile_time_is_bold_and_named(record):
    fig = draw_profiles(record)
    ax_other = fig.axes[1]
    widths = [line.get_linewidth() for line in ax_other.get_lines() if len(line.get_xdata()) > 2]
    per_time = len(record.species) - 1
    assert min(widths[-per_time:]) > max(widths[:-per_time])
    last = record.profiles[-1].time / 60
    assert any(f"{last:.3g} min" in t.get_text() for t in ax_other.get_legend().get_texts())


def test_the_depth_axis_labels_no_decade_inside_the_stratum_corneum():
    major, minor = _depth_ticks(18.0, 6075.0)
    assert major[:2] == [0.0, 18.0] and major[-1] == 6075.0
    assert all(t > 1.5 * 18.0 for t in major[2:-1]) and major[2:-1] == [100.0, 1000.0]
    inside = [t for t in minor if t < 18.0]
    assert inside and all(t > 0 for t in inside)  # linear minor ticks across the first layer


def test_profiles_of_zero_or_nan_species_draw_without_error(record):
    """An all-zero species and a NaN profile left the log axes without limits ("Axis limits cannot
    be NaN or Inf"), which lost the run directory's summary after the solve."""
    for p in record.profiles:
        p.concentration["Na+"] = np.zeros_like(p.depth)
        p.concentration["Cl-"] = np.zeros_like(p.depth)
    record.profiles[-1].concentration["lidocaine+"] = np.full_like(record.profiles[-1].depth, np.nan)
    fig = draw_profiles(record)
    assert all(np.isfinite(ax.get_ylim()).all() for ax in fig.axes)


def test_a_pulse_train_is_one_current_phase(record):
    """Pulses 1 s on, 1 s off for a minute, then 50 min rest, then a second train: two phases (the
    shading and the voltage's plateau follow phases, not single pulses)."""
    from iontosim.output.plots import current_phases

    pulses = [(float(t), t + 1.0) for t in range(0, 60, 2)] + [(3060.0 + t, 3061.0 + t) for t in range(0, 60, 2)]
    assert current_phases(dataclasses.replace(record, current_on_intervals=pulses)) == [(0.0, 59.0), (3060.0, 3119.0)]
    doses = [(0.0, 600.0), (3600.0, 4200.0)]  # two doses an hour apart stay two
    assert current_phases(dataclasses.replace(record, current_on_intervals=doses)) == doses
