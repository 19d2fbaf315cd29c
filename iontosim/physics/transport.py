"""Nernst-Planck transport in electrochemical-potential form, MODEL.md section 4.

Unknowns: mu_i = ln(c_i / K_i) + z_i psi (continuous), psi = F phi / (R T) (discontinuous at
layer interfaces). Then

    c_i = K_i exp(mu_i - z_i psi)          positive by construction
    J_i = -D_i c_i grad(mu_i) + c_i v      (migration and diffusion in one term, plus convection)

Partition (K) and Donnan jumps are exact at interfaces because mu_i is continuous there while
K_i and psi jump. Integrals use vertex quadrature (mass lumping), which makes the 1D scheme a
conservative finite-volume scheme with nodal electroneutrality.
"""

from __future__ import annotations

from iontosim._fenics import ufl

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


def log_sinhc(t):
    """ln(sinh(t)/t), even in t, without overflow for large |t| and without 0/0 at t = 0."""
    a = abs(t)
    small = a < 1e-3
    safe = ufl.conditional(small, 1.0, a)
    large = safe + ufl.ln((1.0 - ufl.exp(-2.0 * safe)) / (2.0 * safe))
    return ufl.conditional(small, a * a / 6.0, large)


def fitted_electrodiffusion(c_mid, mu, psi, charge, diffusivity, test, dx_mid):
    """-J.grad(w) with the exact (Scharfetter-Gummel) flux of a 1D cell, in mu variables.

    With psi linear in the cell and J constant across it, J = -D c_m grad(mu) * S(h mu'/2) / S(h z psi'/2),
    S(t) = sinh(t)/t and c_m the midpoint concentration. Exact for a constant field at any cell
    Peclet number (the Goldman case); reduces to -D c grad(mu) as h -> 0. 1D only: in 2D/3D the
    fitting must be done along edges (edge-averaged elements), not with the cell diameter.
    """
    h = ufl.CellDiameter(ufl.domain.extract_unique_domain(test))
    weight = ufl.exp(log_sinhc(h * mu.dx(0) / 2.0) - log_sinhc(h * charge * psi.dx(0) / 2.0))
    return diffusivity * c_mid * weight * ufl.inner(ufl.grad(mu), ufl.grad(test)) * dx_mid


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

    from iontosim.physics.constants import BOLTZMANN

    return BOLTZMANN * temperature / (6 * pi * viscosity * diffusivity)
