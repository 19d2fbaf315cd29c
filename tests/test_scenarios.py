"""The practice scenarios of iontosim/scenarios/ run and show what they are there to show (coarse meshes)."""

import math

import pytest
import yaml
from mpi4py import MPI

from iontosim.output.metrics import summarize, transport_numbers
from iontosim.output.safety import safety_report
from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import CONFIGS


def _run(name: str, refinement: float = 0.5):
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    data.setdefault("numerics", {})["refinement"] = refinement
    scenario = scenario_from_dict(data)
    record = simulate(scenario, MPI.COMM_SELF)
    return record, summarize(record, scenario.outputs.penetration_threshold)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dexamethasone_cathodal", "acetic_acid_cathodal"])
def test_anion_from_the_cathode(name):
    record, summary = _run(name)
    assert max(record.series["current_density"]) <= 0.0 < -min(record.series["current_density"])
    t = transport_numbers(record)
    # the drug anion goes in, but the tissue's Na+ leaving carries most of the current (SYLVESTRE2008:
    # ~0.8 Na+ against ~0.012 drug for dexamethasone phosphate without background electrolyte; the
    # injection's citrate and sulfite take a share of their own)
    excipients = sum(t.get(name, 0.0) for name in ("citrate", "sulfite"))
    assert 0.0 < t[record.drug] < 0.1 and t["Na+"] == max(t.values()) and t["Na+"] + excipients > 0.8
    assert summary["drug_delivered_ug_per_cm2"] > 0
    assert summary["mass_balance_relative_error"] < 1e-3 and summary["charge_balance_relative_error"] < 1e-5
    report = safety_report(record)
    assert report["dose_matches_stated"] and report["current_density_ok"]


@pytest.mark.slow
def test_wearable_patch_runs_12_hours_in_few_steps():
    record, summary = _run("wearable_patch")
    assert record.times[-1] == pytest.approx(12 * 3600)
    assert len(record.times) < 600  # steps grow to numerics.dt_max (5 min) while little changes
    assert summary["peak_plasma_concentration_ng_per_mL"] > 0
    assert math.isfinite(summary["drug_delivered_ug_per_cm2"])
