"""Quantities read from a synthetic RunRecord whose answers are known in closed form
(tests/output/conftest.py: drug c = c0 (1 - x / reach) in the skin, flux J_ON while on)."""

from __future__ import annotations

import pytest

from iontosim.validation import quantities as Q
from tests.output.conftest import C0, J_ON, PHI, T_ON, L, make_record


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
