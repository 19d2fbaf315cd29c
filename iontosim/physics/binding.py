"""Tissue binding: a fraction b of a drug in the skin is bound to tissue, fast and linear.

Bound drug does not move but is held: a unit of pore volume holds R = 1 / (1 - b) times the free
drug (the retardation factor), which slows the drug's front by R and leaves the steady flux
unchanged. Bound ions keep their charge, so bound drug also counts as immobile charge in
electroneutrality. The gel pads do not bind. b is a species' `binding` (scenario
species_definitions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iontosim.physics.term import Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def retardation(bound_fraction: float) -> float:
    """R = held / free for a bound fraction b: 1 / (1 - b)."""
    return 1.0 / (1.0 - bound_fraction)


class TissueBinding(Term):
    """Fast, linear, immobile binding in the skin regions (module docstring)."""

    name = "binding"

    def __init__(self, fractions: dict[int, float]):
        self.fractions = fractions  # species index -> bound fraction in the skin

    @classmethod
    def switched_on(cls, scenario, model: Model) -> TissueBinding | None:
        fractions = {}
        for i, name in enumerate(model.names):
            definition = scenario.definition_of(name)
            if definition is not None and definition.binding:
                fractions[i] = definition.binding
        return cls(fractions) if fractions else None

    def setup(self, model: Model) -> None:
        self.retardation = {}
        for i, b in self.fractions.items():
            per_region = [1.0 if region.is_pad else retardation(b) for region in model.regions]
            self.retardation[i] = model.cellwise(per_region, f"R_{i}")
            model.nodal.retardation[i] = model.per_vertex(per_region)

    def held(self, model: Model, species: int, amount: Any, c) -> Any:
        return self.retardation[species] * amount if species in self.retardation else amount

    def immobile_charge(self, model: Model, c) -> Any:
        """The charge of bound ions: (R - 1) z c of every mobile form of a binding species."""
        total = None
        for form in model.forms:
            if form.species in self.retardation:
                part = (self.retardation[form.species] - 1.0) * form.charge * form.concentration
                total = part if total is None else total + part
        return total
