"""Capillary clearance with epinephrine vasoconstriction.

Drug is removed by a first-order sink R = -k_cl(x) c in vascularised layers, together with a
counter-ion so that the sink carries no net charge. A vasoconstrictor lowers the local rate:

    k_eff = k_cl * (1 - E_max c_v^n / (EC50^n + c_v^n))

What the capillaries take up goes to the systemic circulation (pharmacokinetics.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iontosim.physics.constants import FARADAY
from iontosim.physics.term import Ledger, LedgerEntry, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def vasoconstriction_factor(c_vasoconstrictor, max_effect, ec50, hill):
    """Fraction of the clearance left at vasoconstrictor concentration c_v (UFL or float)."""
    activity = c_vasoconstrictor**hill
    return 1.0 - max_effect * activity / (ec50**hill + activity)


class CapillaryClearance(Term):
    """First-order uptake of every drug by the dermal capillaries of each skin layer (its
    clearance_rate), lowered by a vasoconstrictor, with a counter-ion leaving alongside; ledger
    entry `cleared`."""

    name = "clearance"

    def setup(self, model: Model) -> None:
        #: capillary clearance rate [1/s] of each region before vasoconstriction
        self.per_region = [
            0.0 if region.is_pad else getattr(region.spec, "clearance_rate", 0.0) for region in model.regions
        ]
        self.clearance_rate = model.cellwise(self.per_region, "clearance_rate")
        self.cleared = [i for i, sp in enumerate(model.species) if sp.role == "drug"]

    def rate_field(self, model: Model, c) -> Any:
        """Local capillary clearance rate [1/s] including vasoconstriction."""
        rule = model.scenario.clearance
        rate = self.clearance_rate
        if rule.vasoconstrictor is not None and rule.max_effect > 0:
            cv = model.totals_of(c)[model.index(rule.vasoconstrictor)]
            rate = rate * vasoconstriction_factor(cv, rule.max_effect, rule.EC50, rule.hill)
        return rate

    def sink_rates(self, model: Model, c) -> list:
        """Per-species sink densities [mol/(m^3 s)] (positive: removed)."""
        from iontosim.physics.ionization import WeakElectrolytes

        rule = model.scenario.clearance
        k = self.rate_field(model, c)
        rates: list[Any] = [None] * model.ns
        total = model.totals_of(c)
        for i in self.cleared:
            rates[i] = k * model.porosity * total[i]
        weak = model.find(WeakElectrolytes)
        weak_ones = [i for i in self.cleared if weak is not None and i in weak.ratio_field]
        if rule.counter_ion is not None and self.cleared:
            j = model.index(rule.counter_ion)
            # neutral sink: the counter-ion leaves with the charge the drug's two forms carry
            charge_removed = sum(model.charge[i] * k * model.porosity * c[i] for i in self.cleared)
            charge_removed += sum(
                int(model.partner_charge[i]) * k * model.porosity * weak.ratio(model, i, c) * c[i]  # type: ignore[union-attr]
                for i in weak_ones
            )
            rates[j] = -charge_removed / model.species[j].charge
        if model.moving_pH and weak_ones:  # the cleared drug takes its protons out of the H+ balance
            assert weak is not None
            h = model.index("H+")
            protons = sum(k * model.porosity * weak.protonated_part(model, i, c) for i in weak_ones)
            rates[h] = protons if rates[h] is None else rates[h] + protons
        return rates

    def build(self, model: Model) -> None:
        self.rates = self.sink_rates(model, model.c)
        self.sink_form = model.per_species_form(self.rates)

    def residual(self, model: Model) -> Any:
        F = None
        for i, rate in enumerate(self.rates):
            if rate is not None:
                F = rate * model.tests[i] * model.dx if F is None else F + rate * model.tests[i] * model.dx
        return F

    def ledger(self, model: Model) -> list[LedgerEntry]:
        def current(ledger: Ledger) -> float:
            return FARADAY * float((model.row_charges() * ledger.rates_of("cleared")).sum())

        return [
            LedgerEntry(
                "cleared",
                rates=lambda: model.per_region(self.sink_form),
                current=current,
                description="taken up by the capillaries of the skin layers (capillary clearance, the input of the "
                "systemic model; a counter-ion leaves with the drug)",
            )
        ]
