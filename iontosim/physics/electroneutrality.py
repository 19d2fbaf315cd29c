"""Electroneutrality sum_i z_i c_i + X = 0.

The Debye length (~1 nm) is far below any mesh size, so the potential is not resolved by a
Poisson equation: psi is the discontinuous field that makes the pore fluid neutral at every node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.physics.term import Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def residual(concentrations, charges, fixed_charge, test, dx):
    """Weak form of sum_i z_i c_i + X = 0 (nodal with vertex quadrature)."""
    net = fixed_charge
    for c, z in zip(concentrations, charges):
        net = net + z * c
    return net * test * dx


def solve_potential(
    mu: np.ndarray,
    partition: np.ndarray,
    charge: np.ndarray,
    fixed: np.ndarray,
    tol: float = 1e-13,
    max_iter: int = 100,
    charge_per_ion: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Pointwise psi with sum_i q_i K_i exp(mu_i - z_i psi) + X = 0.

    Arrays have shape (n_species, n_points) except `fixed` (n_points). q_i is the charge that
    comes with one ionized molecule, its partner form included (z_i for strong electrolytes,
    z_i + z_p rho_i for weak ones; z_i q_i > 0 in both cases). The left side decreases strictly
    in psi, so the root is unique; damped Newton from psi = 0 (or `start`) finds it.
    """
    q = charge if charge_per_ion is None else charge_per_ion
    psi = np.zeros(fixed.shape) if start is None else np.array(start, dtype=float)
    for _ in range(max_iter):
        c = partition * np.exp(mu - charge * psi)
        f = (q * c).sum(axis=0) + fixed
        df = -(charge * q * c).sum(axis=0)
        step = np.clip(-f / df, -2.0, 2.0)
        psi += step
        if np.max(np.abs(step), initial=0.0) < tol:
            return psi
    raise RuntimeError("electroneutrality: no potential balances the fixed charge (is a counter-ion missing?)")


class Electroneutrality(Term):
    """The potential's equation: the mobile forms' charge and the immobile charge cancel at every node."""

    name = "electroneutrality"

    def residual(self, model: Model) -> Any:
        return residual(
            [f.concentration for f in model.forms],
            [f.charge for f in model.forms],
            model.immobile_charge(model.c),
            model.tests[model.ns],
            model.dx,
        )

    def initial_state(self, model: Model) -> None:
        """psi from electroneutrality with the present mu, pointwise (no solve)."""
        update_potential(model)


def update_potential(model: Model, entries: np.ndarray | None = None, start: np.ndarray | None = None) -> None:
    """Set psi pointwise from electroneutrality with the model's present mu (local, no solve), at
    every (owned cell, vertex) or at `entries` (a mask), from psi = 0 or `start`."""
    n = model.nodal
    chosen = np.ones(len(model.nodal_layer), dtype=bool) if entries is None else entries
    mu = model.nodal_mu()[:, chosen]
    if model.moving_pH:
        psi = _moving_potential(model, mu, chosen, start)
    else:
        # the charge one ionized molecule brings: its own, its partner's, and that of the bound part
        per_ion = (n.retardation * (n.charge + n.partner_charge * n.partner_ratio))[:, chosen]
        psi = solve_potential(
            mu, n.partition[:, chosen], n.charge[:, chosen], n.fixed[chosen], charge_per_ion=per_ion, start=start
        )
    model.u.x.array[model.psi_dofs[chosen]] = psi
    model.u.x.scatter_forward()


def _moving_potential(model: Model, mu: np.ndarray, chosen: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """psi with a moving pH: the partner ratios and the immobile charge follow the local H+, which
    the potential itself sets; the net charge still falls strictly with psi (every part does), so
    damped Newton (with a difference quotient) finds the one root."""
    n = model.nodal
    partition, charge = n.partition[:, chosen], n.charge[:, chosen]
    zp, bound = n.partner_charge[:, chosen], n.retardation[:, chosen]

    def net(psi: np.ndarray) -> np.ndarray:
        c = partition * np.exp(mu - charge * psi)
        full = np.zeros((model.ns, len(chosen)))
        full[:, chosen] = c
        rho = model.nodal_partner_ratio(full)[:, chosen]
        charge_density = (bound * (charge + zp * rho) * c).sum(axis=0)
        for term in model.terms:
            part = term.nodal_charge(model, full)
            if part is not None:
                charge_density = charge_density + part[chosen]
        return charge_density

    psi = np.zeros(int(chosen.sum())) if start is None else np.array(start, dtype=float)
    delta = 1e-7
    for _ in range(200):
        f = net(psi)
        df = (net(psi + delta) - f) / delta
        step = np.clip(-f / np.where(df < 0, df, -1e-300), -2.0, 2.0)
        psi += step
        if np.max(np.abs(step), initial=0.0) < 1e-11:
            return psi
    raise RuntimeError("electroneutrality: no potential balances the charges (is a counter-ion missing?)")
