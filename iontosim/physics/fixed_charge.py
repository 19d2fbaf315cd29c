"""Fixed charge of skin proteins from the isoelectric point and the local pH (docs/physics.md, Fixed charge).

    X(pH) = X_max * tanh( ln(10) * (pI - pH) / 2 )      [mol/m^3 of pore fluid, signed]

zero at pI, -X_max well above it (anionic skin), +X_max well below it. X_max is fixed by the
charge at a reference pH (the value back-calculated from the Na+ transport number at pH 7.4,
docs/derivations.md#fixed-charge).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.physics.term import Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def max_charge(isoelectric_point: float, charge_at_reference_pH: float, reference_pH: float) -> float:
    """X_max [mol/m^3] such that X(reference_pH) equals the given charge."""
    shape = math.tanh(math.log(10.0) * (isoelectric_point - reference_pH) / 2.0)
    if abs(shape) < 1e-12:
        raise ValueError("reference pH equals the isoelectric point: the charge there is zero")
    x_max = charge_at_reference_pH / shape
    if x_max < 0:
        raise ValueError("charge at the reference pH has the wrong sign for its side of the isoelectric point")
    return x_max


def fixed_charge(pH: float, isoelectric_point: float, charge_at_reference_pH: float, reference_pH: float) -> float:
    """Signed fixed-charge concentration X [mol/m^3] at `pH`."""
    x_max = max_charge(isoelectric_point, charge_at_reference_pH, reference_pH)
    return x_max * math.tanh(math.log(10.0) * (isoelectric_point - pH) / 2.0)


def donnan_salt(fixed: float, salt: float) -> tuple[float, float]:
    """Cation and anion concentrations of a 1:1 salt `salt` in Donnan equilibrium with charge `fixed`.

    Electroneutrality c+ - c- + X = 0 and the Donnan product c+ c- = c0^2 (ideal, unit partition).
    """
    half = -fixed / 2.0
    root = math.sqrt(half * half + salt * salt)
    return root + half, root - half


def donnan_potential(fixed: float, salt: float) -> float:
    """Dimensionless Donnan potential psi_D = asinh(X / (2 c0)) of the layer against the bath.

    Donnan equilibrium of a 1:1 salt (c+ c- = c0^2, c+ - c- = -X): the magnitude is asinh(|X| / (2 c0)),
    the sign that of the fixed charge.
    """
    return math.asinh(fixed / (2.0 * salt))


def region_fixed_charge(region) -> float:
    """Fixed charge [mol/m^3, signed] of a region at its own pH (0 for pads and uncharged layers)."""
    fc = getattr(region.spec, "fixed_charge", None) if region.is_skin else None
    if fc is None:
        return 0.0
    return fixed_charge(region.pH, fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH)


def titration(c_h, isoelectric_point, x_max):
    """X [mol/m^3, signed] at H+ concentration c_h [mol/m^3] (UFL or numpy): the tanh titration
    about the isoelectric point, pH = -log10(c_h / (1 mol/L))."""
    from iontosim._fenics import ufl

    half_ln10 = 0.5 * math.log(10.0)
    if isinstance(c_h, np.ndarray | float):
        return x_max * np.tanh(half_ln10 * isoelectric_point + 0.5 * np.log(c_h * 1e-3))
    return x_max * ufl.tanh(half_ln10 * isoelectric_point + 0.5 * ufl.ln(c_h * 1e-3))


class FixedCharge(Term):
    """The skin proteins' fixed charge X of each region: at the region's pH (fixed pH), or titrating
    with the local H+ about the isoelectric point (moving pH), when the groups take up and give
    protons: the H+ balance holds X + X_max of them per pore volume (zero when all are
    deprotonated). That titration is the stratum corneum's buffer, of capacity
    dX/dpH = (ln 10 / 2) X_max / cosh^2(ln 10 (pI - pH) / 2): no number beyond X_max and pI."""

    name = "fixed_charge"

    def setup(self, model: Model) -> None:
        self.per_region = [region_fixed_charge(region) for region in model.regions]
        self.fixed = model.cellwise(self.per_region, "fixed_charge")
        model.nodal.fixed = model.nodal.fixed + model.per_vertex(self.per_region)
        self.moving = model.moving_pH and any(x != 0.0 for x in self.per_region)
        if self.moving:
            self.h = model.index("H+")
            specs = [getattr(r.spec, "fixed_charge", None) if r.is_skin else None for r in model.regions]
            self.x_max = [
                max_charge(fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH) if fc else 0.0
                for fc in specs
            ]
            self.pI = [fc.isoelectric_point if fc else 7.0 for fc in specs]
            self.x_max_field = model.cellwise(self.x_max, "x_max")
            self.pI_field = model.cellwise(self.pI, "isoelectric_point")
            self.nodal_x_max, self.nodal_pI = model.per_vertex(self.x_max), model.per_vertex(self.pI)

    def local(self, c: Sequence[Any]) -> Any:
        """X at the state of ionized forms `c` (UFL)."""
        return titration(c[self.h], self.pI_field, self.x_max_field) if self.moving else self.fixed

    def build(self, model: Model) -> None:
        if self.moving:
            self.fixed = self.local(model.c)  # what electroosmosis drives: the local charge

    def immobile_charge(self, model: Model, c) -> Any:
        return self.local(c)

    def held(self, model: Model, species: int, amount: Any, c: Sequence[Any]) -> Any:
        if self.moving and species == self.h:
            return amount + self.local(c) + self.x_max_field
        return amount

    def nodal_charge(self, model: Model, ionized: np.ndarray) -> np.ndarray | None:
        """X at every (owned cell, vertex) at the nodal H+ (moving pH)."""
        return titration(ionized[self.h], self.nodal_pI, self.nodal_x_max) if self.moving else None
