"""Figures of a run (house style: figures.py). Each ``draw_*`` draws on the caller's axes (or a
new figure's, then headed with the scenario and its protocol) and returns the figure; ``plot_all``
writes the PNGs of a run directory.

Profiles are drawn over the skin only (depth >= 0, the donor is omitted) on a symlog depth axis
that is linear across the first skin layer (the stratum corneum), so that both the thin barrier
and the dermis are readable. Values more than a set number of decades below a panel's largest are
left out, not drawn at the floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from iontosim.scenario.units import duration_text

from . import units as u
from .figures import GRID_ALPHA, LEGEND_FONT, axes_or_new, heading, limit_lines, plain_number_ticks, save
from .metrics import drug_species, drug_sum, skin_part
from .record import RunRecord
from .safety import device_voltage

_DRUG_DECADES = 6  # the drug's profiles show this many decades below their maximum
_OTHER_DECADES = 8  # the other species span more (epinephrine against Na+)
_SWITCH_ON_WINDOW = 60.0  # s: the switch-on panels show at most the first minute of current
_CURRENT = "current density [mA/cm²]"


def _new_or_given(record: RunRecord, axes: Any, count: int, figsize, what: str, **layout) -> tuple[Figure, list]:
    """The axes to draw on; a new figure gets the heading (scenario, what, protocol)."""
    fig, given = axes_or_new(axes, count, figsize, **layout)
    if axes is None:
        heading(fig, record.scenario_name, what, record.protocol)
    else:
        given[0].set_title(f"{record.scenario_name}: {what}", fontsize=10)
    return fig, given


def current_phases(record: RunRecord) -> list[tuple[float, float]]:
    """The intervals the current was on [s], a pulse train's pulses joined into one phase: an
    interval joins the one before when the gap between them is no longer than either."""
    phases: list[tuple[float, float]] = []
    for a, b in record.current_on_intervals:
        if phases and a - phases[-1][1] <= min(b - a, phases[-1][1] - phases[-1][0]):
            phases[-1] = (phases[-1][0], b)
        else:
            phases.append((a, b))
    return phases


def _shade_on(ax, record: RunRecord, seconds_per_unit: float = u.SECONDS_PER_MINUTE, alpha: float = 0.25) -> None:
    """Shade the phases the current was on (current_phases), on a time axis in units of
    `seconds_per_unit`."""
    for k, (a, b) in enumerate(current_phases(record)):
        ax.axvspan(
            a / seconds_per_unit,
            b / seconds_per_unit,
            color="gold",
            alpha=alpha,
            lw=0,
            label="current on" if k == 0 else None,
        )


def _layer_lines(ax, record: RunRecord) -> None:
    for layer in record.skin_layers[:-1]:
        ax.axvline(layer.bottom * u.UM_PER_M, color="0.5", ls="--", lw=0.8)
    for layer in record.skin_layers:
        mid = math.sqrt(max(layer.top, 1e-9) * layer.bottom) if layer.top > 0 else 0.5 * layer.bottom
        ax.text(
            mid * u.UM_PER_M,
            0.98,
            layer.name.replace("_", " "),
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="0.3",
            rotation=90,
        )


def _depth_ticks(linthresh: float, deepest: float) -> tuple[list[float], list[float]]:
    """Major ticks [µm] of the symlog depth axis (0, the first layer's bottom, then whole decades
    past it, then the deepest point) and minor ticks (linear inside the first layer, 2-9 × each
    decade past it)."""
    major = [0.0, linthresh]
    decade = 10.0 ** math.ceil(math.log10(linthresh * 1.5))
    while decade < deepest * 0.7:
        major.append(decade)
        decade *= 10.0
    major.append(deepest)
    step = 10.0 ** math.floor(math.log10(linthresh)) / 2
    minor = list(np.arange(step, linthresh, step))
    decade = 10.0 ** math.floor(math.log10(linthresh))
    while decade < deepest:
        minor += [m * decade for m in range(2, 10) if linthresh < m * decade < deepest]
        decade *= 10.0
    return [round(t, 3) for t in major], minor


def _depth_axis(ax, record: RunRecord) -> None:
    skin = record.skin_layers
    linthresh = (skin[0].bottom - skin[0].top) * u.UM_PER_M if skin else 10.0
    deepest = skin[-1].bottom * u.UM_PER_M if skin else 10 * linthresh
    ax.set_xscale("symlog", linthresh=max(linthresh, 1e-3), linscale=1.0)
    ax.set_xlim(0.0, deepest)
    plain_number_ticks(ax.xaxis, *_depth_ticks(linthresh, deepest))
    ax.set_xlabel("depth below the skin surface [µm]\n(linear across the stratum corneum, logarithmic below)")
    _layer_lines(ax, record)


def _log_limits(ax, low: float, high: float) -> None:
    """y limits of a log axis, when they are usable (an all-zero or NaN panel keeps matplotlib's)."""
    if math.isfinite(low) and math.isfinite(high) and 0 < low < high:
        ax.set_ylim(low, high)


def _above(c: np.ndarray, floor: float) -> np.ndarray:
    """`c` with the values below `floor` left out (NaN): a log axis must not draw them at the floor."""
    c = np.asarray(c, dtype=float)
    return np.where(c >= floor, c, np.nan)


def _mark_penetration(ax, record: RunRecord, summary: Mapping[str, Any] | None) -> float | None:
    """The reported penetration threshold (dotted) and the deepest front (dash-dot); returns the
    threshold [mol/m³] when drawn."""
    if not summary:
        return None
    threshold = summary.get("penetration_threshold_mol_per_m3")
    depth = summary.get("penetration_depth_um")
    if threshold is None or not math.isfinite(threshold) or threshold <= 0:
        return None
    ug_per_ml = summary.get("penetration_threshold_ug_per_mL", math.nan)
    ax.axhline(threshold, color="tab:red", ls=":", lw=1.2, label=f"threshold {ug_per_ml:.3g} µg/mL")
    if depth is not None and math.isfinite(depth) and depth > 0:
        ax.axvline(depth, color="tab:red", ls="-.", lw=1.2, label=f"deepest front {depth:.0f} µm")
    return float(threshold)


def draw_profiles(record: RunRecord, axes: Any = None, summary: Mapping[str, Any] | None = None) -> Figure:
    """Drug (left) and other species (right) pore-fluid concentration [mM] against depth [µm], one
    line per profile time (two axes). With the run's `summary`, the penetration threshold and the
    deepest front it reports are marked."""
    drug = drug_species(record)
    others = [s for s in record.species if s not in drug]
    fig, (ax_d, ax_o) = _new_or_given(record, axes, 2, (12, 5.2), "depth profiles", columns=2)
    cmap = matplotlib.colormaps["viridis"]
    n = max(len(record.profiles), 1)
    colours = [cmap(k / max(n - 1, 1)) for k in range(n)]

    peak = max((float(np.nanmax(drug_sum(p.concentration, drug), initial=0.0)) for p in record.profiles), default=1.0)
    peak = peak if math.isfinite(peak) and peak > 0 else 1.0
    floor = peak * 10.0**-_DRUG_DECADES
    for p, colour in zip(record.profiles, colours):
        x, c = skin_part(p.depth, drug_sum(p.concentration, drug))
        ax_d.plot(x * u.UM_PER_M, _above(c, floor), color=colour, label=f"{p.time / u.SECONDS_PER_MINUTE:.3g} min")
    threshold = _mark_penetration(ax_d, record, summary)
    bottom = floor if threshold is None else min(floor, threshold / 3)
    _log_limits(ax_d, bottom, peak * 3)
    ax_d.set_ylabel(f"{record.drug}, pore fluid [mM]")
    ax_d.set_title(f"{record.drug} (colour: time)", fontsize=10)
    ax_d.legend(fontsize=LEGEND_FONT, loc="lower left", ncols=2 if n > 6 else 1)

    top = max(
        (float(np.nanmax(p.concentration[s], initial=0.0)) for p in record.profiles for s in others),
        default=1.0,
    )
    top = top if math.isfinite(top) and top > 0 else 1.0
    floor_o = top * 10.0**-_OTHER_DECADES
    styles = ["-", "--", ":", "-."]
    for k, (p, colour) in enumerate(zip(record.profiles, colours)):
        last = k == n - 1
        for j, s in enumerate(others):
            xs, cs = skin_part(p.depth, p.concentration[s])
            ax_o.plot(
                xs * u.UM_PER_M,
                _above(cs, floor_o),
                color=colour,
                lw=2.2 if last else 0.9,
                alpha=1.0 if last else 0.45,
                ls=styles[j % len(styles)],
            )
    if others:
        shown = [
            np.nanmin(_above(p.concentration[s], floor_o), initial=np.inf) for p in record.profiles for s in others
        ]
        _log_limits(ax_o, max(floor_o, min(shown, default=floor_o) / 3), top * 3)
        handles = [Line2D([], [], color="0.2", ls=styles[j % len(styles)], label=s) for j, s in enumerate(others)]
        if record.profiles:
            end = record.profiles[-1].time / u.SECONDS_PER_MINUTE
            handles.append(Line2D([], [], color=colours[-1], lw=2.2, label=f"bold: last time, {end:.3g} min"))
        ax_o.legend(handles=handles, fontsize=LEGEND_FONT, loc="lower left")
    ax_o.set_ylabel("pore fluid [mM]")
    ax_o.set_title("other species (colour: time, as at left)", fontsize=10)
    for ax in (ax_d, ax_o):
        ax.set_yscale("log")
        _depth_axis(ax, record)
    return fig


def draw_delivery(record: RunRecord, axes: Any = None) -> Figure:
    """Drug flux into the skin [µg/cm²/h] and cumulative amount delivered [µg/cm²] against time
    [min] (two axes)."""
    drug = drug_species(record)
    t_min = np.asarray(record.times, dtype=float) / u.SECONDS_PER_MINUTE
    flux = (
        sum(u.mol_per_m2_to_ug_per_cm2(record.series[f"surface_flux/{d}"], record.molar_mass[d]) for d in drug)
        * u.SECONDS_PER_HOUR
    )
    delivered = sum(u.mol_per_m2_to_ug_per_cm2(record.series[f"delivered/{d}"], record.molar_mass[d]) for d in drug)
    fig, (ax_f, ax_c) = _new_or_given(record, axes, 2, (8, 6.5), f"{record.drug} delivery", sharex=True)
    ax_f.step(t_min, flux, where="pre", color="tab:blue", label="flux into the skin (mean over each step)")
    ax_f.set_ylabel("flux into the skin [µg/cm²/h]")
    ax_c.plot(t_min, delivered, color="tab:red", label="delivered across the skin surface")
    ax_c.set_ylabel("delivered [µg/cm²]")
    ax_c.set_xlabel("time [min]")
    for ax in (ax_f, ax_c):
        _shade_on(ax, record)
        ax.grid(alpha=GRID_ALPHA)
        ax.legend(fontsize=LEGEND_FONT)
    return fig


def _switch_on(record: RunRecord) -> tuple[float, float] | None:
    """The first interval the current is on [s], cut to the switch-on window."""
    phases = current_phases(record)
    if not phases:
        return None
    start, end = phases[0]
    return start, min(end, start + _SWITCH_ON_WINDOW)


def draw_voltage(record: RunRecord, axes: Any = None) -> Figure:
    """Voltage [V] and current density [mA/cm²] over the run (left, time in min) and over the first
    seconds of current (right, log time since switch-on), with the device's voltage limit and the
    current-density limit (four axes: voltage, switch-on voltage, current, switch-on current)."""
    t = np.asarray(record.times, dtype=float)
    t_min = t / u.SECONDS_PER_MINUTE
    fig, (ax_v, ax_vs, ax_i, ax_is) = _new_or_given(
        record, axes, 4, (11, 6.8), "voltage and current", columns=2, width_ratios=[2.2, 1]
    )
    skin = np.asarray(record.series["voltage"], dtype=float)
    device = device_voltage(record)
    density = np.asarray(record.series["current_density"], dtype=float) * u.A_PER_M2_TO_MA_PER_CM2
    against_return = (record.patch or {}).get("return_area", 0.0) > 0  # a meshed return electrode
    label = "donor to return electrode (meshed)" if against_return else "skin: donor electrode to deep tissue"
    curves = [(skin, "tab:purple", label)]
    if record.return_record is not None:
        curves.append((device, "black", "device: donor to return electrode"))
    for v, colour, label in curves:
        ax_v.plot(t_min, v, color=colour, label=label)
    limit_lines(ax_v, record.voltage_limit, device, f"device limit {record.voltage_limit:g} V")
    _mark_peak_and_plateau(ax_v, record, t_min, device)
    ax_v.set_ylabel("voltage [V]")
    ax_v.legend(fontsize=LEGEND_FONT, loc="best")

    ax_i.plot(t_min, density, color="tab:green", label="applied current density")
    limit = record.current_density_limit * u.A_PER_M2_TO_MA_PER_CM2
    limit_lines(ax_i, limit, density, f"limit {limit:g} mA/cm²")
    ax_i.set_ylabel(_CURRENT)
    ax_i.set_xlabel("time [min]")
    ax_i.legend(fontsize=LEGEND_FONT, loc="best")
    for ax in (ax_v, ax_i):
        _shade_on(ax, record)
        ax.grid(alpha=GRID_ALPHA)
    ax_i.sharex(ax_v)

    window = _switch_on(record)
    if window is None:
        for ax in (ax_vs, ax_is):
            ax.text(0.5, 0.5, "no current", transform=ax.transAxes, ha="center", va="center", color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
        ax_vs.set_title("switch-on", fontsize=10)
        return fig
    start, end = window
    inside = (t > start) & (t <= end)
    since = t[inside] - start
    for v, colour, label in curves:
        ax_vs.plot(since, v[inside], color=colour, marker=".", ms=3, label=label)
    ax_is.plot(since, density[inside], color="tab:green", marker=".", ms=3)
    ax_vs.set_title(f"switch-on: the first {duration_text(end - start)} of current", fontsize=10)
    ax_vs.set_ylabel("voltage [V]")
    ax_is.set_ylabel(_CURRENT)
    ax_is.set_xlabel("time since switch-on [s] (log)")
    for ax in (ax_vs, ax_is):
        if since.size and since[0] > 0:
            ax.set_xscale("log")
        ax.grid(alpha=GRID_ALPHA, which="both")
    ax_is.sharex(ax_vs)
    ax_is.sharey(ax_i)
    return fig


def _mark_peak_and_plateau(ax, record: RunRecord, t_min: np.ndarray, voltage: np.ndarray) -> None:
    """The peak of the voltage the device checks (largest magnitude) and its plateau (the value at
    the end of the first current-on interval), told apart: the peak is often a switch-on spike."""
    if not np.isfinite(voltage).any():
        return
    k = int(np.nanargmax(np.abs(voltage)))
    ax.plot(t_min[k], voltage[k], "o", color="tab:red", ms=5, label=f"peak {voltage[k]:.3g} V")
    if record.current_on_intervals:
        end = current_phases(record)[0][1]  # a pulse train's plateau: at the end of the train
        j = int(np.searchsorted(record.times, end, side="right")) - 1
        if 0 <= j != k:
            ax.plot(t_min[j], voltage[j], "s", color="tab:blue", ms=5, label=f"plateau {voltage[j]:.3g} V")


def draw_skin_ph(record: RunRecord, axes: Any = None) -> Figure:
    """pH at the skin surface against time [min] under each modelled electrode, with the safe range."""
    fig, (ax,) = _new_or_given(record, axes, 1, (8, 4.2), "skin-surface pH")
    for rec, color in zip((record, record.return_record), ("tab:red", "tab:blue")):
        if rec is not None and "skin_surface_pH" in rec.series:
            t_min = np.asarray(rec.times, dtype=float) / u.SECONDS_PER_MINUTE
            anodic = np.sum(np.asarray(rec.series["current_density"])) >= 0
            where = "donor" if rec is record else "return"
            ax.plot(
                t_min,
                rec.series["skin_surface_pH"],
                color=color,
                label=f"under the {where} electrode ({'anode' if anodic else 'cathode'})",
            )
    low, high = record.skin_pH_range
    ax.axhspan(low, high, color="tab:green", alpha=0.1, lw=0, label=f"safe range {low:g}–{high:g}")
    ax.set_xlabel("time [min]")
    ax.set_ylabel("pH at the skin surface")
    _shade_on(ax, record)
    ax.grid(alpha=GRID_ALPHA)
    ax.legend(fontsize=LEGEND_FONT)
    return fig


def draw_permeation(record: RunRecord, axes: Any = None) -> Figure:
    """A Franz cell's cumulative amount permeated [µg/cm²] against time [h], the steady-state line
    of the lag-time method (dotted), and the passive control's curve when it was run."""
    from .permeation import _ug_per_cm2, lag_time_fit, steady_window

    fig, (ax,) = _new_or_given(record, axes, 1, (8, 4.7), "into the receptor")
    runs = [(record, "tab:red", "iontophoresis")]
    if record.passive_record is not None:
        runs.append((record.passive_record, "tab:blue", "passive control"))
    for rec, color, label in runs:
        t = np.asarray(rec.times, dtype=float)
        permeated = _ug_per_cm2(rec, "permeated")
        window = steady_window(rec)
        flux, lag = lag_time_fit(t, permeated, window)
        if np.isfinite(lag):
            label += f": {flux * u.SECONDS_PER_HOUR:.3g} µg/cm²/h at steady state, lag {lag / u.SECONDS_PER_HOUR:.2g} h"
            start = window[0] + lag
            line = np.array([start, window[1]])
            ax.plot(line / u.SECONDS_PER_HOUR, flux * (line - start), color=color, ls=":", lw=1.2)
        ax.plot(t / u.SECONDS_PER_HOUR, permeated, color=color, label=label)
    _shade_on(ax, record, u.SECONDS_PER_HOUR, alpha=0.2)
    ax.set_xlabel("time [h]")
    ax.set_ylabel(f"{record.drug} permeated [µg/cm²]")
    ax.grid(alpha=GRID_ALPHA)
    ax.legend(fontsize=LEGEND_FONT, loc="upper left")
    return fig


def plot_all(record: RunRecord, outdir, summary: Mapping[str, Any] | None = None) -> list[Path]:
    """Write profiles.png, delivery.png, voltage.png (skin_ph.png when H+ is modelled, permeation.png
    for a Franz cell) into ``outdir``; return their paths. `summary` (the run's summary.json) adds
    the penetration marks to the profiles."""
    outdir = Path(outdir)
    pictures = [
        ("profiles.png", lambda r: draw_profiles(r, summary=summary)),
        ("delivery.png", draw_delivery),
        ("voltage.png", draw_voltage),
    ]
    if "skin_surface_pH" in record.series:
        pictures.append(("skin_ph.png", draw_skin_ph))
    if any(key.startswith("permeated/") for key in record.series):
        pictures.append(("permeation.png", draw_permeation))
    return [save(draw(record), outdir / name) for name, draw in pictures]
