"""Run-level behaviour of simulate(): the automatic flux choice."""

import pytest
import yaml
from mpi4py import MPI

from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import CONFIGS


def _default_with(sc_cells: int, flux: str):
    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data["skin"][0]["cells"] = sc_cells
    data["protocol"] = [{"current": "1.77 mA", "duration": "1 min"}]
    data["outputs"]["profile_times"] = []
    data["numerics"] = {"flux": flux}
    return scenario_from_dict(data)


@pytest.mark.slow
def test_auto_flux_falls_back_to_lumped_and_says_so():
    # 16 stratum-corneum cells at the LidoSite current: cell Peclet numbers of ~10, where the
    # fitted flux's Newton solves fail (benchmarks/RESULTS.md); auto must still give an answer.
    record = simulate(_default_with(16, "auto"), MPI.COMM_SELF)
    assert record.flux_discretization == "lumped"
    assert len(record.warnings) == 1 and "fitted flux failed" in record.warnings[0]
    assert record.series["delivered/lidocaine"][-1] > 0


@pytest.mark.slow
def test_auto_flux_is_fitted_when_it_converges():
    record = simulate(_default_with(64, "auto"), MPI.COMM_SELF)
    assert record.flux_discretization == "fitted" and record.warnings == []
