"""Electroosmosis on a patch (solver/darcy.py) against the 1D column's uniform flow.

On a laterally uniform strip the Darcy pressure solve must reproduce the column's velocity
(physics/electroosmosis.column_velocity) in every cell: the regions without hydraulic resistance
are modelled by a permeability OPEN_PERMEABILITY_FACTOR (1e9) times the charged layers', so the
two agree to ~5e-7 (measured 4.5e-4 with 1e6); the test allows 1e-5, with LU and with the
conjugate gradients and multigrid that 3D patches use (the permeabilities' 1e9 contrast
included), and the two agree to 1e-8 of the velocity (8e-10 measured on the 3D block).
"""

from __future__ import annotations

import numpy as np
import pytest

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.mesh.column import DEEP, ELECTRODE
from iontosim.physics import electroosmosis

pytestmark = pytest.mark.slow


def test_darcy_flow_on_a_uniform_strip_is_the_column_flow(default_scenario_short, monkeypatch):
    from iontosim.mesh.geometry import Geometry
    from iontosim.mesh.skin_mesh import build_skin_mesh
    from iontosim.model import Model
    from iontosim.physics.electroosmosis import Electroosmosis
    from iontosim.physics.fixed_charge import FixedCharge
    from iontosim.solver.darcy import DarcyFlow

    scenario = default_scenario_short
    comm = MPI.COMM_SELF
    layers = [(layer.name, layer.thickness) for layer in scenario.skin]
    strip = Geometry(kind="planar", width=1e-4, anode_width=2e-4, resolution=0.5)
    model = Model(scenario, comm, build_skin_mesh(comm, layers, scenario.donor.thickness, strip))
    flow_term = model.find(Electroosmosis)
    assert flow_term.flow_model == "column" and model.has_flow
    # a potential falling linearly with depth, 2 thermal units per 100 um (an applied field)
    V, dofs = model.W.sub(model.ns).collapse()
    psi = dolfinx.fem.Function(V)
    psi.interpolate(lambda x: -2e4 * x[1])
    model.u.x.array[dofs] = psi.x.array
    model.u.x.scatter_forward()

    drives = flow_term.drives(model)
    charged = [(r.thickness, k) for r, k in zip(model.regions, flow_term.kappa_over_mu) if k > 0]
    expected = electroosmosis.column_velocity(drives, [t for t, _ in charged], [k for _, k in charged])
    assert abs(expected) > 0

    def velocity(linear_solver: str) -> np.ndarray:
        v = dolfinx.fem.Function(dolfinx.fem.functionspace(model.mesh, ("DG", 0, (2,))))
        flow = DarcyFlow(
            v,
            flow_term.hydraulic_permeability(model),
            model.find(FixedCharge).fixed,
            ufl.grad(ufl.split(model.u)[model.ns]),
            model.thermal_voltage(),
            model.column.facet_tags,
            (ELECTRODE, DEEP),
            model.weighted,
            linear_solver=linear_solver,
        )
        flow.update()
        assert (flow.ksp.getType() == "cg") == (linear_solver == "gmres_gamg")
        return v.x.array.reshape(-1, 2)

    direct, krylov = velocity("mumps"), velocity("gmres_gamg")
    for v in (direct, krylov):
        assert np.max(np.abs(v[:, 1] - expected)) <= 1e-5 * abs(expected)
        assert np.max(np.abs(v[:, 0])) <= 1e-5 * abs(expected)  # no sideways flow
    assert np.max(np.abs(krylov - direct)) <= 1e-8 * np.max(np.abs(direct))
    # a pressure solve that stops short fails the run's step with one message (not a traceback)
    from iontosim.simulation import SimulationError
    from iontosim.solver import darcy

    monkeypatch.setattr(darcy, "DARCY_MAX_ITER", 1)
    with pytest.raises(SimulationError, match="pressure solve"):
        velocity("gmres_gamg")
