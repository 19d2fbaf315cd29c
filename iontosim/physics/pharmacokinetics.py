"""Systemic compartment fed by capillary clearance.

One compartment: dA/dt = r(t) - k_el A, C_plasma = A / V, k_el = ln 2 / t_half. Over a time step
the input rate is taken constant (it is the step-average clearance rate), and the update is the
exact solution of the linear ODE, so long passive phases cost nothing in accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iontosim.physics.term import Ledger, Series, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


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


class SystemicCirculation(Term):
    """One compartment per species with systemic data (scenario.systemic), fed by what the
    capillaries cleared over the donor electrode's area in each step (ledger entry `cleared`).
    Only those species have a series plasma_concentration/<species>: the others have no plasma
    model, and a series of zeros would read as a measured nothing."""

    name = "systemic"

    def setup(self, model: Model) -> None:
        self.compartments = {
            name: OneCompartment(p.volume_of_distribution, p.elimination_half_life)
            for name, p in model.scenario.systemic.items()
            if name in model.names
        }

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        cleared = ledger.booked_in_step("cleared") / step.length  # the step's mean rate
        for name, compartment in self.compartments.items():
            compartment.advance(model.scenario.donor.area * cleared[:, model.index(name)].sum(), step.length)

    def series(self, model: Model) -> dict[str, Series | str]:
        return {
            f"plasma_concentration/{n}": Series(
                "mol/m^3",
                f"plasma concentration of {n}: its one-compartment systemic model (scenario.systemic) fed by what "
                "the capillaries cleared over the donor electrode's area",
            )
            for n in self.compartments
        }

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        return {f"plasma_concentration/{n}": c.concentration for n, c in self.compartments.items()}

    def state(self) -> dict:
        return {n: c.amount for n, c in self.compartments.items()}

    def restore(self, state: dict) -> None:
        for n, amount in state.items():
            self.compartments[n].amount = amount
