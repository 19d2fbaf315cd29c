"""Weak acids and bases (Henderson-Hasselbalch), MODEL.md section 2.

A weak electrolyte exists in two forms: its ionized form (charge z, the one the species library
names) and its conjugate partner, one proton apart: B (z - 1) for a base BH+ (z), HA (z + 1) for
an acid A (z). Each layer's pH is buffered (a parameter, not an unknown), so the two forms are in
local equilibrium at a fixed ratio

    rho = c_partner / c_ionized = 10^(pH - pKa) for a base,  10^(pKa - pH) for an acid,

and both are transported, each by its own diffusion and migration (the partner form of a
monovalent base is neutral and only diffuses). The model's unknown is the ionized form's
electrochemical potential; the total is c (1 + rho). Partner forms share the ionized form's
diffusivity and partition (an estimate: no per-form values in shared/reference).
"""

from __future__ import annotations


def ionized_fraction(pH: float, pKa: float | None, acid_base: str | None) -> float:
    """Fraction of a species in its ionized form at `pH`; strong electrolytes (no pKa) are fully ionized."""
    return 1.0 / (1.0 + partner_ratio(pH, pKa, acid_base))


def partner_ratio(pH: float, pKa: float | None, acid_base: str | None) -> float:
    """c(partner form) / c(ionized form) at `pH`; 0 for a strong electrolyte."""
    if pKa is None or acid_base is None:
        return 0.0
    if acid_base == "base":  # BH+ <-> B + H+: the ionized form dominates below the pKa
        return 10.0 ** (pH - pKa)
    if acid_base == "acid":  # HA <-> A- + H+: the ionized form dominates above the pKa
        return 10.0 ** (pKa - pH)
    raise ValueError(f"acid_base must be 'acid' or 'base', not {acid_base!r}")


def partner_charge(charge: int, acid_base: str | None) -> int:
    """Charge number of the conjugate form, one proton apart from the ionized form."""
    if acid_base == "base":
        return charge - 1
    if acid_base == "acid":
        return charge + 1
    return charge  # strong electrolyte: no partner (its ratio is 0)


def effective_charge(charge: int, pH: float, pKa: float | None, acid_base: str | None) -> float:
    """Mean charge number of a species (both forms) at `pH`."""
    rho = partner_ratio(pH, pKa, acid_base)
    return (charge + partner_charge(charge, acid_base) * rho) / (1.0 + rho)
