"""Weak acids and bases (Henderson-Hasselbalch).

A weak electrolyte exists in two forms: its ionized form (charge z, the one the species library
names) and its conjugate partner, one proton apart: B (z - 1) for a base BH+ (z), HA (z + 1) for
an acid A (z). The two forms are in local equilibrium at the ratio

    rho = c_partner / c_ionized = Ka / c_H for a base,  c_H / Ka for an acid,

and both are transported, each by its own diffusion and migration (the partner form of a
monovalent base is neutral and only diffuses). The model's unknown is the ionized form's
electrochemical potential; the total is c (1 + rho). Partner forms share the ionized form's
diffusivity and partition (an estimate: no per-form values are published for the drugs here).

Where the pH comes from (scenario.pH_model):
- fixed: each region's pH is a parameter, so rho is a constant of the region. The protons the
  forms exchange on passing from one region to another go to the regions' buffers: a current the
  ledger carries (`buffer_proton_uptake`).
- moving: H+ is transported and c_H is the local one. The equilibrium BH+ = B + H+ makes the
  partner's electrochemical potential mu_B = mu_BH - mu_H + ln(Ka / K_H) (mu_HA = mu_A + mu_H +
  ln(K_H / Ka) for an acid): the potential drops out, and the protons are conserved exactly,
  the protonated form (BH+, HA) entering the H+ balance with its storage and its flux.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import ufl
from iontosim.physics import transport
from iontosim.physics.constants import FARADAY
from iontosim.physics.term import Ledger, LedgerEntry, Series, Step, Term, TransportedForm
from iontosim.solver.stepping import rate_of_change

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


def acid_constant(pKa: float) -> float:
    """Ka in mol/m^3 from a pKa (Ka in mol/L = 10^-pKa)."""
    return 1e3 * 10.0 ** (-pKa)


class WeakElectrolytes(Term):
    """Both forms of every weak acid and base (module docstring): the partner form moves by its own
    charge, the local pH sets the ratio of the forms (each region's own with a fixed pH, H+'s
    local concentration with a moving one)."""

    name = "weak_electrolytes"

    def __init__(self, species: list[int]):
        self.weak = species  # indices of the weak electrolytes

    @classmethod
    def switched_on(cls, scenario, model: Model) -> WeakElectrolytes | None:
        weak = [i for i, sp in enumerate(model.species) if sp.pKa is not None]
        return cls(weak) if scenario.ionization == "weak_electrolyte" and weak else None

    def setup(self, model: Model) -> None:
        self.moving = model.moving_pH
        self.h = model.index("H+") if self.moving else -1
        self.base = {i: model.species[i].acid_base == "base" for i in self.weak}
        self.ka = {i: acid_constant(float(model.species[i].pKa or 0.0)) for i in self.weak}  # weak: a pKa
        self.ratio_field = {}
        for i in self.weak:
            sp = model.species[i]
            ratios = [partner_ratio(region.pH, sp.pKa, sp.acid_base) for region in model.regions]
            model.partner_ratio[:, i] = ratios  # at each region's own pH: its starting composition
            model.partner_charge[i] = partner_charge(sp.charge, sp.acid_base)
            self.ratio_field[i] = model.cellwise(ratios, f"rho_{i}")
        model.nodal.partner_ratio = model.partner_ratio.T[:, model.nodal_layer]
        model.nodal.partner_charge = np.repeat(model.partner_charge[:, None], len(model.nodal_layer), axis=1)
        if self.moving:
            model.nodal_ratio_of = self.nodal_ratio
        # the part of each species that carries a proton, per (region, species)
        rho = model.partner_ratio
        self.protonated = np.zeros_like(rho)
        for i in self.weak:
            self.protonated[:, i] = 1.0 / (1.0 + rho[:, i]) if self.base[i] else rho[:, i] / (1.0 + rho[:, i])
        self.protons_before = self.protons_earlier = 0.0
        self.after_event = False  # a protocol event moved protons: count them again before the next step
        self.uptake = 0.0

    # ------------------------------------------------------------------ the ratio of the forms
    def ratio(self, model: Model, species: int, c: Sequence[Any]) -> Any:
        """rho of a weak electrolyte (UFL) from the ionized forms `c`: the region's, or the local H+'s."""
        if not self.moving:
            return self.ratio_field[species]
        ka = self.ka[species]
        return ka / c[self.h] if self.base[species] else c[self.h] / ka

    def nodal_ratio(self, ionized: np.ndarray) -> np.ndarray:
        """rho of every species at every (owned cell, vertex) from the nodal ionized forms (moving pH)."""
        rho = np.zeros_like(ionized)
        c_h = ionized[self.h]
        for i in self.weak:
            rho[i] = self.ka[i] / c_h if self.base[i] else c_h / self.ka[i]
        return rho

    def protonated_part(self, model: Model, species: int, c: Sequence[Any]) -> Any:
        """The form of a weak electrolyte that carries the proton (BH+ of a base, HA of an acid), UFL."""
        return c[species] if self.base[species] else self.ratio(model, species, c) * c[species]

    def protonated_amounts(self, model: Model, region: int, ionized: np.ndarray) -> np.ndarray:
        """mol/m^3 of each weak electrolyte's protonated form in a fluid of ionized forms `ionized`
        at `region`'s own pH (zeros elsewhere)."""
        out = np.zeros(len(ionized))
        for i in self.weak:
            rho = model.partner_ratio[region, i]
            out[i] = ionized[i] if self.base[i] else rho * ionized[i]
        return out

    def transported_forms(self, model: Model) -> list[TransportedForm]:
        """The partner forms: c_p = rho c. Fixed pH: potential ln(c_p / (rho K)) + z_p psi = mu - (z -
        z_p) psi, partition rho K. Moving pH: potential mu -+ mu_H + ln(Ka / K_H)^(+-1), psi-free for
        a monovalent one, partition K; an acid's partner HA carries the proton into the H+ balance."""
        forms = []
        for i in self.weak:
            zp = int(model.partner_charge[i])
            if not self.moving:
                concentration, potential = self.partner(model, i)
                partition = self.ratio_field[i] * model.partition[i]
                forms.append(TransportedForm(concentration, potential, partition, zp, i))
                continue
            concentration, potential = self.partner(model, i)
            carries = () if self.base[i] else (self.h,)
            forms.append(TransportedForm(concentration, potential, model.partition[i], zp, i, carries))
        return forms

    def partner(self, model: Model, i: int) -> tuple[Any, Any]:
        """(concentration, electrochemical potential) of species i's partner form, UFL. With a fixed
        pH the potential is mu - (z - z_p) psi, to go with partition rho K; with a moving one it is
        the true one, ln(c_p / K) + z_p psi, to go with partition K."""
        zp = int(model.partner_charge[i])
        if not self.moving:
            return self.ratio_field[i] * model.c[i], model.mu[i] - (model.charge[i] - zp) * model.psi
        k_h, ka = model.partition[self.h], self.ka[i]
        if self.base[i]:
            potential = model.mu[i] - model.mu[self.h] + ufl.ln(ka / k_h)
        else:
            potential = model.mu[i] + model.mu[self.h] + ufl.ln(k_h / ka)
        return transport.concentration(potential, model.psi, model.partition[i], zp), potential

    def adjust_forms(self, model: Model, forms: list[TransportedForm]) -> list[TransportedForm]:
        """Moving pH: a base's ionized form BH+ carries its proton into the H+ balance."""
        if not self.moving:
            return forms
        bases = {i for i in self.weak if self.base[i]}
        return [
            dataclasses.replace(f, also=(*f.also, self.h))
            if f.species in bases and f.potential is model.mu[f.species]
            else f
            for f in forms
        ]

    def total(self, model: Model, species: int, c: Any, ionized: Sequence[Any]) -> Any:
        if species in self.ratio_field:
            return c * (1.0 + self.ratio(model, species, ionized))
        if self.moving and species == self.h:  # the H+ balance: free protons and those on weak electrolytes
            for i in self.weak:
                c = c + self.protonated_part(model, i, ionized)
        return c

    def held(self, model: Model, species: int, amount: Any, c: Sequence[Any]) -> Any:
        """Moving pH: bound drug keeps its protons (the H+ balance holds them too)."""
        from iontosim.physics.binding import TissueBinding

        if not (self.moving and species == self.h):
            return amount
        binding = model.find(TissueBinding)
        if binding is None:
            return amount
        for i in self.weak:
            if i in binding.retardation:
                amount = amount + (binding.retardation[i] - 1.0) * self.protonated_part(model, i, c)
        return amount

    def build(self, model: Model) -> None:
        # Fixed pH: the protons the weak electrolytes hold (the base's ionized form, the acid's
        # partner form; bound drug keeps its protons): their change beyond transport is what the
        # buffers took up.
        from iontosim.physics.binding import TissueBinding

        if self.moving:
            return
        binding = model.find(TissueBinding)
        protons: list[Any] = [None] * model.ns
        for i in self.weak:
            carrier = self.protonated_part(model, i, model.c)
            protons[i] = binding.held(model, i, carrier, model.c) if binding is not None else carrier
        self.proton_form = model.per_species_form([model.porosity * p if p is not None else None for p in protons])

    def protons_held(self, model: Model) -> float:
        """mol/m^2 of protons the weak electrolytes carry in the whole model."""
        return float(model.per_region(self.proton_form).sum())

    def start(self, model: Model, ledger: Ledger) -> None:
        if not self.moving:
            self.protons_before = self.protons_held(model)
            self.protons_earlier = self.protons_before  # one level further back (BDF2)

    def at_event(self, model: Model, event: Any, ledger: Ledger) -> None:
        # a patch put on or taken off moves protons at an instant, not at a rate: not the buffers'
        # uptake. Counted again in before_step, once every term has acted on the event.
        self.after_event = not self.moving

    def before_step(self, model: Model, step: Step) -> None:
        if self.after_event:
            self.protons_before = self.protons_earlier = self.protons_held(model)
            self.after_event = False

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        # what left the system took its protons along: the rest of the change went to the buffers
        if self.moving:
            return
        now = self.protons_held(model)
        carried = sum(float((self.protonated * ledger.rates_of(e)).sum()) for e in ledger.last)
        levels = (now, self.protons_before, self.protons_earlier)
        self.uptake = -rate_of_change(levels, model.step_weights(), step.length) - carried
        self.protons_earlier, self.protons_before = self.protons_before, now

    def ledger(self, model: Model) -> list[LedgerEntry]:
        if self.moving:  # the protons are in the H+ balance
            return []
        return [LedgerEntry("buffer_proton_uptake", current=lambda _: FARADAY * self.uptake, recorded=False)]

    def series(self, model: Model) -> dict[str, Series | str]:
        if self.moving:
            return {}
        what = (
            "rate at which the regions' buffers take up protons from the weak electrolytes (fixed pH: the protons "
            "the forms exchange between regions), over the time step that ended at this time, per area of the "
            "donor electrode"
        )
        return {"buffer_proton_uptake": Series("mol/m^2/s", what, "positive: taken up by the buffers")}

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        if self.moving:
            return {}
        return {"buffer_proton_uptake": self.uptake if step is not None else 0.0}

    def state(self) -> dict[str, Any]:
        return {
            "protons_before": self.protons_before,
            "protons_earlier": self.protons_earlier,
            "uptake": self.uptake,
            "after_event": self.after_event,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.protons_before, self.protons_earlier = state["protons_before"], state["protons_earlier"]
        self.uptake, self.after_event = state["uptake"], state["after_event"]
