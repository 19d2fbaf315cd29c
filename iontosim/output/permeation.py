"""What Franz-cell studies report, from a run with a receptor (physics/receptor.py).

- cumulative amount permeated per cm^2 against time: everything that crossed into the receptor
  (the series permeated/<drug>), as studies report it after correcting for the samples taken;
- steady-state flux and lag time by the lag-time method (Crank, The Mathematics of Diffusion,
  2nd ed. 1975, section 4.3.2): a straight line through the cumulative amount over the second half
  of the longest interval of constant current (the last, of equal ones), Q = J (t - t_lag); its
  slope is the flux, its intercept on the time axis, counted from the interval's start, the lag;
- the amount retained in the membrane at the end (every layer of the membrane together);
- with a passive control, the enhancement: iontophoretic over passive cumulative amount at the
  end, and the ratio of the steady-state fluxes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import units as u
from .metrics import drug_species
from .record import RunRecord


def _ug_per_cm2(record: RunRecord, prefix: str) -> np.ndarray:
    """Series `prefix`/<drug> [mol/m^2] summed over the drug's species, ug/cm^2."""
    out = np.zeros(len(record.times))
    for d in drug_species(record):
        out = out + u.mol_per_m2_to_ug_per_cm2(np.asarray(record.series[f"{prefix}/{d}"]), record.molar_mass[d])
    return out


def permeated_ug_per_cm2(record: RunRecord) -> np.ndarray:
    """Cumulative amount of the drug permeated into the receptor per cm^2 at each time, ug/cm^2."""
    return _ug_per_cm2(record, "permeated")


def retained_ug_per_cm2(record: RunRecord) -> np.ndarray:
    """Drug held in the membrane (every layer of it together) per cm^2 at each time, ug/cm^2."""
    membrane = np.zeros(len(record.times))
    for layer in record.skin_layers:
        membrane = membrane + _ug_per_cm2(record, f"layer_amount/{layer.name}")
    return membrane


def has_receptor(record: RunRecord) -> bool:
    return f"permeated/{drug_species(record)[0]}" in record.series


def steady_window(record: RunRecord) -> tuple[float, float]:
    """The longest interval of constant current (the last of equal ones) [s]: the whole run when the
    current never changes, as in a passive control."""
    density = np.asarray(record.series["current_density"], dtype=float)
    t = np.asarray(record.times, dtype=float)
    switches = [0.0] + [float(t[k]) for k in range(1, len(t) - 1) if density[k + 1] != density[k]] + [float(t[-1])]
    spans = list(zip(switches[:-1], switches[1:]))
    return max(reversed(spans), key=lambda ab: ab[1] - ab[0])


def lag_time_fit(times: np.ndarray, cumulative: np.ndarray, window: tuple[float, float]) -> tuple[float, float]:
    """(flux [amount/s], lag [s] from the window's start) of the line through `cumulative` over the
    window's second half; NaN when it holds fewer than three points or nothing permeates."""
    start, end = window
    chosen = (times >= 0.5 * (start + end)) & (times <= end)
    if chosen.sum() < 3:
        return math.nan, math.nan
    slope, intercept = np.polyfit(times[chosen], cumulative[chosen], 1)
    if not slope > 0:
        return float(slope), math.nan
    return float(slope), float(-intercept / slope - start)


def permeation_summary(record: RunRecord) -> dict[str, Any]:
    """The permeation figures of one run, units in their keys."""
    t = np.asarray(record.times, dtype=float)
    permeated = permeated_ug_per_cm2(record)
    window = steady_window(record)
    flux, lag = lag_time_fit(t, permeated, window)
    membrane = retained_ug_per_cm2(record)
    receptor = np.zeros(len(t))
    for d in drug_species(record):
        c = np.asarray(record.series[f"receptor_concentration/{d}"])
        receptor = receptor + u.mol_per_m3_to_ug_per_ml(c, record.molar_mass[d])
    return {
        "cumulative_permeated_ug_per_cm2": float(permeated[-1]),
        "steady_state_flux_ug_per_cm2_per_h": flux * u.SECONDS_PER_HOUR,
        "lag_time_h": lag / u.SECONDS_PER_HOUR,
        "steady_state_window_h": [window[0] / u.SECONDS_PER_HOUR, window[1] / u.SECONDS_PER_HOUR],
        "retained_in_membrane_ug_per_cm2": float(membrane[-1]),
        "final_receptor_concentration_ug_per_mL": float(receptor[-1]),
    }


def enhancement(active: dict[str, Any], passive: dict[str, Any]) -> dict[str, float]:
    """Iontophoretic over passive: cumulative amount at the end, and steady-state flux."""

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 and math.isfinite(a) and math.isfinite(b) else math.nan

    return {
        "enhancement_ratio": ratio(
            active["cumulative_permeated_ug_per_cm2"], passive["cumulative_permeated_ug_per_cm2"]
        ),
        "flux_enhancement_ratio": ratio(
            active["steady_state_flux_ug_per_cm2_per_h"], passive["steady_state_flux_ug_per_cm2_per_h"]
        ),
    }
