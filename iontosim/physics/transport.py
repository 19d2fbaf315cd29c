"""Nernst-Planck transport in electrochemical-potential form.

Unknowns: mu_i = ln(c_i / K_i) + z_i psi (continuous), psi = F phi / (R T) (discontinuous at
layer interfaces). Then

    c_i = K_i exp(mu_i - z_i psi)          positive by construction
    J_i = -D_i c_i grad(mu_i) + c_i v      (migration and diffusion in one term, plus convection)

Partition (K) and Donnan jumps are exact at interfaces because mu_i is continuous there while
K_i and psi jump. Storage, reactions and electroneutrality use vertex quadrature (mass lumping),
which makes the scheme a conservative finite-volume (box) scheme with nodal electroneutrality.
The diffusion-migration flux is either that J with vertex quadrature (lumped: first order) or
the Scharfetter-Gummel flux along each edge (fitted: exact for a constant field), at the cell
midpoint on simplices (`edge_averaged_flux`) or at the vertices on axis-aligned boxes
(`box_fitted_flux`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import MPI, ufl
from iontosim.physics.constants import BOLTZMANN, FARADAY
from iontosim.physics.term import Series, Term, TransportedForm
from iontosim.solver.stepping import rate_of_change

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

#: Vertex quadrature: integrals are evaluated from nodal values only (lumped mass).
VERTEX_QUADRATURE = {"quadrature_rule": "vertex", "quadrature_degree": 1}
#: One Gauss point at the cell midpoint, for the exponentially fitted flux.
MIDPOINT_QUADRATURE = {"quadrature_rule": "default", "quadrature_degree": 0}


def concentration(mu, psi, partition, charge):
    """c = K exp(mu - z psi) [mol/m^3 of pore fluid]."""
    return partition * ufl.exp(mu - charge * psi)


def storage(c, c_previous, porosity, dt, test, dx, bdf2=None):
    """Accumulation d(eps c)/dt: backward Euler, or with `bdf2` = ((a0, a1, a2), c_before) the
    variable-step BDF2 (solver/stepping.bdf2_weights) from the level before the previous one."""
    if bdf2 is None:
        return porosity * (c - c_previous) / dt * test * dx
    weights, c_before = bdf2
    return porosity * rate_of_change((c, c_previous, c_before), weights, dt) * test * dx


def electrodiffusion(c, mu, diffusivity, test, dx):
    """-J.grad(w) for J = -D c grad(mu): diffusion and migration together."""
    return diffusivity * c * ufl.inner(ufl.grad(mu), ufl.grad(test)) * dx


def log_bernoulli(x):
    """ln B(x), B(x) = x / (exp(x) - 1), without overflow for large |x| and without 0/0 at x = 0.

    B(x) = b(|x|) exp(-max(x, 0)) with b(a) = a / (1 - exp(-a)) >= 1, which never overflows.
    """
    a = abs(x)
    small = a < 1e-3
    safe = ufl.conditional(small, 1.0, a)
    large = ufl.ln(safe / (1.0 - ufl.exp(-safe))) - ufl.max_value(x, 0.0)
    return ufl.conditional(small, -x / 2.0 - x * x / 24.0, large)


def scharfetter_gummel(s_a, s_b, pe):
    """The Scharfetter-Gummel flux along an edge from a to b, times the edge's length, per D K:

        c_a B(Pe) - c_b B(-Pe),    c = K exp(s),    Pe = z (psi_b - psi_a),    B(x) = x / (exp(x) - 1),

    exact with psi linear and the flux constant along the edge, for any edge Peclet number (the
    Goldman case), and the upwind flux as |Pe| grows. Each term is one exponential,
    exp(s + ln B(+-Pe)): smooth, positive, and free of the overflow a swept-out species would
    cause."""
    return ufl.exp(s_a + log_bernoulli(pe)) - ufl.exp(s_b + log_bernoulli(-pe))


def edge_averaged_flux(mu, psi, partition, charge, diffusivity):
    """The fitted particle flux density J [vector] of a simplex cell: Scharfetter-Gummel along each
    edge, weighted by the P1 stiffness, the edge-averaged finite element scheme (EAFE) of Xu and
    Zikatanov (1999). J is constant in the cell: evaluate it at the midpoint
    (MIDPOINT_QUADRATURE).

    It is the vector whose work against the gradient of a P1 test function w is the edge sum

        -|K| J . grad(w) = sum over edges  omega_ab D K sg_ab (w_a - w_b),   omega_ab = -|K| grad(l_a) . grad(l_b),

    with l the barycentric coordinates and sg_ab the `scharfetter_gummel` flux from a to b, i.e.
    J = D K sum (-grad(l_a) . grad(l_b)) sg_ab (x_b - x_a). On a 1D cell of length h this is the
    Scharfetter-Gummel flux D K sg / h. The scheme is monotone (an M-matrix) where the omega of
    every edge sum to >= 0, as on Delaunay meshes. The end values come from the P1 mu and the DG1
    psi at the midpoint and their gradients; K and D are the cell's, so the partition and Donnan
    jumps at layer interfaces stay exact (mu is continuous there, psi and K jump).
    """
    domain = ufl.domain.extract_unique_domain(mu)
    tdim = domain.topological_dimension  # an attribute in UFL 2025, a method before
    tdim = tdim() if callable(tdim) else tdim
    jacobian = ufl.Jacobian(domain)  # columns: the edges from vertex 0 of the reference simplex
    inverse = ufl.JacobianInverse(domain)
    s = mu - charge * psi  # ln(c / K)
    # vertex k of the reference simplex: 0 the origin, k the unit vector e_(k-1)
    reference = [[0.0] * tdim] + [[1.0 if j == k else 0.0 for j in range(tdim)] for k in range(tdim)]
    gradients = [[-1.0] * tdim] + [[1.0 if j == k else 0.0 for j in range(tdim)] for k in range(tdim)]
    barycentric = [inverse.T * ufl.as_vector(g) for g in gradients]  # grad(l_k), constant in the cell
    # s at each vertex, from its midpoint value and gradient (linear in the cell)
    s_at = [s + ufl.dot(ufl.grad(s), jacobian * ufl.as_vector([v - 1.0 / (tdim + 1) for v in r])) for r in reference]
    parts = []
    for a in range(tdim + 1):
        for b in range(a + 1, tdim + 1):
            edge = jacobian * ufl.as_vector([q - p for p, q in zip(reference[a], reference[b])])  # x_b - x_a
            along = scharfetter_gummel(s_at[a], s_at[b], charge * ufl.dot(ufl.grad(psi), edge))
            parts.append(-ufl.dot(barycentric[a], barycentric[b]) * along * edge)
    return partition * diffusivity * sum(parts[1:], parts[0])


def box_fitted_flux(mu, psi, partition, charge, diffusivity, edges):
    """The fitted particle flux density J [vector] at a vertex of an axis-aligned box
    (quadrilateral, hexahedron), for VERTEX_QUADRATURE: along each axis i, the Scharfetter-Gummel
    flux on the box's edge from this vertex, divided by its signed length (`edges`[i], a DG1
    field: + the box's side where the edge points along +x_i, - where it points back).

    With vertex quadrature (weight |box| / 2^d at each vertex), a box's edge along axis i enters
    the balance of each end vertex with |box| / 2^d D K sg_ab (w_a - w_b) / h_i^2, so with the
    weight omega = 2 |box| / (2^d h_i^2) in all: the edge's entry in the box's Q1 stiffness under
    vertex quadrature (the lumped flux's weights), which is the box (finite-volume) scheme's, the
    area of the dual cells' facet the edge crosses over its length. Along an edge the Q1 fields
    are linear, so the far end's value is the near one plus the edge times the gradient. It is
    the simplices' `edge_averaged_flux` on the boxes of an extrusion."""
    s = mu - charge * psi
    components = []
    for i in range(len(edges)):
        h = edges[i]
        along = scharfetter_gummel(s, s + h * s.dx(i), charge * h * psi.dx(i))
        components.append(along / h)
    return partition * diffusivity * ufl.as_vector(components)


def box_edges(mesh) -> Any:
    """The signed length of each cell's edge from each of its vertices along each axis (a DG1
    vector field, `box_fitted_flux`), or None if the cells are not axis-aligned boxes
    (quadrilaterals, hexahedra) on every rank."""
    import basix.ufl

    from iontosim._fenics import dolfinx

    tdim = mesh.topology.dim
    boxes = mesh.topology.cell_type.name in ("quadrilateral", "hexahedron")
    space = dolfinx.fem.functionspace(mesh, basix.ufl.element("DG", mesh.basix_cell(), 1, shape=(tdim,)))
    n_cells = mesh.topology.index_map(tdim).size_local
    dofs = space.dofmap.list[:n_cells]  # one block (a vertex) per entry
    x = space.tabulate_dof_coordinates()[dofs][:, :, :tdim]  # (cells, 2^d, d)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    tol = 1e-9 * (hi - lo).max(axis=2, keepdims=True)
    at_lo, at_hi = np.abs(x - lo) <= tol, np.abs(x - hi) <= tol
    boxes = boxes and bool((at_lo ^ at_hi).all())  # every vertex a corner of its cell's bounding box
    if not mesh.comm.allreduce(boxes, op=MPI.LAND):
        return None
    edges = dolfinx.fem.Function(space, name="box_edges")
    values = np.where(at_lo, hi - lo, lo - hi)  # toward the other end of the box along each axis
    edges.x.array.reshape(-1, tdim)[dofs] = values
    edges.x.scatter_forward()
    return edges


def on_simplices(mesh) -> bool:
    """Whether `mesh` (DOLFINx) is made of simplices, the cells `edge_averaged_flux` is defined on."""
    return mesh.topology.cell_type.name in ("interval", "triangle", "tetrahedron")


def edge_electrodiffusion(mu, psi, partition, charge, diffusivity, test, dx_mid):
    """-J.grad(w) with the fitted flux J of `edge_averaged_flux`, at the cell midpoint."""
    return -ufl.inner(edge_averaged_flux(mu, psi, partition, charge, diffusivity), ufl.grad(test)) * dx_mid


def convection(c, velocity, test, dx):
    """-J.grad(w) for the convective flux J = c v (electroosmotic solvent flow)."""
    return -c * ufl.inner(velocity, ufl.grad(test)) * dx


def renkin_hindrance(solute_radius: float, pore_radius: float) -> float:
    """Renkin diffusive hindrance H(lambda), lambda = r_solute / r_pore (Deen 1987 form)."""
    lam = solute_radius / pore_radius
    if lam >= 1.0:
        raise ValueError(f"solute radius {solute_radius:.3g} m does not fit a {pore_radius:.3g} m pore")
    return (1 - lam) ** 2 * (1 - 2.104 * lam + 2.09 * lam**3 - 0.95 * lam**5)


def stokes_radius(diffusivity: float, temperature: float, viscosity: float) -> float:
    """Stokes-Einstein hydrodynamic radius [m] from an aqueous diffusivity [m^2/s]."""
    from math import pi

    return BOLTZMANN * temperature / (6 * pi * viscosity * diffusivity)


def _tested(model: Model, form: TransportedForm) -> Any:
    """The test function of every conservation law the form's flux enters: its species' and those
    it carries along (form.also)."""
    test = model.tests[form.species]
    for row in form.also:
        test = test + model.tests[row]
    return test


class NernstPlanck(Term):
    """Nernst-Planck transport of every mobile form: accumulation of what a unit of pore volume
    holds, diffusion with migration, and convection with the solvent where a flow term gives
    model.velocity. Diffusion with migration is the fitted (Scharfetter-Gummel) flux when
    numerics.flux asks for it, edge by edge: at the cell midpoint on simplices
    (`edge_averaged_flux`), at the vertices on axis-aligned boxes (`box_fitted_flux`); else, or
    on other cells, the lumped flux -D c grad(mu) at the vertices. Its flux is the one definition
    of J and of the current density i = F sum z J."""

    name = "transport"

    def setup(self, model: Model) -> None:
        self.diffusivity = [
            model.cellwise([r.diffusivity[i] for r in model.regions], f"D_{i}") for i in range(model.ns)
        ]
        fitted = model.scenario.numerics.flux == "fitted"
        #: the fitted flux at the cell midpoint (simplices), in a form of its own
        self.at_midpoint = fitted and on_simplices(model.mesh)
        #: on boxes, the signed edge lengths of the fitted flux at the vertices
        self.edges = box_edges(model.mesh) if fitted and not self.at_midpoint else None
        self.fitted = self.at_midpoint or self.edges is not None
        model.flux_used = "fitted" if self.fitted else "lumped"
        # With a moving pH a species' conservation law may hold another's forms (H+ holds the
        # protonated ones): the share of the current each species carries is then read off its
        # own forms' fluxes where they enter the skin (series charge_flux/<species>).
        self.charge_fluxes = model.moving_pH

    def build(self, model: Model) -> None:
        if not self.charge_fluxes:
            return
        w = model.species_test
        self.charge_flux_forms = self.cell_integrals(
            model,
            lambda form, J: form.charge * J[model.depth_axis] * w[form.species],
            per_form=True,
        )
        volume = ufl.TestFunction(model.dg0)
        self.cell_volume_form = model.compiled(volume * ufl.dx)

    def charge_flux(self, model: Model) -> np.ndarray:
        """A/m^2 each species carries (all its forms) into the skin through its surface row of
        cells under the donor electrode: mean of z J over those cells."""
        from iontosim.model import assembled_sum, assembled_vector

        n = len(model.layer_of_cell)
        per_cell = assembled_sum(self.charge_flux_forms)[: n * model.ns].reshape(n, model.ns)
        volume = assembled_vector(self.cell_volume_form)[:n]
        under = model.surface_row_cells & model.under_donor_cells()
        totals = np.append(per_cell[under].sum(axis=0), volume[under].sum())
        totals = model.comm.allreduce(totals, op=MPI.SUM)
        return FARADAY * totals[:-1] / totals[-1]

    def series(self, model: Model) -> dict[str, Series | str]:
        if not self.charge_fluxes:
            return {}
        return {
            f"charge_flux/{n}": Series(
                "A/m^2",
                f"current density {n} carries (all its forms) into the skin through the surface row of cells under "
                "the donor electrode: the share of the current it carries",
                "positive when positive charge moves into the skin",
            )
            for n in model.names
        }

    def values(self, model: Model, step, ledger) -> dict[str, float]:
        if not self.charge_fluxes:
            return {}
        fluxes = self.charge_flux(model) if step is not None else np.zeros(model.ns)
        return {f"charge_flux/{n}": float(j) for n, j in zip(model.names, fluxes)}

    def transported_forms(self, model: Model) -> list[TransportedForm]:
        """The ionized form of every species."""
        return [
            TransportedForm(model.c[i], model.mu[i], model.partition[i], model.charge[i], i) for i in range(model.ns)
        ]

    def residual(self, model: Model) -> Any:
        F = 0
        for i in range(model.ns):
            bdf2 = (model.time_weights, model.held_before[i]) if model.bdf2 else None
            F += storage(
                model.held[i], model.held_previous[i], model.porosity, model.dt, model.tests[i], model.dx, bdf2
            )
            if model.velocity is not None:
                F += convection(model.totals[i], model.velocity, model.tests[i], model.dx)
        if self.at_midpoint:
            return F  # the fitted flux on simplices: separate_residual
        for form in model.forms:
            if self.fitted:  # on boxes, at the vertices
                J = self.form_flux(model, form, convection=False)
                F += -ufl.inner(J, ufl.grad(_tested(model, form))) * model.dx
            else:
                F += electrodiffusion(
                    form.concentration, form.potential, self.form_diffusivity(form), _tested(model, form), model.dx
                )
        return F

    def separate_residual(self, model: Model) -> Any:
        if not self.at_midpoint:
            return None
        F = 0
        for form in model.forms:
            F += -ufl.inner(self.midpoint_flux(model, form), ufl.grad(_tested(model, form))) * model.dx_midpoint
        return F

    def midpoint_flux(self, model: Model, form: TransportedForm) -> Any:
        """The fitted flux density [mol/(m^2 s), vector] of one mobile form on a simplex
        (`edge_averaged_flux`; evaluate it at the cell midpoint)."""
        return edge_averaged_flux(form.potential, model.psi, form.partition, form.charge, self.form_diffusivity(form))

    def form_flux(
        self, model: Model, form: TransportedForm, diffusion: bool = True, convection: bool = True, *, pointwise=False
    ) -> Any:
        """Flux density [mol/(m^2 s)] of one mobile form at the vertices (vertex quadrature):
        diffusion with migration, the lumped -D c grad(mu) or on boxes the fitted one (on
        simplices the fitted flux is the midpoint's: `diffusion` False leaves it out), plus the
        convective c v (`convection` False leaves it out). 0 when nothing is left. `pointwise`:
        the lumped flux, which means something at any point, not only at the vertices."""
        J: Any = 0
        if diffusion and self.edges is not None and not pointwise:
            D = self.form_diffusivity(form)
            J = box_fitted_flux(form.potential, model.psi, form.partition, form.charge, D, self.edges)
        elif diffusion:
            J = -self.form_diffusivity(form) * form.concentration * ufl.grad(form.potential)
        if convection and model.velocity is not None:
            J = J + form.concentration * model.velocity
        return J

    def form_diffusivity(self, form: TransportedForm) -> Any:
        """The effective diffusivity of one mobile form: its own, else its species'."""
        return form.diffusivity if form.diffusivity is not None else self.diffusivity[form.species]

    def conductivity(self, model: Model) -> Any:
        """Local conductivity [S/m]: F^2 / (R T) sum z^2 D c over every mobile form."""
        from iontosim.physics.constants import GAS_CONSTANT

        scale = FARADAY**2 / (GAS_CONSTANT * model.temperature)
        return scale * sum(form.charge**2 * self.form_diffusivity(form) * form.concentration for form in model.forms)

    def current_density_vector(self, model: Model, diffusion: bool = True, *, pointwise: bool = False) -> Any:
        """Current density [A/m^2]: F times the charge each mobile form carries (0 when nothing is
        left), at the vertices (`form_flux`; `pointwise`: anywhere, with the lumped flux)."""
        return FARADAY * sum(
            form.charge * self.form_flux(model, form, diffusion, pointwise=pointwise) for form in model.forms
        )

    def cell_integrals(self, model: Model, integrand: Any, per_form: bool = False) -> list:
        """Compiled forms whose assembled vectors add up to the integral over each cell of
        `integrand(i, J)`, i the current density [A/m^2] and J the species' flux densities
        [mol/(m^2 s)] (vectors); with `per_form`, of the sum over the mobile forms of
        `integrand(form, J)`, J the form's flux density. Each part has the quadrature its flux
        needs: the vertices', and the midpoint's for the fitted flux on simplices (a form of its
        own: Model._build_forms)."""

        def part(fluxes: list) -> Any:  # fluxes per mobile form
            if per_form:
                return sum(integrand(form, J) for form, J in zip(model.forms, fluxes) if not isinstance(J, int))
            by_species: list[Any] = [0 for _ in range(model.ns)]
            for form, J in zip(model.forms, fluxes):
                by_species[form.species] = by_species[form.species] + J
            current = FARADAY * sum(form.charge * J for form, J in zip(model.forms, fluxes))
            return integrand(current, by_species)

        at_vertices = [self.form_flux(model, form, diffusion=not self.at_midpoint) for form in model.forms]
        forms = []
        if any(not isinstance(J, int) for J in at_vertices):
            forms.append(model.compiled(part(at_vertices) * model.dx))
        if self.at_midpoint:
            forms.append(model.compiled(part([self.midpoint_flux(model, f) for f in model.forms]) * model.dx_midpoint))
        return forms

    def midpoint_current_density(self, model: Model) -> Any:
        """The diffusion-migration current density [A/m^2, vector] of the fitted flux on a simplex
        (evaluate it at the cell midpoint)."""
        return FARADAY * sum(form.charge * self.midpoint_flux(model, form) for form in model.forms)
