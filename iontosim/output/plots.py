"""Figures of a run (house style: figures.py). Each ``draw_*`` draws on the caller's axes (or a
new figure's) and returns the figure; ``plot_all`` writes the PNGs of a run directory.

Profiles are drawn over the skin only (depth >= 0, the donor is omitted) on a
symlog depth axis that is linear across the first skin layer (the stratum
corneum), so that both the thin barrier and the dermis are readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from . import units as u
from .figures import axes_or_new, save
from .metrics import drug_species, drug_sum, skin_part
from .record import RunRecord
from .safety import device_voltage

_FLOOR_DECADES = 6  # log plots show at most this many decades below the maximum


def _shade_on(ax, record: RunRecord, seconds_per_unit: float = u.SECONDS_PER_MINUTE, alpha: float = 0.25) -> None:
    """Shade the intervals the current was on, on a time axis in units of `seconds_per_unit`."""
    for k, (a, b) in enumerate(record.current_on_intervals):
        ax.axvspan(
            a / seconds_per_unit,
            b / seconds_per_unit,
            color="gold",
            alpha=alpha,
            label="current on" if k == 0 else None,
        )


def _layer_lines(ax, record: RunRecord) -> None:
    for layer in record.skin_layers:
        ax.axvline(layer.bottom * u.UM_PER_M, color="0.5", ls="--", lw=0.8)
    for layer in record.skin_layers:
        mid = 0.5 * (layer.top + layer.bottom) * u.UM_PER_M
        ax.text(
            mid,
            0.98,
            layer.name.replace("_", " "),
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="0.3",
            rotation=90,
        )


def _depth_axis(ax, record: RunRecord) -> None:
    skin = record.skin_layers
    linthresh = (skin[0].bottom - skin[0].top) * u.UM_PER_M if skin else 10.0
    ax.set_xscale("symlog", linthresh=max(linthresh, 1e-3))
    ax.set_xlim(0.0, (skin[-1].bottom * u.UM_PER_M) if skin else None)
    ax.set_xlabel("depth below skin surface [um] (symlog)")
    _layer_lines(ax, record)


def _floored(c: np.ndarray, floor: float) -> np.ndarray:
    return np.maximum(np.asarray(c, dtype=float), floor)


def draw_profiles(record: RunRecord, axes: Any = None) -> Figure:
    """Drug (left) and other species (right) pore-fluid concentration vs depth, one line per time
    (two axes)."""
    drug = drug_species(record)
    others = [s for s in record.species if s not in drug]
    fig, (ax_d, ax_o) = axes_or_new(axes, 2, (12, 4.8), columns=2)
    cmap = matplotlib.colormaps["viridis"]
    n = max(len(record.profiles), 1)
    peak = max((float(np.max(drug_sum(p.concentration, drug))) for p in record.profiles), default=1.0)
    floor = max(peak, 1e-300) * 10.0**-_FLOOR_DECADES
    for k, p in enumerate(record.profiles):
        colour = cmap(k / max(n - 1, 1))
        label = f"{p.time / u.SECONDS_PER_MINUTE:.3g} min"
        x, c = skin_part(p.depth, drug_sum(p.concentration, drug))
        ax_d.plot(x * u.UM_PER_M, _floored(c, floor), color=colour, label=label)
        for j, s in enumerate(others):
            xs, cs = skin_part(p.depth, p.concentration[s])
            ax_o.plot(
                xs * u.UM_PER_M,
                np.maximum(cs, 1e-12),
                color=colour,
                alpha=0.4 + 0.6 * (k == n - 1),
                ls=["-", "--", ":", "-."][j % 4],
                label=s if k == n - 1 else None,
            )
    for ax in (ax_d, ax_o):
        ax.set_yscale("log")
        _depth_axis(ax, record)
    ax_d.set_ylim(bottom=floor)
    ax_d.set_ylabel(f"{record.drug} pore-fluid concentration [mol/m^3 = mM]")
    ax_d.set_title(f"{record.scenario_name}: {record.drug} depth profiles")
    ax_d.legend(title="time", fontsize=8, loc="lower left")
    ax_o.set_ylabel("pore-fluid concentration [mol/m^3 = mM]")
    ax_o.set_title("other species (last time bold)")
    if others:
        ax_o.legend(fontsize=8, loc="lower left")
    return fig


def draw_delivery(record: RunRecord, axes: Any = None) -> Figure:
    """Drug surface flux [ug/cm^2/h] and cumulative delivered [ug/cm^2] vs time [min] (two axes)."""
    drug = drug_species(record)
    t_min = np.asarray(record.times, dtype=float) / u.SECONDS_PER_MINUTE
    flux = (
        sum(u.mol_per_m2_to_ug_per_cm2(record.series[f"surface_flux/{d}"], record.molar_mass[d]) for d in drug)
        * u.SECONDS_PER_HOUR
    )
    delivered = sum(u.mol_per_m2_to_ug_per_cm2(record.series[f"delivered/{d}"], record.molar_mass[d]) for d in drug)
    fig, (ax_f, ax_c) = axes_or_new(axes, 2, (8, 6.5), sharex=True)
    ax_f.step(t_min, flux, where="pre", color="tab:blue", label="step-average flux")
    ax_f.set_ylabel("drug flux into skin [ug/cm^2/h]")
    ax_f.set_title(f"{record.scenario_name}: {record.drug} delivery")
    ax_c.plot(t_min, delivered, color="tab:red", label="delivered across surface")
    ax_c.set_ylabel("cumulative delivered [ug/cm^2]")
    ax_c.set_xlabel("time [min]")
    for ax in (ax_f, ax_c):
        _shade_on(ax, record)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def draw_voltage(record: RunRecord, axes: Any = None) -> Figure:
    """Voltage [V] (anode vs deep tissue) and current density [mA/cm^2] vs time [min] (two axes)."""
    t_min = np.asarray(record.times, dtype=float) / u.SECONDS_PER_MINUTE
    fig, (ax_v, ax_i) = axes_or_new(axes, 2, (8, 6.5), sharex=True)
    ax_v.plot(t_min, record.series["voltage"], color="tab:purple", label="donor electrode vs deep tissue")
    if record.return_record is not None:
        ax_v.plot(t_min, device_voltage(record), color="black", label="device (donor vs return electrode)")
        ax_v.legend(fontsize=8)
    ax_v.set_ylabel("voltage [V]")
    ax_v.set_title(f"{record.scenario_name}: voltage and current")
    ax_i.plot(
        t_min,
        np.asarray(record.series["current_density"]) * u.A_PER_M2_TO_MA_PER_CM2,
        color="tab:green",
        label="applied current density",
    )
    limit = record.current_density_limit * u.A_PER_M2_TO_MA_PER_CM2
    density = np.asarray(record.series["current_density"])
    for sign in [1, -1] if np.any(density < 0) else [1]:
        ax_i.axhline(
            sign * limit, color="tab:red", ls=":", lw=1, label=f"+-{limit:g} mA/cm^2 limit" if sign == 1 else None
        )
    ax_i.set_ylabel("current density [mA/cm^2]")
    ax_i.set_xlabel("time [min]")
    for ax in (ax_v, ax_i):
        _shade_on(ax, record)
        ax.grid(alpha=0.3)
    ax_i.legend(fontsize=8)
    return fig


def draw_skin_ph(record: RunRecord, axes: Any = None) -> Figure:
    """pH at the skin surface [pH] vs time [min] under each modelled electrode, with the safe range."""
    fig, (ax,) = axes_or_new(axes, 1, (8, 4))
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
    ax.axhspan(low, high, color="tab:green", alpha=0.1, label=f"safe range {low:g}-{high:g}")
    ax.set_xlabel("time [min]")
    ax.set_ylabel("pH at the skin surface")
    ax.set_title(f"{record.scenario_name}: skin-surface pH")
    _shade_on(ax, record)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def draw_permeation(record: RunRecord, axes: Any = None) -> Figure:
    """A Franz cell's cumulative amount permeated [ug/cm^2] vs time [h], the steady-state line of the
    lag-time method (dotted), and the passive control's curve when it was run."""
    from .permeation import _ug_per_cm2, lag_time_fit, steady_window

    fig, (ax,) = axes_or_new(axes, 1, (8, 4.5))
    runs = [(record, "tab:red", "iontophoresis")]
    if record.passive_record is not None:
        runs.append((record.passive_record, "tab:blue", "passive control"))
    for rec, color, label in runs:
        t = np.asarray(rec.times, dtype=float)
        permeated = _ug_per_cm2(rec, "permeated")
        window = steady_window(rec)
        flux, lag = lag_time_fit(t, permeated, window)
        if np.isfinite(lag):
            label += (
                f": {flux * u.SECONDS_PER_HOUR:.3g} ug/cm^2/h at steady state, lag {lag / u.SECONDS_PER_HOUR:.2g} h"
            )
            start = window[0] + lag
            line = np.array([start, window[1]])
            ax.plot(line / u.SECONDS_PER_HOUR, flux * (line - start), color=color, ls=":", lw=1.2)
        ax.plot(t / u.SECONDS_PER_HOUR, permeated, color=color, label=label)
    _shade_on(ax, record, u.SECONDS_PER_HOUR, alpha=0.2)
    ax.set_xlabel("time [h]")
    ax.set_ylabel(f"cumulative {record.drug} permeated [ug/cm^2]")
    ax.set_title(f"{record.scenario_name}: into the receptor")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_all(record: RunRecord, outdir) -> list[Path]:
    """Write profiles.png, delivery.png, voltage.png (skin_ph.png when H+ is modelled, permeation.png
    for a Franz cell) into ``outdir``; return their paths."""
    outdir = Path(outdir)
    pictures = [("profiles.png", draw_profiles), ("delivery.png", draw_delivery), ("voltage.png", draw_voltage)]
    if "skin_surface_pH" in record.series:
        pictures.append(("skin_ph.png", draw_skin_ph))
    if any(key.startswith("permeated/") for key in record.series):
        pictures.append(("permeation.png", draw_permeation))
    return [save(draw(record), outdir / name) for name, draw in pictures]
