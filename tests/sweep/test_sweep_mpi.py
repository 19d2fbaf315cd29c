"""A sweep under mpirun -n 2: the ranks split into groups of --ranks-per-case, each running its
share of the cases on its sub-communicator; a case failing on the ranks of its group is recorded
and the sweep goes on."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import python_on_two_ranks
from tests.sweep.conftest import GRID, write_sweep

CODE = """
import sys
import typer
from typer.testing import CliRunner
from mpi4py import MPI
import iontosim.simulation
from iontosim.simulation import SimulationError
from iontosim.sweep.command import sweep

solve = iontosim.simulation.simulate


def failing_at_thick_high_current(scenario, *args, **kwargs):
    # on every rank of the case alike, as a solver's failure is
    if scenario.protocol[0].current_density > 4.0 and scenario.skin[0].thickness > 20e-6:
        raise SimulationError("time step below its minimum")
    return solve(scenario, *args, **kwargs)


app = typer.Typer()
app.command()(sweep)
app.command()(lambda: None)
for out, per_case in ((sys.argv[2], "1"), (sys.argv[3], "2")):
    if per_case == "2":
        iontosim.simulation.simulate = failing_at_thick_high_current
    result = CliRunner().invoke(app, ["sweep", sys.argv[1], "--out", out, "--ranks-per-case", per_case])
    print(f"rank {MPI.COMM_WORLD.rank} ranks-per-case {per_case} exit {result.exit_code}")
    if MPI.COMM_WORLD.rank == 0:
        print(result.output)
"""


@pytest.mark.mpi
def test_two_ranks_one_rank_per_case_share_the_cases(tmp_path):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    one, two = tmp_path / "one", tmp_path / "two"
    output = python_on_two_ranks(CODE, str(path), str(one), str(two))
    for rank in (0, 1):
        assert f"rank {rank} ranks-per-case 1 exit 0" in output, output
        assert f"rank {rank} ranks-per-case 2 exit 1" in output, output  # one case failed
    assert "4 cases: 4 done, 0 failed" in output and "4 cases: 3 done, 1 failed" in output, output

    # one rank per case: both groups worked, each case on one rank
    ran_by = {
        json.loads((one / "cases" / c / "case.json").read_text())["process"] for c in ("0000", "0001", "0002", "0003")
    }
    assert len(ran_by) == 2
    assert all(
        json.loads((one / "cases" / c / "summary.json").read_text())["mpi_ranks"] == 1
        for c in ("0000", "0001", "0002", "0003")
    )
    # two ranks per case: one group, each case on both ranks, the same answers
    assert "time step below its minimum" in json.loads((two / "cases" / "0003" / "error.json").read_text())["error"]
    for c in ("0000", "0001", "0002"):
        alone = json.loads((one / "cases" / c / "summary.json").read_text())
        shared = json.loads((two / "cases" / c / "summary.json").read_text())
        assert shared["mpi_ranks"] == 2
        assert shared["drug_delivered_ug_per_cm2"] == pytest.approx(alone["drug_delivered_ug_per_cm2"], rel=1e-6)
    rows = list(csv.DictReader((one / "summaries.csv").open()))
    assert [r["status"] for r in rows] == ["done"] * 4
