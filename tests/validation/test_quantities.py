"""Quantities read from a synthetic RunRecord whose answers are known in closed form
(tests/output/conftest.py: drug c = c0 (1 - x / reach) in the skin, flux J_ON while on)."""

from __future__ import annotations

import numpy as np
import pytest

from iontosim.validation import quantities as Q
from tests.output.conftest import C0, J_ON, LAYER_END_AMOUNT, M_G_PER_MOL, PHI, T_END, T_ON, L, make_record


class _Scenario:
    class outputs:
        penetration_threshold = 1.0


def run() -> Q.Run:
    return Q.Run(_Scenario(), make_record())


def test_delivered_at_a_time_and_per_area():
    rec = run().record
    m = rec.molar_mass["lidocaine+"]
    reading = Q.QUANTITIES["drug_delivered"].read(run(), Q.parse_options("drug_delivered", {"at": "5 min"}))
    assert reading.value == pytest.approx(J_ON * 300.0 * m * rec.area, rel=1e-12)
    assert reading.marker_x == pytest.approx(5.0)
    per_area = Q.QUANTITIES["drug_delivered_per_area"].read(run(), Q.parse_options("drug_delivered_per_area", {}))
    assert per_area.value == pytest.approx(rec.series["delivered/lidocaine+"][-1] * m, rel=1e-12)


def test_tissue_amount_integrates_the_profile_between_depths():
    # last profile: c = C0 (1 - x/L) in the skin, tissue = PHI c; 0..L/2 holds PHI C0 (3/8) L
    options = Q.parse_options("tissue_amount", {"at": "20 min", "depth_to": f"{L / 2} m"})
    rec = run().record
    value = Q.QUANTITIES["tissue_amount"].read(run(), options).value
    assert value == pytest.approx(PHI * C0 * 0.375 * L * rec.molar_mass["lidocaine+"] * rec.area, rel=1e-12)


def test_peak_concentration_at_depth_over_time():
    # profiles at 0, 5, 10, 20 min; at L/4 the 10-min one (2 C0, reach L) is highest: 1.5 C0
    options = Q.parse_options("peak_concentration_at_depth", {"depth": f"{L / 4} m"})
    reading = Q.QUANTITIES["peak_concentration_at_depth"].read(run(), options)
    assert reading.value == pytest.approx(1.5 * C0 * 0.23434, rel=1e-12)
    assert reading.marker_x == pytest.approx(T_ON / 60)
    with pytest.raises(ValueError, match="below the modelled skin"):
        Q.QUANTITIES["peak_concentration_at_depth"].read(
            run(), Q.parse_options("peak_concentration_at_depth", {"depth": "2 mm"})
        )


def test_transport_number_and_missing_profile():
    t = Q.QUANTITIES["transport_number"].read(run(), Q.parse_options("transport_number", {"species": "lidocaine+"}))
    assert t.value == pytest.approx(0.1, rel=1e-9)
    with pytest.raises(ValueError, match="no depth profile"):
        Q.QUANTITIES["dose_depth"].read(run(), Q.parse_options("dose_depth", {"at": "7 min"}))


def test_options_are_checked():
    with pytest.raises(ValueError, match="depth: depth must not be negative"):
        Q.parse_options("peak_concentration_at_depth", {"depth": "-1 mm"})
    with pytest.raises(ValueError, match="unknown option"):
        Q.parse_options("drug_delivered", {"when": "1 min"})


# ---------------------------------------------------------------- a Franz cell
J_P, LAG, C_DONOR = 2e-7, 150.0, 50.0  # permeated flux [mol/m^2/s], lag [s], donor drug [mol/m^3]


class _FranzScenario:
    drug = "lidocaine"

    class donor:
        @staticmethod
        def concentrations(species_by_name):
            return {"lidocaine": C_DONOR}

    @staticmethod
    def species_by_name(name):
        class _Species:
            molar_mass = M_G_PER_MOL / 1000

        return _Species()


def franz_run() -> Q.Run:
    """The synthetic record with a receptor: after the current stops at 600 s (the last of two
    equal constant-current intervals, so the one fitted), the receptor gains J_P (t - 600 - LAG),
    a straight line over the fitted second half (900-1200 s); before, something else."""
    rec = make_record()
    t = rec.times
    permeated = np.where(t >= 900.0, J_P * (t - 600.0 - LAG), 1e-9 * t)
    for s in rec.species:
        drug = s == "lidocaine+"
        rec.series[f"permeated/{s}"] = permeated if drug else 0.0 * t
        rec.series[f"receptor_concentration/{s}"] = permeated / 0.01 if drug else np.full_like(t, 100.0)
    return Q.Run(_FranzScenario(), rec)


def test_franz_cell_quantities_read_the_lag_time_fit():
    m = M_G_PER_MOL / 1000
    read = {name: Q.QUANTITIES[name].read for name in Q.QUANTITIES}
    run = franz_run()
    assert read["steady_state_flux"](run, Q.parse_options("steady_state_flux", {})).value == pytest.approx(
        J_P * m, rel=1e-9
    )
    assert read["lag_time"](run, Q.parse_options("lag_time", {})).value == pytest.approx(LAG, rel=1e-9)
    kp = read["permeability_coefficient"](run, Q.parse_options("permeability_coefficient", {})).value
    assert kp == pytest.approx(J_P / C_DONOR, rel=1e-9)
    at_end = read["cumulative_permeated"](run, Q.parse_options("cumulative_permeated", {})).value
    assert at_end == pytest.approx(J_P * (T_END - 600.0 - LAG) * m, rel=1e-9)
    at_1050 = read["cumulative_permeated"](run, Q.parse_options("cumulative_permeated", {"at": "17.5 min"}))
    assert at_1050.value == pytest.approx(J_P * (1050.0 - 600.0 - LAG) * m, rel=1e-9)
    assert at_1050.marker_x == pytest.approx(17.5)
    # the membrane: every skin layer's amount, half of it at mid-run (the layers' amounts ramp)
    retained = read["retained_in_membrane"](run, Q.parse_options("retained_in_membrane", {"at": "10 min"})).value
    assert retained == pytest.approx(0.5 * sum(LAYER_END_AMOUNT.values()) * m, rel=1e-9)


def test_franz_cell_quantities_need_a_receptor():
    with pytest.raises(ValueError, match="no receptor"):
        Q.QUANTITIES["steady_state_flux"].read(run(), Q.parse_options("steady_state_flux", {}))


def test_peak_plasma_concentration_of_a_drug_without_a_systemic_model():
    with_model = run()
    peak = Q.QUANTITIES["peak_plasma_concentration"].read(with_model, Q.parse_options("peak_plasma_concentration", {}))
    assert peak.value == pytest.approx(2e-4 * M_G_PER_MOL / 1000, rel=1e-9)  # sin^2 peaks at 1 mid-run
    without = run()
    for key in [k for k in without.record.series if k.startswith("plasma_concentration/")]:
        del without.record.series[key]
    with pytest.raises(ValueError, match="not modelled"):
        Q.QUANTITIES["peak_plasma_concentration"].read(without, Q.parse_options("peak_plasma_concentration", {}))
