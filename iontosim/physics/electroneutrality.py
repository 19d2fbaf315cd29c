"""Electroneutrality sum_i z_i c_i + X = 0, MODEL.md section 4.

The Debye length (~1 nm) is far below any mesh size, so the potential is not resolved by a
Poisson equation: psi is the discontinuous field that makes the pore fluid neutral at every node.
"""

from __future__ import annotations

import numpy as np


def residual(concentrations, charges, fixed_charge, test, dx):
    """Weak form of sum_i z_i c_i + X = 0 (nodal with vertex quadrature)."""
    net = fixed_charge
    for c, z in zip(concentrations, charges):
        net = net + z * c
    return net * test * dx


def solve_potential(mu: np.ndarray, partition: np.ndarray, charge: np.ndarray, fixed: np.ndarray,
                    tol: float = 1e-13, max_iter: int = 100, charge_per_ion: np.ndarray | None = None) -> np.ndarray:
    """Pointwise psi with sum_i q_i K_i exp(mu_i - z_i psi) + X = 0.

    Arrays have shape (n_species, n_points) except `fixed` (n_points). q_i is the charge that
    comes with one ionized molecule, its partner form included (z_i for strong electrolytes,
    z_i + z_p rho_i for weak ones; z_i q_i > 0 in both cases). The left side decreases strictly
    in psi, so the root is unique; damped Newton from psi = 0 finds it.
    """
    q = charge if charge_per_ion is None else charge_per_ion
    psi = np.zeros(fixed.shape)
    for _ in range(max_iter):
        c = partition * np.exp(mu - charge * psi)
        f = (q * c).sum(axis=0) + fixed
        df = -(charge * q * c).sum(axis=0)
        step = np.clip(-f / df, -2.0, 2.0)
        psi += step
        if np.max(np.abs(step), initial=0.0) < tol:
            return psi
    raise RuntimeError("electroneutrality: no potential balances the fixed charge (is a counter-ion missing?)")
