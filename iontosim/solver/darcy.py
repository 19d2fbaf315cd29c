"""Electroosmotic flow on a 2D/3D patch: one linear pressure solve per time step.

The pressure equation's matrix depends only on the mesh and the permeabilities, so it is
assembled and factored once; each step assembles the right-hand side from the current potential
and updates the cell-wise velocity that the transport equations convect with (lagged by one
step, as the 1D column's uniform flow is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iontosim._fenics import PETSc, dolfinx, ufl
from iontosim.physics import electroosmosis

fem = dolfinx.fem
fem_petsc = dolfinx.fem.petsc


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
        linear_solver: str = "mumps",
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
        self.ksp = PETSc.KSP().create(mesh.comm)
        self.ksp.setOptionsPrefix("iontosim_darcy_")
        self.ksp.setOperators(self.A)
        self.ksp.setType("preonly")
        self.ksp.getPC().setType("lu")
        self.ksp.getPC().setFactorSolverType("petsc" if mesh.comm.size == 1 and linear_solver == "petsc" else "mumps")
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
        self.ksp.solve(self.b, self.pressure.x.petsc_vec)
        self.pressure.x.scatter_forward()
        self.velocity.interpolate(self.expression)
        self.velocity.x.scatter_forward()
