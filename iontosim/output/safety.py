"""The safety section of a run (summary.json "safety" and the terminal); the limits and
their sources are in docs/physics.md, "Safety".

Each check compares what the run did with a limit of the scenario (scenario.safety): peak current
density against the comfort/safety limit (on a 2D/3D patch also the local current density at the
skin surface as its mean over safety.local_averaging_length, where current crowds at the electrode
edges), the charge passed against the protocol's stated dose,
the applied voltage against the device's compliance voltage and, where H+ is modelled (inert
electrodes), the pH at the skin surface against a safe range. A failed check becomes a warning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from iontosim.output import units as u
from iontosim.output.metrics import patch_summary
from iontosim.output.record import RunRecord

C_TO_MA_MIN = 1e3 / 60.0  # 1 C = 1000 mA.s = 16.67 mA.min
DOSE_TOLERANCE = 0.01  # relative: a protocol within 1 % of its stated dose gives that dose


def device_voltage(record: RunRecord) -> np.ndarray:
    """V between the donor and the return electrode at the record's times: each column's voltage
    is against the deep tissue, so the device's is their difference (the return column's
    interpolated to the donor column's steps). Without a modelled return electrode, the donor's."""
    v = np.asarray(record.series["voltage"], dtype=float)
    ret = record.return_record
    if ret is None:
        return v
    return v - np.interp(record.times, ret.times, np.asarray(ret.series["voltage"], dtype=float))


def safety_report(record: RunRecord) -> dict:
    """Checks, each value with its unit in its key, and the warnings they raise."""
    s = record.series
    density = np.abs(np.asarray(s["current_density"], dtype=float))
    voltage = np.abs(device_voltage(record))
    peak_density = float(np.max(density)) * u.A_PER_M2_TO_MA_PER_CM2
    limit_density = record.current_density_limit * u.A_PER_M2_TO_MA_PER_CM2
    peak_voltage = float(np.nanmax(voltage)) if np.isfinite(voltage).any() else math.nan
    charge = record.applied_charge * record.area * C_TO_MA_MIN
    out: dict[str, Any] = {
        "peak_current_density_mA_per_cm2": peak_density,
        "current_density_limit_mA_per_cm2": limit_density,
        "current_density_ok": peak_density <= limit_density * (1 + 1e-9),
        "charge_mA_min": charge,
        "stated_dose_mA_min": None if record.stated_dose is None else record.stated_dose * C_TO_MA_MIN,
        "peak_voltage_V": peak_voltage,
        "device_voltage_limit_V": record.voltage_limit,
        "voltage_ok": bool(peak_voltage <= record.voltage_limit) if math.isfinite(peak_voltage) else None,
    }
    warnings = []
    if not out["current_density_ok"]:
        warnings.append(
            f"peak current density {peak_density:.3g} mA/cm^2 exceeds the {limit_density:.3g} mA/cm^2 limit"
        )
    patch = record.patch or {}
    if "local_current_density" in patch:
        # on a 2D/3D patch the current crowds at electrode edges and into ducts: the check is its
        # mean over a stated length, which converges under refinement (the single cell's does not)
        facts = patch_summary(patch)  # the same figures, in the same units, as summary.json's patch
        local, length_mm = facts["local_current_density_mA_per_cm2"], facts["local_averaging_length_mm"]
        axes = {"axisymmetric": ("r",), "block": ("x", "y")}.get(patch["kind"], ("x",))
        where = ", ".join(f"{a} = {x:.3g} mm" for a, x in zip(axes, facts["local_current_density_position_mm"]))
        out |= {
            "local_current_density_mA_per_cm2": local,
            "local_current_density_position_mm": facts["local_current_density_position_mm"],
            "local_averaging_length_mm": length_mm,
            "local_window_covers_patch": bool(patch.get("local_window_covers_patch", False)),
            "local_current_density_ok": bool(local <= limit_density * (1 + 1e-9)),
            # information: the largest single cell's, which grows as the mesh is refined
            "peak_cell_current_density_mA_per_cm2": facts["peak_local_current_density_mA_per_cm2"],
        }
        if not out["local_current_density_ok"]:
            warnings.append(
                f"local current density at the skin surface reaches {local:.3g} mA/cm^2 (mean over "
                f"{length_mm:g} mm) at {where} from the anode's centre, t = "
                f"{facts['local_current_density_time_min']:.3g} min: above the {limit_density:.3g} mA/cm^2 limit"
            )
    if record.stated_dose is not None:
        stated = record.stated_dose * C_TO_MA_MIN
        out["dose_matches_stated"] = abs(charge - stated) <= DOSE_TOLERANCE * stated
        if not out["dose_matches_stated"]:
            warnings.append(f"the protocol passes {charge:.4g} mA.min, not the stated {stated:.4g} mA.min")
    if "skin_surface_pH" in s:
        pH = np.asarray(s["skin_surface_pH"], dtype=float)
        low, high = record.skin_pH_range
        out |= {
            "skin_surface_pH_min": float(np.min(pH)),
            "skin_surface_pH_max": float(np.max(pH)),
            "skin_pH_range": [low, high],
            "skin_pH_ok": bool(low <= np.min(pH) and np.max(pH) <= high),
        }
        if not out["skin_pH_ok"]:
            t = np.asarray(record.times)
            outside = np.flatnonzero((pH < low) | (pH > high))
            warnings.append(
                f"skin-surface pH reaches {np.min(pH):.2f}-{np.max(pH):.2f}, outside the safe "
                f"{low:g}-{high:g}, from t = {t[outside[0]] / 60:.3g} min: a chemical burn risk"
            )
    if "return_skin_surface_pH" in s:  # a patch's meshed return electrode
        pH = np.asarray(s["return_skin_surface_pH"], dtype=float)
        low, high = record.skin_pH_range
        out |= {
            "return_skin_surface_pH_min": float(np.min(pH)),
            "return_skin_surface_pH_max": float(np.max(pH)),
            "return_skin_pH_ok": bool(low <= np.min(pH) and np.max(pH) <= high),
        }
        if not out["return_skin_pH_ok"]:
            warnings.append(
                f"skin-surface pH under the return electrode reaches {np.min(pH):.2f}-{np.max(pH):.2f}, "
                f"outside the safe {low:g}-{high:g}: a chemical burn risk"
            )
    if out["voltage_ok"] is False:
        warnings.append(
            f"peak voltage {peak_voltage:.3g} V exceeds the device limit of "
            f"{record.voltage_limit:.3g} V (electrode standard potentials and overpotentials not "
            "included): a real device could not drive this current"
        )
    out["warnings"] = warnings
    return out
