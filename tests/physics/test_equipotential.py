"""Equipotential electrodes on a patch (physics/electrodes.py MetalPotential): one metal potential
over the face, the total current imposed, the current distributing itself."""

from __future__ import annotations

import pytest
from mpi4py import MPI

import iontosim
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import default_short_data, python_on_two_ranks, with_return_electrode


def strip(electrodes: str) -> dict:
    """A laterally uniform strip: the anode over the whole width, the deep tissue the return."""
    data = default_short_data(on="30 s", rest="30 s")
    data["outputs"]["profile_times"] = ["1 min"]
    data["geometry"] = {
        "kind": "planar",
        "width": "0.2 mm",
        "anode_width": "0.4 mm",
        "resolution": 0.5,
        "electrodes": electrodes,
    }
    return data


def solve(data: dict):
    from iontosim.mesh.of_scenario import scenario_mesh

    scenario = scenario_from_dict(data)
    return simulate(scenario, MPI.COMM_SELF, skin_mesh=scenario_mesh(scenario, MPI.COMM_SELF))


@pytest.mark.slow
def test_a_laterally_uniform_strip_gives_the_uniform_current_solution():
    """Exact: with nothing to vary sideways, one metal potential passes the same current density
    everywhere, so the answer is the uniform-current one (measured: dose 3e-13, voltage 7e-10)."""
    uniform, metal = solve(strip("uniform_current")), solve(strip("equipotential"))
    for key in ("delivered/lidocaine", "voltage"):
        assert metal.series[key][-1] == pytest.approx(uniform.series[key][-1], rel=1e-8), key
    assert max(metal.series["charge_balance_error"]) < 1e-6


@pytest.mark.slow
def test_the_metal_passes_the_imposed_current_beside_a_return_pad():
    """Both electrodes equipotential, each passing the imposed total current; under the shipped
    gel the skin sees what uniform current gives (measured 1e-9: the skin's resistance dominates)."""
    runs = {}
    for electrodes in ("uniform_current", "equipotential"):
        data = with_return_electrode(default_short_data(on="5 s", rest=None), resolution=0.5)
        data["geometry"]["electrodes"] = electrodes
        runs[electrodes] = solve(data)
    metal, uniform = runs["equipotential"], runs["uniform_current"]
    assert max(metal.series["charge_balance_error"]) < 1e-6  # the deep tissue takes no net current
    assert metal.patch["local_current_density"] == pytest.approx(uniform.patch["local_current_density"], rel=1e-6)


@pytest.mark.slow
@pytest.mark.mpi
def test_two_ranks_give_the_one_rank_answer():
    one = solve(strip("equipotential")).series["delivered/lidocaine"][-1]
    code = (
        "from mpi4py import MPI\n"
        "from iontosim.mesh.of_scenario import scenario_mesh\n"
        "from iontosim.scenario.load import scenario_from_dict\n"
        "from iontosim.simulation import simulate\n"
        "from tests.physics.test_equipotential import strip\n"
        "s = scenario_from_dict(strip('equipotential'))\n"
        "r = simulate(s, MPI.COMM_WORLD, skin_mesh=scenario_mesh(s, MPI.COMM_WORLD))\n"
        "if MPI.COMM_WORLD.rank == 0: print(repr(float(r.series['delivered/lidocaine'][-1])))\n"
    )
    two = float(python_on_two_ranks(code).strip())
    assert two == pytest.approx(one, rel=1e-6)


def test_inert_electrodes_cannot_be_equipotential():
    with pytest.raises(ScenarioError, match=r"geometry\.electrodes.*Ag/AgCl"):
        iontosim.load("tap_water_hyperhidrosis", **{"geometry.electrodes": "equipotential"})
