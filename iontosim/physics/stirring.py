"""A stirred donor chamber (a Franz cell's donor solution), and a reservoir held at its composition.

Stirring carries every dissolved form alike, whatever its charge: an eddy diffusivity D_mix added
to each form's flux in the donor,

    J_mix = -D_mix grad(c),   D_mix = L^2 / t_mix,

L the chamber's depth (volume / area) and t_mix the time it takes to mix over it
(donor.mixing_time). It passes no current where the solution is neutral (sum z grad c = 0), and
it makes the chamber uniform on times longer than t_mix: the "well-stirred" limit, while the
skin surface still sees the chamber's composition through a thin layer of the mesh.

A fixed reservoir (donor.kind fixed_reservoir, an "infinite dose") is stirred and replenished:
every species relaxes to the chamber's starting composition at the rate 1 / t_mix,

    r_i = (c_i,0 - c_i) / t_mix    [mol/m^3/s, put in],

so that what the skin and the electrode take is made good within about t_mix. What was put in is
the ledger entry `replenished` (negative amounts: put in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iontosim._fenics import ufl
from iontosim.physics.term import LedgerEntry, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def eddy_diffusivity(depth: float, mixing_time: float) -> float:
    """D_mix [m^2/s] that mixes a chamber `depth` [m] deep in `mixing_time` [s]."""
    return depth**2 / mixing_time


#: the ledger entry of a fixed reservoir's top-ups (negative amounts: put in)
REPLENISHED = "replenished"


class StirredDonor(Term):
    """Eddy mixing of every dissolved form in the donor region; with `replenished`, relaxation of
    the donor to its starting composition (a fixed reservoir)."""

    name = "stirred_donor"

    def __init__(self, replenished: bool = False):
        self.replenished = replenished

    @classmethod
    def switched_on(cls, scenario, model: Model) -> StirredDonor | None:
        kind = scenario.donor.kind
        return cls(replenished=kind == "fixed_reservoir") if kind != "finite_gel" else None

    def setup(self, model: Model) -> None:
        donor = model.scenario.donor
        assert donor.mixing_time is not None  # set for every stirred kind (schema.Donor._mixing)
        self.mixing_time = donor.mixing_time
        self.d_mix = eddy_diffusivity(donor.thickness, donor.mixing_time)
        self.in_donor = model.cellwise([1.0 if r.tag == 0 else 0.0 for r in model.regions], "stirred")

    def build(self, model: Model) -> None:
        from iontosim.model.compositions import donor_fluid

        if not self.replenished:
            return
        from iontosim.physics.ionization import WeakElectrolytes

        ionized = donor_fluid(model)
        start = ionized * (1.0 + model.partner_ratio[0])  # both forms of a weak electrolyte
        weak = model.find(WeakElectrolytes)
        if model.moving_pH and weak is not None:  # the H+ balance counts the protons they carry
            start[model.index("H+")] += weak.protonated_amounts(model, 0, ionized).sum()
        self.rates = [
            self.in_donor * model.porosity * (model.totals[i] - float(start[i])) / self.mixing_time
            for i in range(model.ns)
        ]
        self.rate_form = model.per_species_form(self.rates)

    def residual(self, model: Model) -> Any:
        F = 0
        for form in model.forms:
            grad_c = ufl.grad(form.concentration)
            F += self.in_donor * self.d_mix * ufl.inner(grad_c, ufl.grad(model.tests[form.species])) * model.dx
        if self.replenished:
            for i, rate in enumerate(self.rates):
                F += rate * model.tests[i] * model.dx
        return F

    def ledger(self, model: Model) -> list[LedgerEntry]:
        if not self.replenished:
            return []
        charges = model.row_charges()

        def current(ledger) -> float:
            from iontosim.physics.constants import FARADAY

            return FARADAY * float((charges * ledger.rates_of(REPLENISHED)).sum())

        return [
            LedgerEntry(
                REPLENISHED,
                rates=lambda: model.per_region(self.rate_form),
                current=current,
                description="exchanged by the fixed reservoir's replenishment (what it put in is negative)",
            )
        ]
