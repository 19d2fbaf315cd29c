"""Water's self-ionization H2O <-> H+ + OH- (inert electrodes, tap water).

H+ and OH- are transported like any ion and recombine at a finite but fast rate,

    r = k (c_H c_OH - Kw)   [mol/m^3/s, consumed from both],

whose only role is to hold them at equilibrium: any k fast against transport gives the same
answer (tested by changing it tenfold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.physics.constants import FARADAY
from iontosim.physics.term import Ledger, LedgerEntry, Series, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


#: Ionic product of water at 37 C, (mol/m^3)^2: pKw 13.6, i.e. 2.4e-14 M^2. Estimate: textbook
#: value, no primary source retrieved. Neutral pH at 37 C is then 6.8.
KW_37C = 2.4e-14 * 1e6
#: Recombination rate constant, m^3/(mol s): 1.4e11 L/(mol s), Eigen's diffusion-limited value.
#: Estimate: no primary source retrieved; the results do not depend on it once it is this fast.
RECOMBINATION_RATE = 1.4e11 * 1e-3


def recombination(c_h, c_oh, rate: float | None = None, kw: float = KW_37C):
    """Net recombination H+ + OH- -> H2O [mol/m^3/s] (UFL or float); rate defaults to RECOMBINATION_RATE."""
    return (RECOMBINATION_RATE if rate is None else rate) * (c_h * c_oh - kw)


def pH(c_h):
    """pH from the H+ concentration in mol/m^3 (numpy or float)."""
    return -np.log10(np.asarray(c_h, dtype=float) * 1e-3)


def neutral_pair(pH_value: float, kw: float = KW_37C) -> tuple[float, float]:
    """(c_H, c_OH) in mol/m^3 at `pH_value`, in water equilibrium."""
    c_h = 1e3 * 10.0 ** (-pH_value)
    return c_h, kw / c_h


class WaterDissociation(Term):
    """H+ and OH- recombine (and water dissociates) wherever both are transported; ledger entry
    `reacted` (what recombination consumed, not recorded as a series)."""

    name = "water"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> WaterDissociation | None:
        return cls() if "H+" in model.names and "OH-" in model.names else None

    def build(self, model: Model) -> None:
        h, oh = model.index("H+"), model.index("OH-")
        rate = recombination(model.c[h], model.c[oh])
        self.rates: list[Any] = [None] * model.ns
        self.rates[h] = self.rates[oh] = rate
        self.reaction_form = model.per_species_form([model.porosity * r if r is not None else None for r in self.rates])

    def residual(self, model: Model) -> Any:
        F = None
        for i, rate in enumerate(self.rates):
            if rate is not None:
                part = model.porosity * rate * model.tests[i] * model.dx
                F = part if F is None else F + part
        return F

    def ledger(self, model: Model) -> list[LedgerEntry]:
        charges = np.array([float(sp.charge) for sp in model.species])

        def current(ledger: Ledger) -> float:
            return FARADAY * float((ledger.rates_of("reacted") * charges).sum())

        return [
            LedgerEntry("reacted", rates=lambda: model.per_region(self.reaction_form), current=current, recorded=False)
        ]


class SurfacePH(Term):
    """The pH at the skin surface under the donor electrode (and under a meshed return electrode),
    where H+ is a species: what the safety check judges."""

    name = "surface_pH"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> SurfacePH | None:
        return cls() if "H+" in model.names else None

    def setup(self, model: Model) -> None:
        self.h = model.index("H+")
        self.return_pad = model.has_return and "return_electrode" in model.region_names()

    def series(self, model: Model) -> dict[str, Series | str]:
        out: dict[str, Series | str] = {
            "skin_surface_pH": Series("pH", "pH at the skin surface under the donor electrode (gel side, centre line)")
        }
        if self.return_pad:
            out["return_skin_surface_pH"] = Series(
                "pH", "pH at the skin surface under the middle of the return electrode"
            )
        return out

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        # the gel side of the skin surface, on the donor electrode's centre line
        c_h = model.probed_concentration(model.probe(0.0, gel_side=True), self.h)
        out = {"skin_surface_pH": float(pH(c_h))}
        if self.return_pad:
            out["return_skin_surface_pH"] = float(pH(self._under_return(model)))
        return out

    def _under_return(self, model: Model) -> float:
        """H+ concentration [mol/m^3] on the skin surface under the middle of the return pad."""
        assert model.geometry is not None  # a return pad is meshed on a patch only
        _, inner, outer = model.geometry.edges
        pad = model.region_index("return_electrode")
        c_h = model.nodal_ionized()[self.h]
        on = (np.abs(model.vertex_depths()) <= 1e-9 * model.regions[1].thickness) & (model.nodal_layer == pad)
        distance = np.abs(model.vertex_x() - (inner + outer) / 2)
        k = int(np.argmin(np.where(on, distance, np.inf))) if on.any() else -1
        mine = (distance[k], float(c_h[k])) if k >= 0 else (np.inf, np.nan)
        return min(model.comm.allgather(mine))[1]
