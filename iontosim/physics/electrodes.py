"""Electrode reactions as boundary fluxes, MODEL.md section 5.

With the current density i [A/m^2] positive for an anode (current flowing into the skin):
- Ag/AgCl: anode Ag + Cl- -> AgCl + e- takes one Cl- out of the gel per electron; as a cathode
  it puts Cl- back. The skin pH is left alone.
- inert (platinum, carbon, stainless steel): water is electrolysed, anode 2 H2O -> O2 + 4 H+ + 4 e-,
  cathode 2 H2O + 2 e- -> H2 + 2 OH-: one H+ or OH- per electron enters the gel (model_parameters.md
  section 9: "H+/OH- generation rate = i/F"), and the gel's pH drifts.
Every other species is blocked, so the drug competes with every other ion for the current.
"""

from __future__ import annotations

from iontosim.physics.constants import FARADAY

KINDS = ("Ag/AgCl", "inert")
#: the species each electrode's reaction needs in the scenario
NEEDS = {"Ag/AgCl": ("Cl-",), "inert": ("H+", "OH-")}
#: the ion whose electrochemical potential the electrode follows (its reversible potential)
POTENTIAL_ION = {"Ag/AgCl": "Cl-", "inert": "H+"}


def removal_rates(kind: str, current_density: float) -> dict[str, float]:
    """mol/m^2/s of each species the reaction takes out of the gel (negative: puts in)."""
    if kind == "Ag/AgCl":
        return {"Cl-": current_density / FARADAY}
    if kind == "inert":
        return {"H+": -max(current_density, 0.0) / FARADAY, "OH-": -max(-current_density, 0.0) / FARADAY}
    raise ValueError(f"unknown electrode {kind!r}; known: {', '.join(KINDS)}")


def boundary_terms(kind: str, current_density, tests: dict, ds):
    """Residual terms of the electrode: the outward normal flux of each reacting species times its test function."""
    from iontosim._fenics import ufl  # here, so that scenario validation does not load DOLFINx

    if kind == "Ag/AgCl":
        return current_density / FARADAY * tests["Cl-"] * ds
    if kind == "inert":
        anodic = ufl.max_value(current_density, 0.0) / FARADAY
        cathodic = ufl.max_value(-current_density, 0.0) / FARADAY
        return -anodic * tests["H+"] * ds - cathodic * tests["OH-"] * ds
    raise ValueError(f"unknown electrode {kind!r}; known: {', '.join(KINDS)}")
