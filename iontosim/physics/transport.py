"""Nernst-Planck transport in electrochemical-potential form.

Unknowns: mu_i = ln(c_i / K_i) + z_i psi (continuous), psi = F phi / (R T) (discontinuous at
layer interfaces). Then

    c_i = K_i exp(mu_i - z_i psi)          positive by construction
    J_i = -D_i c_i grad(mu_i) + c_i v      (migration and diffusion in one term, plus convection)

Partition (K) and Donnan jumps are exact at interfaces because mu_i is continuous there while
K_i and psi jump. Integrals use vertex quadrature (mass lumping), which makes the 1D scheme a
conservative finite-volume scheme with nodal electroneutrality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import MPI, ufl
from iontosim.physics.constants import BOLTZMANN, FARADAY
from iontosim.physics.term import Series, Term, TransportedForm

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

#: Vertex quadrature: integrals are evaluated from nodal values only (lumped mass).
VERTEX_QUADRATURE = {"quadrature_rule": "vertex", "quadrature_degree": 1}
#: One Gauss point at the cell midpoint, for the exponentially fitted flux.
MIDPOINT_QUADRATURE = {"quadrature_rule": "default", "quadrature_degree": 0}


def concentration(mu, psi, partition, charge):
    """c = K exp(mu - z psi) [mol/m^3 of pore fluid]."""
    return partition * ufl.exp(mu - charge * psi)


def storage(c, c_previous, porosity, dt, test, dx):
    """Accumulation d(eps c)/dt, backward Euler."""
    return porosity * (c - c_previous) / dt * test * dx


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


def fitted_flux(mu, psi, partition, charge, diffusivity, mesh):
    """The exact (Scharfetter-Gummel) particle flux of a 1D cell, positive toward larger x.

    With psi linear in the cell and J constant across it, the flux from the left end (0) to the
    right end (1) of a cell of length h is

        J = (D / h) [B(Pe) c_0 - B(-Pe) c_1],    Pe = z (psi_1 - psi_0),

    exact for a constant field at any cell Peclet number (the Goldman case) and the upwind flux
    as |Pe| grows. The end values come from the P1/DG1 fields at the midpoint and their slopes,
    and each term is one exponential, c_k B(+-Pe) = K exp(mu_k - z psi_k + ln B(+-Pe)): smooth
    in mu and psi, positive, and free of the overflow a swept-out species would cause. 1D only:
    in 2D/3D the fitting must be done along edges (edge-averaged elements). Evaluate it at the
    cell midpoint (MIDPOINT_QUADRATURE).
    """
    h = ufl.CellDiameter(mesh)
    s = mu - charge * psi  # ln(c / K) at the midpoint
    slope = mu.dx(0) - charge * psi.dx(0)
    pe = h * charge * psi.dx(0)
    from_left = partition * ufl.exp(s - h * slope / 2.0 + log_bernoulli(pe))
    from_right = partition * ufl.exp(s + h * slope / 2.0 + log_bernoulli(-pe))
    return diffusivity / h * (from_left - from_right)


def fitted_electrodiffusion(mu, psi, partition, charge, diffusivity, test, dx_mid):
    """-J.grad(w) with the fitted flux J of `fitted_flux`, at the cell midpoint."""
    mesh = ufl.domain.extract_unique_domain(test)
    return -fitted_flux(mu, psi, partition, charge, diffusivity, mesh) * test.dx(0) * dx_mid


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
    holds, diffusion with migration (the fitted flux on a 1D column when numerics.flux asks for
    it, the lumped one otherwise), and convection with the solvent where a flow term gives
    model.velocity. Its flux is the one definition of J and of the current density i = F sum z J."""

    name = "transport"

    def setup(self, model: Model) -> None:
        self.diffusivity = [
            model.cellwise([r.diffusivity[i] for r in model.regions], f"D_{i}") for i in range(model.ns)
        ]
        # the fitted flux is 1D: on a larger mesh the lumped flux is used
        self.fitted = model.scenario.numerics.flux == "fitted" and model.mesh.topology.dim == 1
        model.flux_used = "fitted" if self.fitted else "lumped"
        # With a moving pH a species' conservation law may hold another's forms (H+ holds the
        # protonated ones): the share of the current each species carries is then read off its
        # own forms' fluxes where they enter the skin (series charge_flux/<species>).
        self.charge_fluxes = model.moving_pH

    def build(self, model: Model) -> None:
        if not self.charge_fluxes:
            return
        w = model.species_test
        parts = []
        for form in model.forms:
            if self.fitted:
                J = fitted_flux(
                    form.potential, model.psi, form.partition, form.charge, self.form_diffusivity(form), model.mesh
                )
                parts.append(form.charge * J * w[form.species] * model.dx_midpoint)
            else:
                J = self.form_flux(model, form)[model.depth_axis]
                parts.append(form.charge * J * w[form.species] * model.dx)
        # convection (lagged velocity) is in form_flux for the lumped flux; the fitted one adds it
        if self.fitted and model.velocity is not None:
            for form in model.forms:
                parts.append(
                    form.charge * form.concentration * model.velocity[model.depth_axis] * w[form.species] * model.dx
                )
        self.charge_flux_form = model.compiled(sum(parts[1:], parts[0]))
        volume = ufl.TestFunction(model.dg0)
        self.cell_volume_form = model.compiled(volume * ufl.dx)

    def charge_flux(self, model: Model) -> np.ndarray:
        """A/m^2 each species carries (all its forms) into the skin through its surface row of
        cells under the donor electrode: mean of z J over those cells."""
        from iontosim.model import assembled_vector

        n = len(model.layer_of_cell)
        per_cell = assembled_vector(self.charge_flux_form)[: n * model.ns].reshape(n, model.ns)
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
            F += storage(model.held[i], model.held_previous[i], model.porosity, model.dt, model.tests[i], model.dx)
            if model.velocity is not None:
                F += convection(model.totals[i], model.velocity, model.tests[i], model.dx)
        if not self.fitted:
            for form in model.forms:
                F += electrodiffusion(
                    form.concentration, form.potential, self.form_diffusivity(form), _tested(model, form), model.dx
                )
        return F

    def separate_residual(self, model: Model) -> Any:
        if not self.fitted:
            return None
        F = 0
        for form in model.forms:
            F += fitted_electrodiffusion(
                form.potential,
                model.psi,
                form.partition,
                form.charge,
                self.form_diffusivity(form),
                _tested(model, form),
                model.dx_midpoint,
            )
        return F

    def form_flux(self, model: Model, form: TransportedForm, diffusion: bool = True) -> Any:
        """Flux density [mol/(m^2 s)] of one mobile form: -D c grad(mu) + c v (the lumped flux's
        integrand; `diffusion` False leaves the first part out, where the fitted flux gives it)."""
        J = -self.form_diffusivity(form) * form.concentration * ufl.grad(form.potential) if diffusion else 0
        return J + form.concentration * model.velocity if model.velocity is not None else J

    def flux_vectors(self, model: Model) -> list:
        """Molar flux density J [mol/(m^2 s)] of each species (both forms)."""
        fluxes: list[Any] = [0 for _ in range(model.ns)]
        for form in model.forms:
            fluxes[form.species] = fluxes[form.species] + self.form_flux(model, form)
        return fluxes

    def form_diffusivity(self, form: TransportedForm) -> Any:
        """The effective diffusivity of one mobile form: its own, else its species'."""
        return form.diffusivity if form.diffusivity is not None else self.diffusivity[form.species]

    def conductivity(self, model: Model) -> Any:
        """Local conductivity [S/m]: F^2 / (R T) sum z^2 D c over every mobile form."""
        from iontosim.physics.constants import GAS_CONSTANT

        scale = FARADAY**2 / (GAS_CONSTANT * model.temperature)
        return scale * sum(form.charge**2 * self.form_diffusivity(form) * form.concentration for form in model.forms)

    def current_density_vector(self, model: Model, diffusion: bool = True) -> Any:
        """Current density [A/m^2]: F times the charge each mobile form carries (0 when nothing is left)."""
        return FARADAY * sum(form.charge * self.form_flux(model, form, diffusion) for form in model.forms)

    def fitted_current_density(self, model: Model) -> Any:
        """The diffusion-migration current [A/m^2] of the fitted flux, along the 1D column (evaluate
        it at the cell midpoint)."""
        return FARADAY * sum(
            form.charge
            * fitted_flux(
                form.potential, model.psi, form.partition, form.charge, self.form_diffusivity(form), model.mesh
            )
            for form in model.forms
        )
