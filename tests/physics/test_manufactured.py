"""Manufactured solutions for the composed weak-form terms (docs/physics.md, Verification).

A binary electrolyte (z = +1, -1; D = 1, 2) with a fixed charge X = 0.3 on the unit interval,
electroneutral, with

    c_+ = 1 + 0.5 sin(pi x) exp(-a t),   c_- = c_+ + X,   psi = 10 x^2 (1 + a t),

and the sources f_i = dc_i/dt + d/dx J_i, J_i = -D_i (c_i' + z_i c_i psi'), added to the residual built from
iontosim.physics.transport and electroneutrality exactly as the model composes them; mu_+- are
held at their exact values at both ends. The field is far from uniform, so this checks what the
Goldman tests cannot: migration in a varying field, storage, and the coupling through
electroneutrality.

- space (a = 0, steady): largest nodal error of c_+, c_- and psi on 16, 32, 64, 128 cells
  (cell Peclet numbers up to 1.25); observed orders in [1.8, 2.3] for both fluxes (both are
  consistent finite-volume fluxes on a uniform mesh; measured 2.00-2.01 lumped, 1.91-1.99 fitted).
- time (a = 1, 256 cells, t to 0.4): backward Euler with dt = 0.1, 0.05, 0.025; observed orders
  in [0.85, 1.15].
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim._fenics import dolfinx, ufl
from iontosim.physics import electroneutrality, transport
from iontosim.solver.newton import NewtonSolver

fem = dolfinx.fem
PSI_AMPLITUDE = 10.0  # thermal units: the potential drop across the interval at t = 0
FIXED_CHARGE = 0.3  # X, so that c_- = c_+ + X: the two ions differ and the field moves c
DIFFUSIVITY = (1.0, 2.0)  # cation, anion


class ManufacturedBinaryElectrolyte:
    """The discrete problem on n cells with one flux discretization; exact data as UFL."""

    def __init__(self, n: int, flux: str, a: float):
        import basix.ufl

        mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, n, [0.0, 1.0])
        cell = mesh.basix_cell()
        p1, dg1 = basix.ufl.element("Lagrange", cell, 1), basix.ufl.element("DG", cell, 1)
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([p1, p1, dg1]))
        self.u, self.u_prev = fem.Function(self.W), fem.Function(self.W)
        self.t = fem.Constant(mesh, 0.0)
        self.dt = fem.Constant(mesh, 1.0)
        self.a = fem.Constant(mesh, a)
        x = ufl.SpatialCoordinate(mesh)[0]
        c_exact = 1.0 + 0.5 * ufl.sin(math.pi * x) * ufl.exp(-self.a * self.t)
        self.c_exact = (c_exact, c_exact + FIXED_CHARGE)
        self.psi_exact = PSI_AMPLITUDE * x**2 * (1.0 + self.a * self.t)
        dc_dt = -self.a * 0.5 * ufl.sin(math.pi * x) * ufl.exp(-self.a * self.t)

        dxv = ufl.Measure("dx", domain=mesh, metadata=transport.VERTEX_QUADRATURE)
        dxm = ufl.Measure("dx", domain=mesh, metadata=transport.MIDPOINT_QUADRATURE)
        mu_p, mu_m, psi = ufl.split(self.u)
        w_p, w_m, q = ufl.TestFunctions(self.W)
        charges = (1.0, -1.0)
        c = [transport.concentration(m, psi, 1.0, z) for m, z in zip((mu_p, mu_m), charges)]
        prev = ufl.split(self.u_prev)
        c_prev = [transport.concentration(m, prev[2], 1.0, z) for m, z in zip(prev[:2], charges)]
        vertex, midpoint = 0, 0
        for ci, ci_prev, mu, z, d, ce, w in zip(
            c, c_prev, (mu_p, mu_m), charges, DIFFUSIVITY, self.c_exact, (w_p, w_m)
        ):
            flux_exact = -d * (ce.dx(0) + z * ce * self.psi_exact.dx(0))
            source = dc_dt + flux_exact.dx(0)
            vertex += transport.storage(ci, ci_prev, 1.0, self.dt, w, dxv) - source * w * dxv
            if flux == "fitted":
                midpoint += transport.edge_electrodiffusion(mu, psi, 1.0, z, d, w, dxm)
            else:
                vertex += transport.electrodiffusion(ci, mu, d, w, dxv)
        vertex += electroneutrality.residual(c, charges, FIXED_CHARGE, q, dxv)
        parts = [vertex, midpoint] if flux == "fitted" else [vertex]  # one quadrature rule per form
        self.residual = [fem.form(F) for F in parts]
        self.jacobian = [fem.form(ufl.derivative(F, self.u)) for F in parts]

        mesh.topology.create_connectivity(0, 1)
        ends = dolfinx.mesh.locate_entities_boundary(mesh, 0, lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1))
        self.boundary_values, self.bcs = [], []
        for i in range(2):
            Vi, _ = self.W.sub(i).collapse()
            g = fem.Function(Vi)
            self.boundary_values.append((g, Vi, charges[i]))
            self.bcs.append(
                fem.dirichletbc(g, fem.locate_dofs_topological((self.W.sub(i), Vi), 0, ends), self.W.sub(i))
            )
        self._set_exact(self.u)
        self.newton = NewtonSolver(self.residual, self.jacobian, self.u, self.bcs, tol=1e-11)

    def _exact_mu(self, z):
        return ufl.ln(self.c_exact[0 if z > 0 else 1]) + z * self.psi_exact

    def _set_exact(self, target):
        for i, (g, Vi, z) in enumerate(self.boundary_values):
            g.interpolate(fem.Expression(self._exact_mu(z), Vi.element.interpolation_points))
            sub = target.sub(i)
            sub.interpolate(fem.Expression(self._exact_mu(z), Vi.element.interpolation_points))
        V3, _ = self.W.sub(2).collapse()
        target.sub(2).interpolate(fem.Expression(self.psi_exact, V3.element.interpolation_points))

    def advance(self, t_end: float, dt: float) -> None:
        self.dt.value = dt
        steps = round(t_end / dt)
        for k in range(1, steps + 1):
            self.u_prev.x.array[:] = self.u.x.array
            self.t.value = k * dt
            for g, Vi, z in self.boundary_values:
                g.interpolate(fem.Expression(self._exact_mu(z), Vi.element.interpolation_points))
            result = self.newton.solve()
            assert result.converged, result

    def nodal_error(self) -> float:
        """Largest nodal error of c_+, c_- and psi (per cell vertex: psi is discontinuous)."""
        exact = fem.Function(self.u.function_space)
        self._set_exact(exact)

        def nodal(f):
            mu_p, mu_m, psi = (f.x.array[self.W.sub(i).dofmap.list.ravel()] for i in range(3))
            return np.concatenate([np.exp(mu_p - psi), np.exp(mu_m + psi), psi])

        return float(np.max(np.abs(nodal(self.u) - nodal(exact))))


def _orders(errors):
    errors = np.asarray(errors)
    return np.log2(errors[:-1] / errors[1:])


@pytest.mark.parametrize("flux", ["lumped", "fitted"])
def test_space_order_is_two(flux):
    errors = []
    for n in [16, 32, 64, 128]:
        problem = ManufacturedBinaryElectrolyte(n, flux, a=0.0)
        problem.advance(t_end=1e3, dt=1e3)  # steady: one backward-Euler step is the steady solve
        errors.append(problem.nodal_error())
    orders = _orders(errors)
    assert np.all((orders > 1.8) & (orders < 2.3)), (errors, orders)


def test_time_order_is_one():
    errors = []
    for dt in [0.1, 0.05, 0.025]:
        problem = ManufacturedBinaryElectrolyte(256, "lumped", a=1.0)
        problem.advance(t_end=0.4, dt=dt)
        errors.append(problem.nodal_error())
    orders = _orders(errors)
    assert np.all((orders > 0.85) & (orders < 1.15)), (errors, orders)
