"""Immobile buffers: a region's weak acid HB <-> B + H+ (acid form of charge z_a, base form z_a - 1)
fixed to the tissue or the gel. Where H+ is a species (inert electrodes, tap water) a buffer takes
up or gives protons as the local H+ changes: it holds

    bound = B_tot c_H / (c_H + Ka)

protons per pore volume and carries the charge B_tot (z_a - Ka / (c_H + Ka)), both at local
equilibrium. Ka is in mol/m^3 (Ka in mol/L = 10^-pKa).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iontosim.physics.term import Term
from iontosim.physics.water import neutral_pair

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

#: a region without a buffer: no total, any Ka, no charge
NO_BUFFER = (0.0, 1.0, 0.0)


def acid_constant(pKa: float) -> float:
    """Ka in mol/m^3 from a pKa (Ka in mol/L = 10^-pKa)."""
    return 1e3 * 10.0 ** (-pKa)


def bound_protons(c_h, total, ka):
    """Protons held by an immobile buffer HB <-> B + H+ [mol/m^3] at H+ concentration c_h (UFL or float)."""
    return total * c_h / (c_h + ka)


def buffer_charge(c_h, total, ka, acid_charge):
    """Charge density of the buffer [mol/m^3]: acid form acid_charge, base form one less."""
    return total * (acid_charge - ka / (c_h + ka))


def region_buffer(spec) -> tuple[float, float, float]:
    """(total [mol/m^3], Ka [mol/m^3], acid charge) of a region's scenario part (NO_BUFFER without one)."""
    buffer = getattr(spec, "buffer", None)
    if buffer is None:
        return NO_BUFFER
    return (buffer.concentration, acid_constant(buffer.pKa), float(buffer.acid_charge))


class ImmobileBuffers(Term):
    """The buffers of the regions that have one, where H+ is transported (module docstring)."""

    name = "buffers"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> ImmobileBuffers | None:
        has_any = any(region_buffer(region.spec)[0] > 0 for region in model.regions)
        return cls() if "H+" in model.names and has_any else None

    def setup(self, model: Model) -> None:
        self.h = model.index("H+")
        self.per_region = [region_buffer(region.spec) for region in model.regions]
        self.fields = tuple(
            model.cellwise([b[k] for b in self.per_region], name)
            for k, name in enumerate(("buffer_total", "buffer_Ka", "buffer_acid_charge"))
        )
        # the buffers' charge at each region's own pH: a starting guess for the nodal potential
        model.nodal.fixed = model.nodal.fixed + model.per_vertex(
            [buffer_charge(neutral_pair(region.pH)[0], *b) for region, b in zip(model.regions, self.per_region)]
        )

    def held(self, model: Model, species: int, amount: Any, c) -> Any:
        if species != self.h:
            return amount
        return amount + bound_protons(c[self.h], *self.fields[:2])

    def immobile_charge(self, model: Model, c) -> Any:
        return buffer_charge(c[self.h], *self.fields)

    def nodal_charge(self, model: Model, ionized) -> Any:
        """The buffers' charge at every (owned cell, vertex) at the nodal H+ (moving pH)."""
        if not model.moving_pH:
            return None
        fields = [model.per_vertex([b[k] for b in self.per_region]) for k in range(3)]
        return buffer_charge(ionized[self.h], *fields)

    def region_charge(self, region: int, c_h: float) -> float:
        """Charge density [mol/m^3] of region `region`'s buffer at H+ concentration c_h."""
        return buffer_charge(c_h, *self.per_region[region])
