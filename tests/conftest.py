"""Shared test helpers: small scenarios built in the config language."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
from mpi4py import MPI

from iontosim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def membrane_scenario(*, drug_mM=1.0, salt_mM=150.0, donor_mm=10.0, layers, protocol, species=None,
                      profile_times=None, numerics=None, donor_mixing=1.0, donor_pH=7.4, drug="lidocaine",
                      polarity="anode", **extra):
    """A donor gel of NaCl plus a trace drug over `layers` (dicts in the config language).

    `donor_mixing` multiplies the gel's diffusivities: a large value makes it a well-mixed reservoir.
    """
    species = species or [drug, "Na+", "Cl-"]
    data = {
        "name": "test_membrane",
        "drug": drug,
        "species": species,
        "donor": {"area": "1 cm^2", "thickness": f"{donor_mm} mm", "pH": donor_pH,
                  "contents": {drug: {"concentration": f"{drug_mM} mM"},
                               "Na+": {"concentration": f"{salt_mM} mM"}},
                  "balance_with": "Cl-", "diffusivity_factor": donor_mixing, "polarity": polarity},
        "interstitial_fluid": {"Na+": f"{salt_mM} mM", "balance_with": "Cl-"},
        "skin": copy.deepcopy(layers),
        "clearance": {"counter_ion": "Cl-"},
        "protocol": protocol,
        "numerics": numerics or {},
        "outputs": {"profile_times": profile_times or [], "penetration_threshold": "1 uM"},
        **extra,  # any other top-level field (temperature, species_definitions, ...)
    }
    return scenario_from_dict(data)



def goldman_error(cells: int, flux: str = "lumped", donor_mm: float = 100.0, donor_mixing: float = 1e3,
                  pH: float = 4.0):
    """Steady flux enhancement of trace lidocaine (a weak base) through a 20 um uncharged
    membrane at 1.2 mA/cm2, relative to the exact constant-field (Goldman) value.

    Only the ionized fraction f migrates, so the total moves with Pe_eff = f Pe and the
    enhancement over passive diffusion of the total is Pe_eff / (1 - exp(-Pe_eff)), Pe from the
    potential drop the solver computed. At pH 4 lidocaine is fully ionized (f = 0.9999).

    Returns (relative error, Pe_eff). The default gel is large and well mixed, which keeps the
    quasi-steady offset from its slow depletion near 4e-4 at any resolution.
    """
    from iontosim.simulation import simulate

    layer = [{"name": "membrane", "thickness": "20 um", "pH": pH, "diffusivity_factor": 1e-3, "cells": cells}]
    sc = membrane_scenario(layers=layer, donor_mm=donor_mm, donor_mixing=donor_mixing, donor_pH=pH,
                           protocol=[{"current_density": "1.2 mA/cm^2", "duration": "40 min"}],
                           profile_times=["40 min"],
                           numerics={"dt_max": "60 s", "donor_cells": 40, "flux": flux})
    rec = simulate(sc, MPI.COMM_SELF)
    prof = rec.profiles[-1]
    top = np.flatnonzero(prof.depth == 0.0)[-1]  # membrane side of the surface
    c_top = prof.concentration["lidocaine"][top]
    drug = sc.species_objects()[0]
    pe = (prof.potential[top] - prof.potential[-1]) / (8.314462 * sc.temperature / 96485.33)
    pe *= drug.ionized_fraction(pH)
    d = 1e-3 * drug.diffusivity(sc.temperature)
    enhancement = rec.series["surface_flux/lidocaine"][-1] / (d * c_top / 20e-6)
    return enhancement / (pe / (1.0 - math.exp(-pe))) - 1.0, pe
