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

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.physics.constants import FARADAY
from iontosim.physics.term import Ledger, LedgerEntry, Step, Term, TransportedForm

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


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


class WeakElectrolytes(Term):
    """Both forms of every weak acid and base: the partner form moves by its own charge (the
    neutral form of a monovalent base only diffuses), each region's buffered pH fixes the ratio
    of the forms. The protons the forms exchange on passing from one region to another go to the
    regions' buffers: that exchange is a current the ledger carries (`buffer_proton_uptake`)."""

    name = "weak_electrolytes"

    def __init__(self, species: list[int]):
        self.weak = species  # indices of the weak electrolytes

    @classmethod
    def switched_on(cls, scenario, model: Model) -> WeakElectrolytes | None:
        weak = [i for i, sp in enumerate(model.species) if sp.pKa is not None]
        return cls(weak) if scenario.ionization == "weak_electrolyte" and weak else None

    def setup(self, model: Model) -> None:
        self.ratio_field = {}
        for i in self.weak:
            sp = model.species[i]
            ratios = [partner_ratio(region.pH, sp.pKa, sp.acid_base) for region in model.regions]
            model.partner_ratio[:, i] = ratios
            model.partner_charge[i] = partner_charge(sp.charge, sp.acid_base)
            self.ratio_field[i] = model.cellwise(ratios, f"rho_{i}")
        model.nodal.partner_ratio = model.partner_ratio.T[:, model.nodal_layer]
        model.nodal.partner_charge = np.repeat(model.partner_charge[:, None], len(model.nodal_layer), axis=1)
        # the part of each species that carries a proton, per (region, species)
        rho = model.partner_ratio
        self.protonated = np.zeros_like(rho)
        for i in self.weak:
            base = model.species[i].acid_base == "base"
            self.protonated[:, i] = 1.0 / (1.0 + rho[:, i]) if base else rho[:, i] / (1.0 + rho[:, i])
        self.protons_before = 0.0
        self.uptake = 0.0

    def transported_forms(self, model: Model) -> list[TransportedForm]:
        # the partner form: c_p = rho c, potential ln(c_p) + z_p psi = mu - (z - z_p) psi + ln(rho K)
        forms = []
        for i in self.weak:
            rho, zp = self.ratio_field[i], int(model.partner_charge[i])
            forms.append(
                TransportedForm(
                    rho * model.c[i], model.mu[i] - (model.charge[i] - zp) * model.psi, rho * model.partition[i], zp, i
                )
            )
        return forms

    def total(self, model: Model, species: int, c: Any) -> Any:
        return c * (1.0 + self.ratio_field[species]) if species in self.ratio_field else c

    def build(self, model: Model) -> None:
        # Protons the weak electrolytes hold (the base's ionized form, the acid's partner form;
        # bound drug keeps its protons): their change beyond transport is what the buffers took up.
        from iontosim.physics.binding import TissueBinding

        binding = model.find(TissueBinding)
        protons: list[Any] = [None] * model.ns
        for i in self.weak:
            carrier = model.c[i] if model.species[i].acid_base == "base" else self.ratio_field[i] * model.c[i]
            protons[i] = binding.held(model, i, carrier, model.c) if binding is not None else carrier
        self.proton_form = model.per_species_form([model.porosity * p if p is not None else None for p in protons])

    def protons_held(self, model: Model) -> float:
        """mol/m^2 of protons the weak electrolytes carry in the whole model."""
        return float(model.per_region(self.proton_form).sum())

    def start(self, model: Model, ledger: Ledger) -> None:
        self.protons_before = self.protons_held(model)

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        # what left the system took its protons along: the rest of the change went to the buffers
        now = self.protons_held(model)
        carried = sum(float((self.protonated * ledger.rates_of(e)).sum()) for e in ledger.last)
        self.uptake = -(now - self.protons_before) / step.length - carried
        self.protons_before = now

    def ledger(self, model: Model) -> list[LedgerEntry]:
        return [LedgerEntry("buffer_proton_uptake", current=lambda _: FARADAY * self.uptake, recorded=False)]

    def series(self, model: Model) -> dict[str, str]:
        return {"buffer_proton_uptake": "mol/m^2/s"}

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        return {"buffer_proton_uptake": self.uptake if step is not None else 0.0}

    def state(self) -> dict[str, Any]:
        return {"protons_before": self.protons_before, "uptake": self.uptake}

    def restore(self, state: dict[str, Any]) -> None:
        self.protons_before, self.uptake = state["protons_before"], state["uptake"]
