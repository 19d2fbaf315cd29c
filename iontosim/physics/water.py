"""Water's self-ionization H2O <-> H+ + OH-, MODEL.md section 5 (inert electrodes).

H+ and OH- are transported like any ion and recombine at a finite but fast rate,

    r = k (c_H c_OH - Kw)   [mol/m^3/s, consumed from both],

whose only role is to hold them at equilibrium: any k fast against transport gives the same
answer (tested by changing it tenfold).
"""

from __future__ import annotations


#: Ionic product of water at 37 C, (mol/m^3)^2: pKw 13.6, i.e. 2.4e-14 M^2. Estimate: textbook
#: value, not in shared/reference. Neutral pH at 37 C is then 6.8.
KW_37C = 2.4e-14 * 1e6
#: Recombination rate constant, m^3/(mol s): 1.4e11 L/(mol s), Eigen's diffusion-limited value.
#: Estimate: not in shared/reference; the results do not depend on it once it is this fast.
RECOMBINATION_RATE = 1.4e11 * 1e-3


def recombination(c_h, c_oh, rate: float | None = None, kw: float = KW_37C):
    """Net recombination H+ + OH- -> H2O [mol/m^3/s] (UFL or float); rate defaults to RECOMBINATION_RATE."""
    return (RECOMBINATION_RATE if rate is None else rate) * (c_h * c_oh - kw)


def pH(c_h):
    """pH from the H+ concentration in mol/m^3 (numpy or float)."""
    import numpy as np

    return -np.log10(np.asarray(c_h, dtype=float) * 1e-3)


def neutral_pair(pH_value: float, kw: float = KW_37C) -> tuple[float, float]:
    """(c_H, c_OH) in mol/m^3 at `pH_value`, in water equilibrium."""
    c_h = 1e3 * 10.0 ** (-pH_value)
    return c_h, kw / c_h


def acid_constant(pKa: float) -> float:
    """Ka in mol/m^3 from a pKa (Ka in mol/L = 10^-pKa)."""
    return 1e3 * 10.0 ** (-pKa)


def bound_protons(c_h, total, ka):
    """Protons held by an immobile buffer HB <-> B + H+ [mol/m^3] at H+ concentration c_h (UFL or float)."""
    return total * c_h / (c_h + ka)


def buffer_charge(c_h, total, ka, acid_charge):
    """Charge density of the buffer [mol/m^3]: acid form acid_charge, base form one less."""
    return total * (acid_charge - ka / (c_h + ka))
