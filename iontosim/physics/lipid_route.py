"""The lipid route: the neutral form of a drug crosses the stratum corneum's lipids too.

Ions take the aqueous route only. The neutral (partner) form of a weak electrolyte with a log P
also dissolves in a layer's intercellular lipids and diffuses through them, in parallel. Two
published correlations give the route, both from the octanol/water partition K_ow and the molar
mass M [g/mol] alone (Potts and Guy 1992, POTTS_GUY1992):

    lipid/water partition   K_lip = K_ow^0.71
    permeability            k_p = 10^(-2.72 + 0.71 log K_ow - 0.0061 M)   [cm/h]

The second is K_lip D_lip / L of the skin their data came from, so the layer gets the effective
lipid diffusivity D = k_p L / K_lip that gives it that permeability at its own thickness L; the
lipids (volume fraction phi of the layer) hold phi K_lip times the neutral form's pore-fluid
concentration. (Mitragotri's scaled-particle equation, MITRAGOTRI2002, ranked first of seven
models by LIAN2008 with Potts-Guy second, needs a molecular radius to whose square it is
exponentially sensitive, which the species library does not give.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from iontosim.physics.term import Term, TransportedForm

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

CM_PER_H = 1e-2 / 3600.0  # m/s


def lipid_partition(log_P: float) -> float:
    """Lipid/water partition of a neutral solute, K_ow^0.71 (POTTS_GUY1992)."""
    return 10.0 ** (0.71 * log_P)


def potts_guy_permeability(log_P: float, molar_mass: float) -> float:
    """Skin permeability [m/s] of a neutral solute, log kp [cm/h] = -2.72 + 0.71 log K_ow - 0.0061 M
    with M in g/mol (`molar_mass` in kg/mol) (POTTS_GUY1992)."""
    return 10.0 ** (-2.72 + 0.71 * log_P - 0.0061 * molar_mass * 1e3) * CM_PER_H


class LipidRoute(Term):
    """The neutral forms' route through the lipids of the layers that have them (module docstring)."""

    name = "lipid_route"

    def __init__(self, species: list[int]):
        self.species = species  # weak electrolytes with a neutral partner form and a log P

    @classmethod
    def switched_on(cls, scenario, model: Model) -> LipidRoute | None:
        from iontosim.physics.ionization import partner_charge

        if not any(getattr(r.spec, "lipids", None) is not None for r in model.regions if r.is_skin):
            return None
        if scenario.ionization != "weak_electrolyte":
            return None
        chosen = [
            i
            for i, sp in enumerate(model.species)
            if sp.pKa is not None and sp.log_P is not None and partner_charge(sp.charge, sp.acid_base) == 0
        ]
        return cls(chosen) if chosen else None

    def setup(self, model: Model) -> None:
        from iontosim.physics.ionization import WeakElectrolytes

        self.weak = model.term(WeakElectrolytes)
        self.diffusivity, self.storage, self.factor = {}, {}, {}
        for i in self.species:
            sp = model.species[i]
            assert sp.log_P is not None
            k_lip = lipid_partition(sp.log_P)
            k_p = potts_guy_permeability(sp.log_P, sp.molar_mass)
            d, held, factor = [], [], []
            for region in model.regions:
                lipids = getattr(region.spec, "lipids", None) if region.is_skin else None
                d.append(k_p * region.thickness / k_lip if lipids is not None else 0.0)
                held.append(lipids.volume_fraction * k_lip / region.porosity if lipids is not None else 0.0)
                factor.append(k_lip if lipids is not None else 1.0)
            self.diffusivity[i] = model.cellwise(d, f"D_lipid_{i}")
            self.storage[i] = model.cellwise(held, f"lipid_storage_{i}")
            self.factor[i] = model.cellwise(factor, f"K_lipid_{i}")  # lipid/water, 1 outside lipids

    def transported_forms(self, model: Model) -> list[TransportedForm]:
        """The neutral form in the lipids: K_lip times the pore fluid's, with the partner form's
        potential (so the two are in equilibrium) and its own diffusivity (zero outside lipids)."""
        forms = []
        for i in self.species:
            concentration, potential = self.weak.partner(model, i)
            partition = model.partition[i] if self.weak.moving else self.weak.ratio_field[i] * model.partition[i]
            # an acid's neutral form HA carries a proton into the H+ balance (moving pH)
            carries = (self.weak.h,) if self.weak.moving and not self.weak.base[i] else ()
            forms.append(
                TransportedForm(
                    self.factor[i] * concentration,
                    potential,
                    self.factor[i] * partition,
                    0,
                    i,
                    carries,
                    diffusivity=self.diffusivity[i],
                )
            )
        return forms

    def held(self, model: Model, species: int, amount: Any, c: Sequence[Any]) -> Any:
        if species in self.storage:
            neutral = self.weak.ratio(model, species, c) * c[species]
            return amount + self.storage[species] * neutral
        if self.weak.moving and species == self.weak.h:
            for i in self.species:
                if not self.weak.base[i]:
                    amount = amount + self.storage[i] * self.weak.ratio(model, i, c) * c[i]
        return amount
