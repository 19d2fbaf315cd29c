"""Shared test helpers: small scenarios built in the config language."""

from __future__ import annotations

import copy
from pathlib import Path

from iontosim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def membrane_scenario(*, drug_mM=1.0, salt_mM=150.0, donor_mm=10.0, layers, protocol, species=None,
                      profile_times=None, numerics=None, donor_mixing=1.0):
    """A donor gel of NaCl plus a trace drug over `layers` (dicts in the config language).

    `donor_mixing` multiplies the gel's diffusivities: a large value makes it a well-mixed reservoir.
    """
    species = species or ["lidocaine", "Na+", "Cl-"]
    data = {
        "name": "test_membrane",
        "drug": "lidocaine",
        "species": species,
        "donor": {"area": "1 cm^2", "thickness": f"{donor_mm} mm", "pH": 7.4,
                  "contents": {"lidocaine": {"concentration": f"{drug_mM} mM"},
                               "Na+": {"concentration": f"{salt_mM} mM"}},
                  "balance_with": "Cl-", "diffusivity_factor": donor_mixing},
        "interstitial_fluid": {"Na+": f"{salt_mM} mM", "balance_with": "Cl-"},
        "skin": copy.deepcopy(layers),
        "clearance": {"counter_ion": "Cl-"},
        "protocol": protocol,
        "numerics": numerics or {},
        "outputs": {"profile_times": profile_times or [], "penetration_threshold": "1 uM"},
    }
    return scenario_from_dict(data)

