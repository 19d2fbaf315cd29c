"""Systemic compartment fed by capillary clearance, MODEL.md section 6.

One compartment: dA/dt = r(t) - k_el A, C_plasma = A / V, k_el = ln 2 / t_half. Over a time step
the input rate is taken constant (it is the step-average clearance rate), and the update is the
exact solution of the linear ODE, so long passive phases cost nothing in accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class OneCompartment:
    volume: float  # m^3, volume of distribution
    half_life: float  # s, elimination half-life
    amount: float = 0.0  # mol in the body

    @property
    def elimination_rate(self) -> float:
        return math.log(2.0) / self.half_life

    def advance(self, input_rate: float, dt: float) -> None:
        """Advance by dt [s] with a constant input [mol/s]."""
        k = self.elimination_rate
        decay = math.exp(-k * dt)
        self.amount = self.amount * decay + input_rate / k * (1.0 - decay)

    @property
    def concentration(self) -> float:
        """Plasma concentration [mol/m^3]."""
        return self.amount / self.volume
