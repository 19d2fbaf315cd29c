"""Ionization of weak acids and bases (Henderson-Hasselbalch), MODEL.md section 2.

A weak electrolyte is transported as its total concentration; only the ionized fraction carries
charge (Imanidis-Luetolf style), so each layer sees the species with an effective charge number
z_eff = z * f_ion(pH_layer).
"""

from __future__ import annotations


def ionized_fraction(pH: float, pKa: float | None, acid_base: str | None) -> float:
    """Fraction of a species in its charged form at `pH`; strong electrolytes (no pKa) are fully ionized."""
    if pKa is None or acid_base is None:
        return 1.0
    if acid_base == "base":  # B + H+ <-> BH+, cation below the pKa
        return 1.0 / (1.0 + 10.0 ** (pH - pKa))
    if acid_base == "acid":  # HA <-> A- + H+, anion above the pKa
        return 1.0 / (1.0 + 10.0 ** (pKa - pH))
    raise ValueError(f"acid_base must be 'acid' or 'base', not {acid_base!r}")


def effective_charge(charge: int, pH: float, pKa: float | None, acid_base: str | None) -> float:
    """Mean charge number of a species at `pH`."""
    return charge * ionized_fraction(pH, pKa, acid_base)
