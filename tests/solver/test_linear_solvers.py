"""Linear solvers of the Newton steps: the Krylov choices give the LU answer, their iteration
counts stay nearly flat under refinement, and "auto" factorizes small systems."""

import numpy as np
import pytest
from mpi4py import MPI

import iontosim.simulation as simulation
from iontosim.mesh.geometry import Geometry
from iontosim.scenario.load import load_scenario
from iontosim.scenario.schema import Numerics
from iontosim.solver import newton
from iontosim.solver.newton import NewtonSolver, choose_linear_solver
from tests.conftest import CONFIGS, membrane_scenario


def _default_on_patch(solver: str, seconds: float, **numerics):
    """The default scenario's 2D variant (saline return strips), its first `seconds` of current,
    with numerics.linear_solver `solver` and the other `numerics` given."""
    sc = load_scenario(CONFIGS / "lidocaine_epinephrine_2d.yaml")
    first = sc.protocol[0].model_copy(update={"duration": seconds})
    outputs = sc.outputs.model_copy(update={"profile_times": [seconds]})
    return sc.model_copy(
        update={"protocol": [first], "outputs": outputs, "numerics": Numerics(linear_solver=solver, **numerics)}
    )


def _patch(shape: float | Geometry):
    """The scenario's mesh on `shape`: a Geometry, or the resolution of a 2D section with a 1 mm
    anode strip and a 0.5 mm return strip 0.25 mm beside it, where current crowds at three
    electrode edges, so the mesh and the solution vary across as well as in depth. (A laterally
    uniform strip is the column's problem, meshed with a cell or two across.)"""
    from iontosim.mesh.skin_mesh import build_skin_mesh

    sc = _default_on_patch("petsc", 1.0)
    layers = [(layer.name, layer.thickness) for layer in sc.skin]
    geometry = (
        shape
        if isinstance(shape, Geometry)
        else Geometry(
            kind="planar", width=1.5e-3, anode_width=1e-3, return_gap=2.5e-4, return_width=5e-4, resolution=shape
        )
    )
    assert sc.return_electrode is not None
    return build_skin_mesh(
        MPI.COMM_SELF, layers, sc.donor.thickness, geometry, return_thickness=sc.return_electrode.thickness
    )


class _Counting(NewtonSolver):
    """Keeps the Krylov iterations of every Newton iteration of every instance, and the
    preconditioner set-ups of the potential split (a list per instance)."""

    krylov: list[int] = []
    #: preconditioner set-ups of each instance's potential split, by instance
    set_ups: dict[int, int] = {}

    def _linear_solve(self):
        iterations, reason = super()._linear_solve()
        _Counting.krylov.append(iterations)
        if self.split is not None:
            _Counting.set_ups[id(self)] = self.split.rebuilds
        return iterations, reason


def _run(solver: str, seconds: float, shape: float | Geometry, monkeypatch, **numerics):
    _Counting.krylov, _Counting.set_ups = [], {}
    monkeypatch.setattr(simulation, "NewtonSolver", _Counting)
    sc = _default_on_patch(solver, seconds, **numerics)
    return simulation.simulate(sc, MPI.COMM_SELF, skin_mesh=_patch(shape))


def _column_model():
    from iontosim.model import Model

    layer = [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 20}]
    sc = membrane_scenario(layers=layer, protocol=[{"current_density": "1 mA/cm^2", "duration": "1 min"}])
    model = Model(sc, MPI.COMM_SELF)
    bcs = model.boundary_conditions()
    model.initial_state()
    model.current_density.value = 10.0
    model.dt.value = 1.0
    return model, bcs


def test_auto_factorizes_below_the_limit_and_iterates_above():
    assert Numerics().direct_solver_limit is None  # the limit of the mesh's dimension
    assert choose_linear_solver("auto", 1_000, ranks=1) == "petsc"  # 1D: the pinned answers
    assert choose_linear_solver("auto", 10**6, ranks=1) == "petsc"
    assert choose_linear_solver("auto", 1_000, ranks=2) == "mumps"
    assert choose_linear_solver("auto", 1_000, ranks=1, dim=2) == "mumps"
    for dim in (2, 3):
        limit = newton.DIRECT_SOLVER_LIMITS[dim]
        assert choose_linear_solver("auto", limit, ranks=1, dim=dim) == "mumps"
        assert choose_linear_solver("auto", limit + 1, ranks=1, dim=dim) == "gmres_gamg"
    assert choose_linear_solver("auto", 101, ranks=1, direct_limit=100) == "gmres_gamg"
    assert choose_linear_solver("gmres_asm", 10, ranks=1) == "gmres_asm"  # an explicit choice stands
    model, bcs = _column_model()
    small = NewtonSolver(model.residual, model.jacobian, model.u, bcs, limit_update=model.limit_update)
    assert small.linear_solver == "petsc"
    low = NewtonSolver(
        model.residual, model.jacobian, model.u, bcs, direct_solver_limit=10, limit_update=model.limit_update
    )
    assert low.linear_solver == "gmres_gamg"
    result = low.solve()  # the potential split also runs on the 1D column
    assert result.converged and result.linear_iterations > 0
    for solver in (small, low):
        solver.destroy()


@pytest.mark.parametrize("solver", ["gmres_gamg", "gmres_asm"])
def test_a_krylov_solver_gives_the_lu_newton_solve_on_a_column(solver):
    """One backward-Euler step at 1 mA/cm2 through a membrane (1D): the state agrees with LU's
    to 1e-9 (relative, in mu and psi)."""
    states = {}
    for choice in ("petsc", solver):
        model, bcs = _column_model()
        newton_solver = NewtonSolver(
            model.residual, model.jacobian, model.u, bcs, linear_solver=choice, limit_update=model.limit_update
        )
        result = newton_solver.solve()
        newton_solver.destroy()
        assert result.converged and (result.linear_iterations > 0) == (choice != "petsc")
        states[choice] = model.u.x.array.copy()
    lu = states["petsc"]
    assert np.max(np.abs(states[solver] - lu)) < 1e-9 * np.max(np.abs(lu))


def test_a_krylov_failure_fails_the_newton_solve_with_its_reason():
    model, bcs = _column_model()
    solver = NewtonSolver(
        model.residual,
        model.jacobian,
        model.u,
        bcs,
        linear_solver="gmres_asm",
        krylov_max_iter=1,
        limit_update=model.limit_update,
    )
    result = solver.solve()
    solver.destroy()
    assert not result.converged and result.iterations == 1 and result.linear_iterations == 1
    assert result.reason == "linear solver failed (DIVERGED_MAX_IT after 1 iterations)"


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["gmres_gamg", "gmres_asm"])
def test_a_krylov_solver_gives_the_lu_answer(solver, monkeypatch):
    """10 s of the LidoSite current on a 2D patch (8704 unknowns, 22 time steps): the same time
    steps, and dose, voltage and drug profile as LU to 1e-8 (measured, gamg / asm: dose 4e-11 /
    3e-11, epinephrine 4e-11 / 1e-12, voltage 1.7e-9 / 1.7e-9, profile 8e-11 / 7e-11). gmres_asm
    needs 160 iterations per Newton iteration here, 177 at most (more than the default 200 before
    the Jacobian's zeros were dropped: a step retried shorter, other steps): it may take 1000,
    so that its converged answer is compared."""
    lu = _run("petsc", 10.0, 0.5, monkeypatch)
    krylov = _run(solver, 10.0, 0.5, monkeypatch, krylov_max_iter=1000)
    assert min(_Counting.krylov) > 0
    np.testing.assert_array_equal(krylov.times, lu.times)
    for key in ("delivered/lidocaine", "delivered/epinephrine", "voltage"):
        assert krylov.series[key][-1] == pytest.approx(lu.series[key][-1], rel=1e-8), key
    a, b = (r.profiles[-1].concentration["lidocaine"] for r in (krylov, lu))
    assert np.max(np.abs(a - b) / np.maximum(b, 1e-6 * b.max())) < 1e-8


@pytest.mark.slow
def test_gmres_gamg_gives_the_lu_answer_on_a_3d_block(monkeypatch):
    """The first 0.05 s of current on a 3D quarter patch (a square anode of side 1 mm, a return
    strip 1 mm beside it; 23 416 unknowns, 9 steps): the 3D gauge hierarchy and the Darcy solve's
    conjugate gradients give MUMPS's time steps, its dose to 1e-7 (measured 4.5e-9) and its
    voltage to 3e-7 (measured 1.3e-7). The voltage's bound was 1e-7 when written, and missed:
    at the default Newton tolerance (1e-6, on the update) the voltage is not set more closely
    than that, LU's own moving by 8.6e-8 when newton_tol is 1e-8 (and gmres_gamg's with
    krylov_rtol 1e-10 is 6e-9 from LU's)."""
    block = Geometry(kind="block", width=3e-3, anode_width=1e-3, return_gap=1e-3, return_width=1e-3, resolution=0.125)
    lu = _run("mumps", 0.05, block, monkeypatch)
    krylov = _run("gmres_gamg", 0.05, block, monkeypatch)
    assert 0 < min(_Counting.krylov) and max(_Counting.krylov) < 20
    np.testing.assert_array_equal(krylov.times, lu.times)
    assert krylov.series["delivered/lidocaine"][-1] == pytest.approx(lu.series["delivered/lidocaine"][-1], rel=1e-7)
    assert krylov.series["voltage"][-1] == pytest.approx(lu.series["voltage"][-1], rel=3e-7)


@pytest.mark.slow
def test_a_reused_preconditioner_gives_the_lu_answer_with_fewer_set_ups(monkeypatch):
    """numerics.reuse_preconditioner on the patch above: the same time steps, dose, voltage and
    profile as LU to 1e-8 (measured: 5e-11, 1.8e-9, 9e-11), with fewer than half as many
    preconditioner set-ups as Newton iterations (measured: 33 for 86) and more Krylov iterations
    (684 against 341 with a new preconditioner every Newton iteration)."""
    lu = _run("petsc", 10.0, 0.5, monkeypatch)
    fresh = _run("gmres_gamg", 10.0, 0.5, monkeypatch)
    fresh_krylov = sum(_Counting.krylov)
    reused = _run("gmres_gamg", 10.0, 0.5, monkeypatch, reuse_preconditioner=True)
    np.testing.assert_array_equal(reused.times, lu.times)
    for key in ("delivered/lidocaine", "delivered/epinephrine", "voltage"):
        assert reused.series[key][-1] == pytest.approx(lu.series[key][-1], rel=1e-8), key
    a, b = (r.profiles[-1].concentration["lidocaine"] for r in (reused, lu))
    assert np.max(np.abs(a - b) / np.maximum(b, 1e-6 * b.max())) < 1e-8
    newton_iterations = len(_Counting.krylov)
    assert fresh.solver["newton_iterations"] == newton_iterations  # the same Newton path
    (set_ups,) = _Counting.set_ups.values()  # the patch's solver (the return pad's is direct)
    assert 1 < set_ups < 0.5 * newton_iterations  # rebuilt when the iterations grew
    assert sum(_Counting.krylov) > fresh_krylov  # what the reuse costs


@pytest.mark.slow
def test_gamg_iterations_stay_nearly_flat_under_refinement(monkeypatch):
    """Resolution 0.5 -> 1 (8704 -> 27 580 unknowns), 20 s of current: Krylov iterations per Newton
    iteration grow by less than 1.3x (measured 4.19 -> 5.36, 1.28x)."""
    means = []
    for resolution in (0.5, 1.0):
        _run("gmres_gamg", 20.0, resolution, monkeypatch)
        means.append(np.mean(_Counting.krylov))
    assert means[1] < 1.3 * means[0]


def test_the_config_numerics_reach_the_newton_solver():
    """numerics.direct_solver_limit and krylov_max_iter in a config are the ones the run uses: a
    limit of 1 unknown makes "auto" iterate; one Krylov iteration allowed fails a solve that
    needs two, and the step is retried (measured on this column: 0 rejected steps at the default
    200, 1 at 1), and the summary's solver section reports it."""
    layer = [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 20}]
    protocol = [{"current_density": "1 mA/cm^2", "duration": "2 s"}]

    def solved(**numerics):
        return simulation.simulate(
            membrane_scenario(layers=layer, protocol=protocol, numerics=numerics), MPI.COMM_SELF
        ).solver

    assert solved()["linear_solver"] == "petsc"
    assert solved(direct_solver_limit=1)["linear_solver"] == "gmres_gamg"
    free, capped = solved(linear_solver="gmres_asm"), solved(linear_solver="gmres_asm", krylov_max_iter=1)
    assert free["rejected_steps"] == 0 and free["krylov_iterations"] > free["newton_iterations"]
    assert capped["rejected_steps"] > 0 and capped["krylov_iterations"] == capped["newton_iterations"]


def test_the_gauge_multigrid_follows_the_mesh_and_leaves_user_options_alone():
    """3D: aggressive coarsening and V-cycles on the gauge block; 2D: smoothed aggregation with
    W-cycles, also when a 3D solver came first in the same process; an option the user set wins."""
    import basix.ufl
    from dolfinx import fem, mesh
    from petsc4py import PETSc

    def split(dim: int) -> None:
        make = mesh.create_unit_cube if dim == 3 else mesh.create_unit_square
        domain = make(MPI.COMM_SELF, *([2] * dim))
        p1 = basix.ufl.element("Lagrange", domain.basix_cell(), 1)
        dg1 = basix.ufl.element("DG", domain.basix_cell(), 1)
        W = fem.functionspace(domain, basix.ufl.mixed_element([p1, p1, dg1]))
        newton.PotentialSplit(W, 1e-8, 10, "gauge_test_").destroy()

    options = PETSc.Options()
    key = "gauge_test_potential_pc_mg_cycle_type"
    try:
        split(3)
        assert options.getString(key) == "v"
        assert options.getString("gauge_test_potential_pc_gamg_aggressive_coarsening") == "3"
        split(2)
        assert options.getString(key) == "w"
        options.setValue(key, "v")  # as a user would (a notebook, between two runs)
        split(2)
        assert options.getString(key) == "v"
    finally:
        for name in [k for k in newton._DEFAULTED if k.startswith("gauge_test_")] + [key]:
            newton._DEFAULTED.pop(name, None)
            options.delValue(name)


def test_a_mesh_s_jacobian_stores_only_its_nonzeros_and_follows_new_ones():
    """On 2D/3D meshes the Newton solver drops the zeros of the form's pattern
    (NewtonSolver._compress): on the 2D patch more than half of the stored entries go (measured:
    8.8 of 35.1 per row kept). The first Newton update of the switch-on (a jump of ~90 thermal
    units in psi, the system's condition ~1e9 after equilibration) is then the whole pattern's
    LU update to 1e-6 of its largest entry, with MUMPS (measured 1.0e-7: another elimination order)
    and with gmres_gamg (measured 4.3e-7, the same as on the whole pattern: its tolerance, 1e-8,
    is on the reduced residual). An entry the first Jacobian did not have is stored when it
    comes, the split's blocks made anew."""
    sc = _default_on_patch("gmres_gamg", 1.0)
    from iontosim.model import Model

    solvers = {}
    for name, solver in (("whole", "petsc"), ("mumps", "mumps"), ("gmres_gamg", "gmres_gamg")):
        model = Model(sc, MPI.COMM_SELF, skin_mesh=_patch(0.5))
        bcs = model.boundary_conditions()
        model.initial_state()
        model.current_density.value = 3.54
        model.dt.value = 1e-3
        solvers[name] = NewtonSolver(model.residual, model.jacobian, model.u, bcs, linear_solver=solver, max_iter=1)
        solvers[name]._assemble()
        solvers[name]._linear_solve()
    whole, lu, krylov = solvers["whole"], solvers["mumps"], solvers["gmres_gamg"]
    assert not whole.compress  # PETSc's own LU keeps the whole pattern (NewtonSolver.compress)
    for compressed in (lu, krylov):
        assert compressed.A.getInfo()["nz_used"] < 0.5 * whole.A.getInfo()["nz_used"]
    reference = whole.du.x.array
    size = np.max(np.abs(reference))
    assert np.max(np.abs(lu.du.x.array - reference)) < 1e-6 * size
    assert np.max(np.abs(krylov.du.x.array - reference)) < 1e-6 * size
    # a value where the first Jacobian had a zero: stored, and the split starts its blocks again
    indptr, columns, _ = krylov.A.getValuesCSR()
    row = 0
    missing = next(c for c in range(krylov.A.getSize()[1]) if c not in set(columns[indptr[row] : indptr[row + 1]]))
    krylov.A.setValue(row, missing, 1.0)
    krylov.A.assemble()
    stored = krylov.A.getInfo()["nz_used"]
    krylov._assemble()
    assert krylov.A.getInfo()["nz_used"] == stored and krylov.split.S is None  # forgotten
    krylov._linear_solve()
    assert np.max(np.abs(krylov.du.x.array - reference)) < 1e-6 * size
    for solver in solvers.values():
        solver.destroy()
