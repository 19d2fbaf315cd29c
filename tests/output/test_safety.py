"""The safety section: each limit checked, each breach a warning (output/safety.py)."""

import dataclasses

import numpy as np
import pytest

from iontosim.output.safety import safety_report
from tests.output.conftest import I_ON, T_ON, make_record


def test_a_run_inside_every_limit_raises_no_warning():
    report = safety_report(make_record())
    assert report["peak_current_density_mA_per_cm2"] == pytest.approx(I_ON / 10)  # 3.5 A/m^2 = 0.35 mA/cm^2
    assert report["current_density_ok"] and report["voltage_ok"]
    assert report["charge_mA_min"] == pytest.approx(I_ON * T_ON * make_record().area * 1e3 / 60)
    assert report["warnings"] == []


def test_each_breach_is_named():
    base = make_record()
    charge = base.applied_charge * base.area  # C
    record = dataclasses.replace(base, current_density_limit=3.0, voltage_limit=1e-3, stated_dose=2 * charge)
    report = safety_report(record)
    assert not report["current_density_ok"] and not report["voltage_ok"]
    assert report["dose_matches_stated"] is False
    text = " ".join(report["warnings"])
    assert "0.3 mA/cm^2 limit" in text and "device limit" in text and "stated" in text
    assert len(report["warnings"]) == 3


def test_a_cathodal_run_is_judged_by_magnitudes():
    base = make_record()
    series = dict(
        base.series,
        current_density=-np.asarray(base.series["current_density"]),
        voltage=-np.asarray(base.series["voltage"]),
    )
    report = safety_report(dataclasses.replace(base, series=series))
    assert report["peak_current_density_mA_per_cm2"] == pytest.approx(I_ON / 10)
    assert report["peak_voltage_V"] > 0
