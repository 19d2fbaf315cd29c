"""Electroosmotic flow on a 2D/3D patch: one linear pressure solve per time step.

The pressure equation's matrix depends only on the mesh and the permeabilities, so it is
assembled once (and factored once, when a direct solver is chosen); each step assembles the
right-hand side from the current potential and updates the cell-wise velocity that the transport
equations convect with (lagged by one step, as the 1D column's uniform flow is).

The linear solver follows numerics.linear_solver by the Newton solve's rule on the pressure's own
unknowns: LU up to the direct-solver limit of the mesh's dimension, conjugate gradients with
algebraic multigrid above it. A 3D LU factor grows faster than the mesh: at 302 000 unknowns of
the 3D block (21 840 pressure unknowns) MUMPS's factor was 10 % of the run's peak memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iontosim._fenics import PETSc, dolfinx, ufl
from iontosim.physics import electroosmosis
from iontosim.solver.newton import ITERATIVE_SOLVERS, choose_linear_solver

fem = dolfinx.fem
fem_petsc = dolfinx.fem.petsc

#: relative residual of the pressure's Krylov solve (1e-10 left the velocity 1e-7 off LU's on the
#: 3D block, 1e-12 8e-10), and its iterations before it counts as failed
DARCY_RTOL = 1e-12
DARCY_MAX_ITER = 500


class DarcyFlow:
    """Pressure with p = 0 on the facets tagged `open_tags` (electrode pad tops and deep tissue),
    no flow through every other boundary. `weighted` maps a form to its measure (2 pi r on
    axisymmetric patches). `velocity` (a DG0 vector Function) is updated in place by `update()`."""

    def __init__(
        self,
        velocity: dolfinx.fem.Function,
        permeability,
        fixed,
        gradient,
        thermal_voltage: float,
        facet_tags,
        open_tags: Sequence[int],
        weighted: Callable,
        linear_solver: str = "auto",
        direct_solver_limit: int | None = None,
    ):
        mesh = velocity.function_space.mesh
        P = fem.functionspace(mesh, ("Lagrange", 1))
        p, q = ufl.TrialFunction(P), ufl.TestFunction(P)
        a, L = electroosmosis.pressure_equation(p, q, permeability, fixed, gradient, thermal_voltage, ufl.dx)
        self.pressure = fem.Function(P, name="pressure")
        fdim = mesh.topology.dim - 1
        facets = [f for tag in open_tags for f in facet_tags.find(tag)]
        import numpy as np

        dofs = fem.locate_dofs_topological(P, fdim, np.unique(np.asarray(facets, dtype=np.int32)))
        self.bcs = [fem.dirichletbc(0.0, dofs, P)]
        self.a, self.L = fem.form(weighted(a)), fem.form(weighted(L))
        self.A = fem_petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.b = fem_petsc.create_vector(P)
        #: the symmetric diagonal scaling of the Krylov path (None: LU)
        self.scale: PETSc.Vec | None = None
        self.ksp = PETSc.KSP().create(mesh.comm)
        self.ksp.setOptionsPrefix("iontosim_darcy_")
        self.ksp.setOperators(self.A)
        unknowns = P.dofmap.index_map.size_global
        self.linear_solver = choose_linear_solver(
            linear_solver, unknowns, mesh.comm.size, direct_solver_limit, mesh.topology.dim
        )
        if self.linear_solver in ITERATIVE_SOLVERS:
            # symmetric positive definite (a weighted Laplacian with p = 0 on the open facets).
            # Scaled symmetrically by its diagonal first: the open regions' permeability is 1e9
            # times the skin's, and unscaled GAMG's smoothers were indefinite (CG stopped after 3
            # iterations on the 3D block); scaled, 160-170 iterations and 0.03 s a solve there,
            # the velocity within 8e-10 of LU's (the open regions amplify the pressure's error).
            # The scaled constant as GAMG's near null space did not help (174-180 iterations).
            self.scale = self.A.getDiagonal()
            self.scale.sqrtabs()
            self.scale.reciprocal()
            self.A.diagonalScale(self.scale, self.scale)
            self.ksp.setType("cg")
            self.ksp.setTolerances(rtol=DARCY_RTOL, atol=0.0, max_it=DARCY_MAX_ITER)
            self.ksp.getPC().setType("gamg")
        else:
            # MUMPS whatever direct solver the Newton solve uses: PETSc's own LU tests its pivots
            # against an absolute 1e-12 and found the skin's (~1e-19 m^2/(Pa s)) zero
            self.ksp.setType("preonly")
            self.ksp.getPC().setType("lu")
            self.ksp.getPC().setFactorSolverType("mumps")
        self.ksp.setFromOptions()
        v = electroosmosis.darcy_velocity(self.pressure, permeability, fixed, gradient, thermal_voltage)
        self.expression = fem.Expression(v, velocity.function_space.element.interpolation_points)
        self.velocity = velocity

    def update(self) -> None:
        with self.b.localForm() as local:
            local.set(0.0)
        fem_petsc.assemble_vector(self.b, self.L)
        fem_petsc.apply_lifting(self.b, [self.a], [self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(self.b, self.bcs)
        if self.scale is not None:  # D A D (D^-1 p) = D b
            self.b.pointwiseMult(self.b, self.scale)
        self.ksp.solve(self.b, self.pressure.x.petsc_vec)
        if self.scale is not None:
            self.pressure.x.petsc_vec.pointwiseMult(self.pressure.x.petsc_vec, self.scale)
        if self.ksp.getConvergedReason() < 0:
            from iontosim.simulation import SimulationError  # imports this module

            raise SimulationError(
                f"electroosmotic flow: the pressure solve ({self.linear_solver}) failed "
                f"(PETSc reason {self.ksp.getConvergedReason()} after {self.ksp.getIterationNumber()} iterations)"
            )
        self.pressure.x.scatter_forward()
        self.velocity.interpolate(self.expression)
        self.velocity.x.scatter_forward()
