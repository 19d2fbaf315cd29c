"""Summary metrics against closed-form answers on the synthetic linear record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from iontosim.output import summarize, write_summary
from iontosim.output.metrics import dose_depth, drug_species, penetration_depth

from .conftest import C0, J_OFF, J_ON, LAYER_END_AMOUNT, M_G_PER_MOL, T_ON, L

REL = 1e-9
UG_PER_CM2 = M_G_PER_MOL * 1e6 / 1e4  # 1 mol/m^2 of drug in ug/cm^2 (g/mol x ug/g / cm^2 per m^2)


def close(a, b):
    return a == pytest.approx(b, rel=REL, abs=0.0)


@pytest.fixture
def summary(record):
    return summarize(record, threshold=C0 / 2)


def test_amounts(summary):
    delivered = J_ON * T_ON + J_OFF * T_ON  # mol/m^2
    assert close(summary["drug_delivered_ug_per_cm2"], delivered * UG_PER_CM2)
    assert close(summary["drug_delivered_ug"], delivered * UG_PER_CM2 * 5.0)  # 5 cm^2
    for layer, amount in LAYER_END_AMOUNT.items():
        assert close(summary[f"drug_in_{layer}_ug_per_cm2"], amount * UG_PER_CM2)
    assert close(summary["drug_remaining_in_donor_ug_per_cm2"], (1e-2 - delivered) * UG_PER_CM2)
    assert close(summary["drug_cleared_ug_per_cm2"], 4e-5 * UG_PER_CM2)
    assert close(summary["drug_deep_outflow_ug_per_cm2"], 1e-7 * UG_PER_CM2)
    assert close(summary["peak_drug_flux_ug_per_cm2_per_h"], J_ON * UG_PER_CM2 * 3600)
    assert "drug_in_donor_ug_per_cm2" not in summary


def test_electrical(summary):
    assert close(summary["mean_drug_transport_number"], 0.1)
    assert close(summary["charge_mC_per_cm2"], 0.35 * 600)  # 0.35 mA/cm^2 for 600 s
    assert close(summary["peak_current_density_mA_per_cm2"], 0.35)
    assert summary["final_voltage_V"] == 0.2
    assert summary["peak_voltage_V"] == 8.0
    assert close(summary["skin_resistance_kohm_cm2"], 20.0)  # 2 ohm m^2 = 2e4 ohm cm^2


def test_plasma_and_balances(summary):
    assert close(summary["peak_plasma_concentration_ng_per_mL"], 2e-4 * M_G_PER_MOL * 1e9 / 1e6)
    assert summary["mass_balance_relative_error"] == 3e-9
    assert summary["charge_balance_relative_error"] == 5e-12


def test_a_drug_without_a_systemic_model_has_no_plasma_peak(record):
    for key in [k for k in record.series if k.startswith("plasma_concentration/")]:
        del record.series[key]
    assert math.isnan(summarize(record, threshold=C0 / 2)["peak_plasma_concentration_ng_per_mL"])  # not a zero


def test_depths(summary):
    assert close(summary["penetration_depth_um"], 0.75 * L * 1e6)
    assert close(list(summary["penetration_depth_by_time_um"].values())[-1], 0.5 * L * 1e6)  # at the end
    assert close(summary["depth_90pct_tissue_dose_um"], L * (1 - math.sqrt(0.1)) * 1e6)
    assert close(summary["penetration_threshold_ug_per_mL"], C0 / 2 * M_G_PER_MOL)  # g/m^3 = ug/mL


def test_penetration_never_reached(record):
    s = summarize(record, threshold=1e6)
    assert s["penetration_depth_um"] == 0.0
    assert set(s["penetration_depth_by_time_um"].values()) == {0.0}


def test_penetration_stops_at_interface_jump():
    depth = np.array([0.0, 1.0, 1.0, 3.0])
    conc = np.array([10.0, 8.0, 2.0, 1.0])
    assert penetration_depth(depth, conc, 5.0) == 1.0
    assert penetration_depth(depth, conc, 1.5) == pytest.approx(2.0, rel=REL)
    assert penetration_depth(depth, conc, 1.0) == 3.0


def test_dose_depth_piecewise_constant_with_jump():
    # donor at negative depth (ignored), layer [0, 1] holds 4, layer [1, 5] holds 1 per unit depth
    depth = np.array([-2.0, 0.0, 0.0, 1.0, 1.0, 5.0])
    tissue = np.array([100.0, 100.0, 4.0, 4.0, 1.0, 1.0])
    total = 4.0 * 1.0 + 1.0 * 4.0
    assert close(dose_depth(depth, tissue, 0.9), 1.0 + (0.9 * total - 4.0) / 1.0)
    assert close(dose_depth(depth, tissue, 0.25), 0.5)
    assert close(dose_depth(depth, tissue, 0.5), 1.0)


def test_dose_depth_quadratic_segment():
    # c = 2 x on [0, 1]: integral to d is d^2, total 1
    assert close(dose_depth(np.array([0.0, 1.0]), np.array([0.0, 2.0]), 0.9), math.sqrt(0.9))


def test_no_charge_gives_nan_and_json_null(record, tmp_path):
    record.applied_charge = 0.0
    record.current_on_intervals = []
    record.series["current_density"] = np.zeros_like(record.times)
    record.series["skin_resistance"] = np.full_like(record.times, np.nan)
    s = summarize(record, threshold=C0 / 2)
    assert math.isnan(s["mean_drug_transport_number"])
    assert math.isnan(s["skin_resistance_kohm_cm2"])
    path = write_summary(tmp_path / "summary.json", s)
    text = path.read_text()
    data = json.loads(text)
    assert data["mean_drug_transport_number"] is None
    assert data["scenario"] == "synthetic linear"
    assert list(data) == sorted(data)
    assert text.startswith('{\n  "')
    assert "NaN" not in text


def test_drug_species_from_ionic_name(record):
    assert drug_species(record) == ["lidocaine+"]
    record.drug = "morphine"
    with pytest.raises(ValueError):
        drug_species(record)


def test_every_key_carries_a_unit(summary):
    units = (
        "_ug_per_cm2",
        "_ug",
        "_V",
        "_um",
        "_kohm_cm2",
        "_ng_per_mL",
        "_mC_per_cm2",
        "_mA_per_cm2",
        "_ug_per_mL",
        "_mol_per_m3",
        "_min",
        "_per_h",
        "_number",
        "_relative_error",
    )
    for key, value in summary.items():
        if isinstance(value, str):
            continue
        assert key.endswith(units), key


def test_a_nan_balance_error_shows_as_nan():
    from iontosim.output.metrics import _max_abs

    assert _max_abs([np.array([1e-9, 2e-9]), np.array([3e-10])]) == 2e-9
    assert math.isnan(_max_abs([np.array([1e-9, np.nan])]))
    assert math.isnan(_max_abs([]))


def test_balance_errors_are_relative_to_the_largest_amount_moved_in_the_run():
    from types import SimpleNamespace

    from iontosim.simulation import _IMBALANCE, _MOVED, TimeLoop

    # roundoff of 2e-19 mol/m^2 at the first step, when only 3e-15 had moved; 1e-4 moves by the end
    run = SimpleNamespace(
        model=SimpleNamespace(names=["acetate"]),
        rows={f"{_IMBALANCE}acetate": [0.0, 2e-19, 3e-14], f"{_MOVED}acetate": [1e-300, 3e-15, 1e-4]},
    )
    errors = TimeLoop._balance_errors(run)["mass_balance_error/acetate"]
    assert errors == pytest.approx([0.0, 2e-15, 3e-10])  # not 6.7e-5 at the first step
    assert not run.rows  # the raw rows are not series
