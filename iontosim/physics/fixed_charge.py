"""Fixed charge of skin proteins from the isoelectric point and the local pH, MODEL.md section 3.

    X(pH) = X_max * tanh( ln(10) * (pI - pH) / 2 )      [mol/m^3 of pore fluid, signed]

zero at pI, -X_max well above it (anionic skin), +X_max well below it. X_max is fixed by the
charge at a reference pH (the value back-calculated from the Na+ transport number at pH 7.4).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

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

    MODEL.md section 8.3: the magnitude is asinh(|X| / (2 c0)), the sign that of the fixed charge.
    """
    return math.asinh(fixed / (2.0 * salt))


def region_fixed_charge(region) -> float:
    """Fixed charge [mol/m^3, signed] of a region at its own pH (0 for pads and uncharged layers)."""
    fc = getattr(region.spec, "fixed_charge", None) if region.is_skin else None
    if fc is None:
        return 0.0
    return fixed_charge(region.pH, fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH)


class FixedCharge(Term):
    """The skin proteins' fixed charge X of each region at its pH: immobile charge in electroneutrality
    (and the mobile space charge -F X that electroosmosis drives)."""

    name = "fixed_charge"

    def setup(self, model: Model) -> None:
        self.per_region = [region_fixed_charge(region) for region in model.regions]
        self.fixed = model.cellwise(self.per_region, "fixed_charge")
        model.nodal.fixed = model.nodal.fixed + model.per_vertex(self.per_region)

    def immobile_charge(self, model: Model, c) -> Any:
        return self.fixed
