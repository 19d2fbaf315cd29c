"""Run-level behaviour of simulate(): the automatic flux choice."""

import pytest
import yaml
from mpi4py import MPI

from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import CONFIGS


def _default_with(sc_cells: int, flux: str):
    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    # the gel without its saline: the drug then carries the current alone, the strong-field case
    data["donor"]["contents"].pop("Na+")
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


def _clone_of_lidocaine(binding: float = 0.0) -> dict:
    """Lidocaine written as a user-defined drug, every value the library's."""
    return {
        "charge": 1,
        "pKa": 7.91,
        "acid_base": "base",
        "molar_mass": "234.34 g/mol",
        "diffusivity": "5.2e-10 m^2/s",
        "salts": {"HCl": "270.8 g/mol"},
        "binding": binding,
    }


def _membrane_run(drug: str, definitions: dict | None = None, drug_mM: float = 1.0):
    from tests.conftest import membrane_scenario

    layer = [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-2, "cells": 20}]
    extra = {"temperature": "298.15 K"}  # at 25 C the library and the user value are the same number
    if definitions:
        extra["species_definitions"] = definitions
    sc = membrane_scenario(
        layers=layer,
        drug=drug,
        drug_mM=drug_mM,
        protocol=[{"current_density": "0.3 mA/cm^2", "duration": "10 min"}],
        numerics={"dt_max": "30 s"},
        **extra,
    )
    return simulate(sc, MPI.COMM_SELF)


@pytest.mark.slow
def test_a_user_defined_drug_behaves_like_the_built_in_one_it_copies():
    built_in = _membrane_run("lidocaine")
    user = _membrane_run("my_lidocaine", {"my_lidocaine": _clone_of_lidocaine()})
    assert user.series["delivered/my_lidocaine"][-1] == pytest.approx(
        built_in.series["delivered/lidocaine"][-1], rel=1e-9
    )


@pytest.mark.slow
def test_tissue_binding_holds_free_over_bound_at_steady_state():
    """Linear, fast binding of a fraction b: at steady state the tissue holds 1/(1 - b) times the
    free drug and the flux is unchanged (1 %)."""
    free = _membrane_run("d", {"d": _clone_of_lidocaine(0.0)})
    bound = _membrane_run("d", {"d": _clone_of_lidocaine(0.5)})
    amount = [r.series["layer_amount/membrane/d"][-1] for r in (free, bound)]
    assert amount[1] / amount[0] == pytest.approx(2.0, rel=0.01)
    assert bound.series["surface_flux/d"][-1] == pytest.approx(free.series["surface_flux/d"][-1], rel=0.01)


@pytest.mark.slow
def test_bound_ions_keep_their_charge():
    """A drug at 100 mM, 90 % bound while it loads the membrane: the bound ions stay charged, so the
    current leaving the deep boundary equals the applied one (charge balance 1e-5; with bound
    charge dropped it was 20)."""
    record = _membrane_run("d", {"d": _clone_of_lidocaine(0.9)}, drug_mM=100.0)
    assert max(record.series["charge_balance_error"]) < 1e-5
    assert max(record.series["mass_balance_error/d"]) < 1e-6


def _default_short():
    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data["donor"]["contents"].pop("Na+")  # the gel without its saline: steps as the test was written for
    data["protocol"] = [{"current": "1.77 mA", "duration": "2 min"}, {"rest": "2 min"}]
    data["outputs"]["profile_times"] = ["4 min"]
    data["numerics"] = {"flux": "lumped"}
    return scenario_from_dict(data)


def solve_on(kind: str, comm=MPI.COMM_SELF):
    from iontosim.mesh.geometry import Geometry
    from iontosim.mesh.skin_mesh import build_skin_mesh

    scenario = _default_short()
    layers = [(layer.name, layer.thickness) for layer in scenario.skin]
    geometry = {
        "column": Geometry(kind="column", resolution=0.5),
        "planar": Geometry(kind="planar", width=1e-4, anode_width=2e-4, resolution=0.5),
        "axisymmetric": Geometry(kind="axisymmetric", width=1e-4, anode_width=1e-4, resolution=0.5),
    }[kind]
    return simulate(scenario, comm, skin_mesh=build_skin_mesh(comm, layers, scenario.donor.thickness, geometry))


@pytest.fixture(scope="module")
def column_short():
    return solve_on("column")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["planar", "axisymmetric"])
def test_a_laterally_uniform_2d_patch_gives_the_1d_answer(kind, column_short):
    """The default scenario (2 min of current, electroosmosis and clearance included) on a planar
    strip or an axisymmetric disc whose anode covers the whole width, against the column with the
    same depth cells: the weak forms are the same in 1D and 2D, so the answers agree to solver
    tolerance (1e-8; measured 7e-12 on the planar dose, 2e-10 on its voltage). The disc checks
    the 2 pi r weighting: per anode area, its amounts are the column's."""
    column, patch = column_short, solve_on(kind)
    assert patch.flux_discretization == "lumped"
    for key in (
        "delivered/lidocaine",
        "delivered/epinephrine",
        "layer_amount/hypodermis/lidocaine",
        "cleared/lidocaine",
        "voltage",
    ):
        assert patch.series[key][-1] == pytest.approx(column.series[key][-1], rel=1e-8), key
    assert max(patch.series["mass_balance_error/lidocaine"]) < 1e-6


@pytest.mark.slow
def test_a_resumed_run_gives_the_uninterrupted_answer():
    """Checkpoint after every step, take the state at step 40 of ~70 (inside the current phase),
    resume from it: every time series equals the uninterrupted run's to 1e-12."""
    scenario = _default_short()
    states = []
    whole = simulate(scenario, MPI.COMM_SELF, checkpoint=states.append, checkpoint_every=0.0)
    assert len(states) > 40
    resumed = simulate(scenario, MPI.COMM_SELF, resume=states[40])
    assert states[40]["t"] < 120.0 < whole.times[-1]
    assert len(resumed.times) == len(whole.times)
    for key, values in whole.series.items():
        assert resumed.series[key] == pytest.approx(values, rel=1e-12, abs=1e-300, nan_ok=True), key


@pytest.mark.slow
def test_resume_keeps_checkpointing_and_the_auto_fallback():
    """A state written while `auto` still tried the fitted flux resumes into the same fallback the
    uninterrupted run took; a resumed run writes checkpoints of its own."""
    scenario = _default_with(16, "auto")
    states = []
    whole = simulate(scenario, MPI.COMM_SELF, checkpoint=states.append, checkpoint_every=0.0)
    assert whole.flux_discretization == "lumped"
    fitted = [s for s in states if s["flux"] == "fitted"]
    assert fitted
    more = []
    resumed = simulate(scenario, MPI.COMM_SELF, resume=fitted[-1], checkpoint=more.append, checkpoint_every=0.0)
    assert resumed.flux_discretization == "lumped" and resumed.warnings == whole.warnings
    assert resumed.series["delivered/lidocaine"][-1] == pytest.approx(
        whole.series["delivered/lidocaine"][-1], rel=1e-12
    )
    assert more


def test_an_anode_that_runs_out_of_chloride_stops_the_run_with_that_reason():
    """2 mM Cl- in 0.1 mm of gel (2e-4 mol/m^2) under 1 mA/cm^2 (1e-4 mol/m^2/s taken by the
    Ag/AgCl anode): migration from the skin cannot keep up, the Cl- at the anode's face is gone
    within seconds (7 s), and the run says so instead of a solver failure."""
    from iontosim.simulation import DeviceLimit
    from tests.conftest import membrane_scenario

    scenario = membrane_scenario(
        drug_mM=1.0,
        salt_mM=1.0,
        donor_mm=0.1,
        layers=[{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 8}],
        protocol=[{"current_density": "1 mA/cm^2", "duration": "1 min"}],
        numerics={"donor_cells": 8},
    )
    with pytest.raises(DeviceLimit, match="used up the chloride at its face"):
        simulate(scenario, MPI.COMM_SELF)
