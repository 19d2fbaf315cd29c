"""Electrode reactions as boundary fluxes, MODEL.md section 5.

Ag/AgCl: anode Ag + Cl- -> AgCl + e- removes one Cl- per electron; as a cathode it releases
Cl-. The electrode is impermeable to every other species, so the drug competes with every other
cation of the donor for the current. With the current density i [A/m^2] positive for an anode
(current flowing into the skin), the outward normal flux of Cl- at the electrode is i/F.
"""

from __future__ import annotations

from iontosim.physics.constants import FARADAY


def silver_chloride_flux(current_density, test, ds):
    """Boundary term of the Cl- equation: outward flux i/F through the electrode."""
    return current_density / FARADAY * test * ds
