"""Scalar summary of a run: dose, depth, transport number, voltage, balances.

Every key names its unit (``_ug_per_cm2``, ``_V``, ``_um``, ...); the threshold and
all inputs are SI as stored in the RunRecord. Unit factors live in ``units.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import units as u
from .record import Profile, RunRecord

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.scenario.schema import Outputs


def drug_species(record: RunRecord) -> list[str]:
    """Species that make up the drug: ``record.drug`` itself, else its ionic forms.

    A species matches when its name, stripped of trailing charge signs
    ("lidocaine+" -> "lidocaine"), equals the drug name (case-insensitive).
    """
    if record.drug in record.species:
        return [record.drug]
    name = record.drug.lower()
    found = [s for s in record.species if s.rstrip("+-").lower() == name]
    if not found:
        raise ValueError(f"drug {record.drug!r} matches none of the species {record.species}")
    return found


def drug_sum(values: dict[str, np.ndarray], species: list[str]) -> np.ndarray:
    """The drug's species summed (a dict of arrays by species name)."""
    return np.sum([np.asarray(values[s], dtype=float) for s in species], axis=0)


def _drug_ug_per_cm2(record: RunRecord, prefix: str, species: list[str]) -> np.ndarray:
    """Series ``prefix/<s>`` [mol/m^2] summed over the drug species, in ug/cm^2."""
    return sum(u.mol_per_m2_to_ug_per_cm2(record.series[f"{prefix}/{s}"], record.molar_mass[s]) for s in species)


def skin_part(depth: np.ndarray, *fields: np.ndarray) -> tuple[np.ndarray, ...]:
    """Restrict profile data to the skin (depth >= 0), starting at its skin-side surface point.

    At depth 0 a donor profile holds two points (donor side, skin side); the last one is the skin's.
    """
    depth = np.asarray(depth, dtype=float)
    zeros = np.flatnonzero(depth == 0.0)
    start = zeros[-1] if zeros.size else int(np.searchsorted(depth, 0.0, side="left"))
    return (depth[start:],) + tuple(np.asarray(f, dtype=float)[start:] for f in fields)


def penetration_depth(depth: np.ndarray, conc: np.ndarray, threshold: float) -> float:
    """Deepest skin depth [m] where ``conc`` >= ``threshold`` (piecewise linear); 0 if nowhere."""
    x, c = skin_part(depth, conc)
    above = np.flatnonzero(c >= threshold)
    if above.size == 0:
        return 0.0
    i = above[-1]
    if i == x.size - 1 or x[i + 1] == x[i]:
        return float(x[i])
    # c[i] >= threshold > c[i+1]: linear crossing inside the segment
    return float(x[i] + (c[i] - threshold) / (c[i] - c[i + 1]) * (x[i + 1] - x[i]))


def concentration_at(depth: np.ndarray, conc: np.ndarray, at: float) -> float:
    """``conc`` at skin depth ``at`` [m], piecewise linear; at an interface depth the value just
    below it (in the deeper layer, where a probe or a slice would sit); nan outside the skin."""
    x, c = skin_part(depth, conc)
    if x.size == 0 or not x[0] <= at <= x[-1]:
        return math.nan
    i = int(np.searchsorted(x, at, side="right")) - 1  # the last point at or above `at`
    if i >= x.size - 1:
        return float(c[-1])
    return float(c[i] + (at - x[i]) / (x[i + 1] - x[i]) * (c[i + 1] - c[i]))


def dose_depth(depth: np.ndarray, tissue_conc: np.ndarray, fraction: float = 0.9) -> float:
    """Smallest skin depth d [m] with integral_0^d c >= ``fraction`` x integral over the skin.

    Exact for piecewise-linear data; zero-width segments (duplicated interface depths) hold nothing.
    """
    x, c = skin_part(depth, tissue_conc)
    if x.size < 2:
        return 0.0
    h = np.diff(x)
    segment = 0.5 * (c[:-1] + c[1:]) * h
    cumulative = np.concatenate([[0.0], np.cumsum(segment)])
    target = fraction * cumulative[-1]
    if target <= 0.0:
        return 0.0
    i = int(np.argmax(cumulative >= target)) - 1  # cumulative[i] < target <= cumulative[i+1], h[i] > 0
    rest = target - cumulative[i]
    slope = (c[i + 1] - c[i]) / h[i]
    # smallest s >= 0 with c_i s + slope s^2 / 2 = rest (stable root form, also for slope = 0)
    denominator = c[i] + math.sqrt(max(c[i] ** 2 + 2.0 * slope * rest, 0.0))
    s = 2.0 * rest / denominator if denominator > 0.0 else h[i]
    return float(x[i] + min(s, h[i]))


def _on_weights(times: np.ndarray, intervals) -> np.ndarray:
    """Length of each step (t_{k-1}, t_k] that lies inside the current-on intervals [s]."""
    w = np.zeros_like(times, dtype=float)
    for a, b in intervals:
        w[1:] += np.clip(np.minimum(times[1:], b) - np.maximum(times[:-1], a), 0.0, None)
    return w


def drug_plasma(record: RunRecord) -> np.ndarray | None:
    """The drug's plasma concentration [kg/m^3] at every time, summed over its forms that have a
    systemic model; None when none has."""
    modelled = [d for d in drug_species(record) if f"plasma_concentration/{d}" in record.series]
    if not modelled:
        return None
    return np.sum(
        [np.asarray(record.series[f"plasma_concentration/{d}"], dtype=float) * record.molar_mass[d] for d in modelled],
        axis=0,
    )


def _max_abs(arrays) -> float:
    """The largest magnitude; NaN when there is none or when any is NaN (a balance that could not
    be computed must show, not be dropped)."""
    values = np.concatenate([np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays] or [np.array([])])
    return float(np.max(values)) if values.size and not np.isnan(values).any() else math.nan


def _layer_key(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def species_key(name: str) -> str:
    """A species name as a summary key: 'Na+' -> 'Na_plus', 'Cl-' -> 'Cl_minus'."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", name.replace("+", "_plus").replace("-", "_minus")).strip("_")


def transport_numbers(record: RunRecord) -> dict[str, float]:
    """Mean transport number of every species across the skin surface while current flows.

    t_i = F z_i int J_i sign(i) dt / int |i| dt, J_i the flux into the skin: the share of the
    current species i carries (cations in or anions out under the anode, the reverse under the
    cathode). The fluxes of strong electrolytes give theirs directly. A weak electrolyte's flux is
    the sum of its two forms, which carry different charges (neutral acetic acid crosses with its
    ionized acetate), so the flux does not say its current: the weak electrolytes share the rest,
    1 minus the strong ones' sum (charge conservation at the surface, which the scheme keeps to
    solver tolerance), in proportion to their flux times their ionized form's charge.

    With a moving pH every species' forms say their charge flux where they enter the skin (series
    charge_flux/<species>, physics/transport.py): t_i = int j_i sign(i) dt / int |i| dt directly.
    """
    s = record.series
    t = np.asarray(record.times, dtype=float)
    h = np.diff(t)
    density = np.asarray(s["current_density"], dtype=float)[1:]  # the current of the step ending there
    charge = float(np.sum(np.abs(density) * h))
    if charge == 0.0:
        return {name: math.nan for name in record.species}
    sign = np.sign(density)
    if all(f"charge_flux/{name}" in s for name in record.species):
        return {
            name: float(np.sum(np.asarray(s[f"charge_flux/{name}"])[1:] * h * sign) / charge) for name in record.species
        }
    naive = {
        name: float(
            u.FARADAY * record.charges[name] * np.sum(np.asarray(s[f"surface_flux/{name}"])[1:] * h * sign) / charge
        )
        for name in record.species
    }
    weak = [n for n in record.weak_electrolytes if n in naive]
    if not weak:
        return naive
    rest = 1.0 - sum(v for n, v in naive.items() if n not in weak)
    share = sum(naive[n] for n in weak)
    out = dict(naive)
    for n in weak:
        out[n] = rest * naive[n] / share if share != 0.0 else rest / len(weak)
    return out


def summarize(
    record: RunRecord, threshold: float, sampling_depths: Sequence[float] = (), effective: float | None = None
) -> dict[str, Any]:
    """Named scalars of a run; each key carries its unit.

    ``threshold`` is the drug's pore-fluid concentration [mol/m^3] that defines the
    penetration depth; ``sampling_depths`` [m] and ``effective`` [mol/m^3] add the depth measures
    of `depth_measures`.
    """
    drug = drug_species(record)
    m_drug = record.molar_mass[drug[0]]
    t = np.asarray(record.times, dtype=float)
    s = record.series
    out: dict[str, Any] = {"scenario": record.scenario_name, "drug": record.drug}

    delivered = _drug_ug_per_cm2(record, "delivered", drug)
    out["drug_delivered_ug_per_cm2"] = float(delivered[-1])
    out["drug_delivered_ug"] = float(
        sum(u.mol_per_m2_to_ug_per_m2(s[f"delivered/{d}"][-1], record.molar_mass[d]) for d in drug) * record.area
    )
    # the skin layers, then a patch's other regions (the return pad, appendage channels)
    regions = [layer.name for layer in record.skin_layers]
    regions += sorted({k.split("/")[1] for k in s if k.startswith("layer_amount/")} - set(regions))
    for name in regions:
        amount = _drug_ug_per_cm2(record, f"layer_amount/{name}", drug)
        out[f"drug_in_{_layer_key(name)}_ug_per_cm2"] = float(amount[-1])
    out["drug_remaining_in_donor_ug_per_cm2"] = float(_drug_ug_per_cm2(record, "donor_amount", drug)[-1])
    out["drug_cleared_ug_per_cm2"] = float(_drug_ug_per_cm2(record, "cleared", drug)[-1])
    if f"deep_outflow/{drug[0]}" in s:  # a Franz cell's receptor takes its place (permeation.py)
        out["drug_deep_outflow_ug_per_cm2"] = float(_drug_ug_per_cm2(record, "deep_outflow", drug)[-1])
    flux = (
        sum(u.mol_per_m2_to_ug_per_cm2(s[f"surface_flux/{d}"], record.molar_mass[d]) for d in drug) * u.SECONDS_PER_HOUR
    )
    out["peak_drug_flux_ug_per_cm2_per_h"] = float(np.max(flux))

    # transport number: the share of the current the drug carries across the skin surface
    charge = float(record.applied_charge)
    numbers = transport_numbers(record)
    out["mean_drug_transport_number"] = (
        math.nan if charge == 0.0 or not record.current_on_intervals else float(sum(numbers[d] for d in drug))
    )

    voltage = np.asarray(s["voltage"], dtype=float)
    out["final_voltage_V"] = float(voltage[-1])
    out["peak_voltage_V"] = float(voltage[np.nanargmax(np.abs(voltage))])  # signed, largest magnitude
    resistance = np.asarray(s["skin_resistance"], dtype=float)
    w = _on_weights(t, record.current_on_intervals)
    w[~np.isfinite(resistance)] = 0.0
    out["skin_resistance_kohm_cm2"] = (
        float(np.sum(w * np.nan_to_num(resistance)) / w.sum() * u.OHM_M2_TO_KOHM_CM2) if w.sum() > 0 else math.nan
    )
    current = np.abs(np.asarray(s["current_density"], dtype=float)) * u.A_PER_M2_TO_MA_PER_CM2
    out["peak_current_density_mA_per_cm2"] = float(np.max(current))
    out["charge_mC_per_cm2"] = charge * u.C_PER_M2_TO_MC_PER_CM2
    for name, value in numbers.items():
        out[f"{species_key(name)}_transport_number"] = value

    # a species without a systemic model has no plasma series: its peak is not modelled (NaN here,
    # null in summary.json, "not modelled" on the terminal), not a measured zero
    plasma = drug_plasma(record)
    out["peak_plasma_concentration_ng_per_mL"] = (
        float(np.max(u.kg_per_m3_to_ng_per_ml(plasma))) if plasma is not None else math.nan
    )

    def reach(p: Profile) -> float:
        return penetration_depth(p.depth, drug_sum(p.concentration, drug), threshold)

    if record.profiles:
        last = record.profiles[-1]
        fronts = [reach(p) * u.UM_PER_M for p in record.profiles]
        out["penetration_depth_um"] = max(fronts)  # the deepest the front reached
        # the front at every profile time (a gel phantom's reading; the last is the front at the end)
        out["penetration_depth_by_time_um"] = {f"{p.time / 60:g}_min": f for p, f in zip(record.profiles, fronts)}
        out["depth_90pct_tissue_dose_um"] = (
            dose_depth(last.depth, drug_sum(last.tissue_concentration, drug), 0.9) * u.UM_PER_M
        )
    else:
        out["penetration_depth_um"] = math.nan
        out["depth_90pct_tissue_dose_um"] = math.nan
    out["penetration_threshold_ug_per_mL"] = float(u.mol_per_m3_to_ug_per_ml(threshold, m_drug))
    out["penetration_threshold_mol_per_m3"] = float(threshold)
    out |= depth_measures(record, sampling_depths, effective)

    out["mass_balance_relative_error"] = _max_abs(v for k, v in s.items() if k.startswith("mass_balance_error/"))
    out["charge_balance_relative_error"] = _max_abs([s[k] for k in ("charge_balance_error",) if k in s])
    out["protocol_end_min"] = float(record.protocol_end) / u.SECONDS_PER_MINUTE
    if record.patch is not None:
        out["patch"] = patch_summary(record.patch)
    if record.solver:
        out["solver"] = dict(record.solver)
    return out


def depth_measures(record: RunRecord, sampling_depths: Sequence[float], effective: float | None) -> dict[str, Any]:
    """The drug's depth as published studies measure it, from the recorded profiles (pore fluid,
    so interstitial, concentrations; peaks are over the profile times):

    - concentration_at_depth_ug_per_mL: at each sampling depth, the peak and the last value, as a
      microdialysis probe or a biopsy slice at that depth samples it;
    - effective_depth_um (and _end_um): the deepest depth where the drug exceeds the concentration
      it acts above, as an anaesthetic's depth of numbness is read.
    """
    out: dict[str, Any] = {}
    if not record.profiles or (not sampling_depths and effective is None):
        return out
    drug = drug_species(record)
    m_drug = record.molar_mass[drug[0]]
    pore = [drug_sum(p.concentration, drug) for p in record.profiles]
    if sampling_depths:
        table = {}
        for at in sampling_depths:
            values = [
                u.mol_per_m3_to_ug_per_ml(concentration_at(p.depth, c, at), m_drug)
                for p, c in zip(record.profiles, pore)
            ]
            finite = [v for v in values if math.isfinite(v)]  # none: the depth is below the modelled skin
            peak = max(finite) if finite else math.nan
            table[f"{at * u.UM_PER_M:.0f}_um"] = {"peak": float(peak), "end": float(values[-1])}
        out["concentration_at_depth_ug_per_mL"] = table
    if effective is not None:
        reach = [penetration_depth(p.depth, c, effective) for p, c in zip(record.profiles, pore)]
        out["effective_concentration_ug_per_mL"] = float(u.mol_per_m3_to_ug_per_ml(effective, m_drug))
        out["effective_depth_um"] = max(reach) * u.UM_PER_M
        out["effective_depth_end_um"] = reach[-1] * u.UM_PER_M
    return out


def run_summary(record: RunRecord, outputs: Outputs, wall_time: float, ranks: int) -> dict:
    """What summary.json holds for a run: summarize's scalars (with the scenario's `outputs`), how
    it was run, the safety section, every warning, and the return electrode's own column when it
    was solved as one."""
    from .safety import safety_report

    threshold = outputs.penetration_threshold
    summary: dict = summarize(record, threshold, outputs.sampling_depths, outputs.effective_concentration)
    summary["wall_time_s"] = wall_time
    summary["mpi_ranks"] = ranks
    summary["flux_discretization"] = record.flux_discretization
    summary["safety"] = safety_report(record)
    summary["warnings"] = list(record.warnings) + summary["safety"]["warnings"] + domain_warnings(record, summary)
    if record.return_record is not None:
        ret = record.return_record
        ret_summary: dict = summarize(ret, threshold)
        ret_summary["safety"] = safety_report(ret)
        summary["return_electrode"] = ret_summary
        summary["warnings"] += [f"return electrode: {w}" for w in ret.warnings + ret_summary["safety"]["warnings"]]
    _permeation(record, threshold, summary)
    return summary


def _permeation(record: RunRecord, threshold: float, summary: dict) -> None:
    """A Franz cell's permeation figures, and its passive control's with the enhancement."""
    from .permeation import enhancement, has_receptor, permeation_summary

    if has_receptor(record):
        summary["permeation"] = permeation_summary(record)
    passive = record.passive_record
    if passive is None:
        return
    control: dict = summarize(passive, threshold)
    if has_receptor(passive):
        control["permeation"] = permeation_summary(passive)
        summary["permeation"] |= enhancement(summary["permeation"], control["permeation"])
    else:  # a patch in vivo: what crossed the skin surface
        delivered = control["drug_delivered_ug_per_cm2"]
        summary["enhancement_ratio"] = summary["drug_delivered_ug_per_cm2"] / delivered if delivered > 0 else math.nan
    summary["passive_control"] = control


def domain_warnings(record: RunRecord, summary: dict) -> list[str]:
    """What the size of the modelled skin may have decided: the drug reaching the deep boundary,
    where the model holds it at the interstitial composition."""
    if f"permeated/{drug_species(record)[0]}" in record.series:
        return []  # a Franz cell: crossing the membrane into the receptor is the point
    bottom = record.layers[-1].bottom * u.UM_PER_M
    reach = summary.get("penetration_depth_um", math.nan)
    if math.isfinite(reach) and reach >= 0.95 * bottom:
        return [
            f"the drug reaches the deep boundary ({reach:.4g} of {bottom:.4g} um): below it the model holds "
            "the interstitial composition, so the depth and the amounts near it depend on the modelled "
            "depth; make the skin deeper or give the drug a way out (clearance, a buffer)"
        ]
    return []


def patch_summary(patch: dict) -> dict:
    """The 2D/3D patch's facts with units in their keys (RunRecord.patch)."""
    out = {
        "kind": patch["kind"],
        "peak_local_current_density_mA_per_cm2": abs(patch["peak_local_current_density"]) * u.A_PER_M2_TO_MA_PER_CM2,
        "peak_local_current_density_position_mm": [1e3 * float(x) for x in patch["peak_position"]],
        "peak_local_current_density_time_min": patch["peak_time"] / u.SECONDS_PER_MINUTE,
        "local_current_density_mA_per_cm2": abs(patch["local_current_density"]) * u.A_PER_M2_TO_MA_PER_CM2,
        "local_current_density_position_mm": [1e3 * float(x) for x in patch["local_position"]],
        "local_current_density_time_min": patch["local_time"] / u.SECONDS_PER_MINUTE,
        "local_averaging_length_mm": patch["local_averaging_length"] * 1e3,
    }
    for key in ("appendage_current_fraction", "appendage_drug_fraction"):
        if key in patch:
            out[key] = _jsonable(float(patch[key]))
    return out


def _jsonable(value):
    """JSON-ready copy of `value`: numpy scalars as Python ones, NaN/inf as None, nested alike."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_summary(path: str | Path, summary: dict[str, float | str]) -> Path:
    """Write ``summary`` as JSON (NaN/inf -> null, sorted keys, indent 2); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: _jsonable(v) for k, v in summary.items()}
    path.write_text(json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n")
    return path
