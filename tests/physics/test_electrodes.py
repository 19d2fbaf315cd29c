"""Ag/AgCl electrodes of either polarity (physics/electrodes.py; AGCL_WIKI: AgCl + e- <-> Ag + Cl-).

The anode takes Cl- out of the gel at i/F; the cathode puts it back. In a charged membrane
(X = -100 mM at pH 7.4) between well-mixed 154 mM NaCl, the Na+ transport number at steady state
is the membrane's own, t_Na = D_Na c_+ / (D_Na c_+ + D_Cl c_-) with the Donnan concentrations,
whichever way the current flows (under the cathode Na+ leaves the skin instead of entering).
Tolerance 1 % (measured 0.3 %). The gel is large and well mixed and the run short (5 min; the
membrane is steady after ~1.5 min): the gel's salt then changes by ~0.03 mM. A thin gel loses
1 % of its salt in 20 min, and the salt then diffusing up the membrane lowers t_Na to 0.49.
"""

import pytest
from mpi4py import MPI

from iontosim.library.species import get_species
from iontosim.physics.constants import FARADAY
from iontosim.physics.fixed_charge import donnan_salt, fixed_charge
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

MEMBRANE = {
    "name": "membrane",
    "thickness": "20 um",
    "pH": 7.4,
    "diffusivity_factor": 1e-2,
    "cells": 40,
    "fixed_charge": {"isoelectric_point": 4.8, "charge_at_reference_pH": "-100 mM", "reference_pH": 7.4},
}


def _run(polarity: str):
    sc = membrane_scenario(
        layers=[MEMBRANE],
        drug_mM=1e-6,
        salt_mM=154.0,
        donor_mm=100.0,
        donor_mixing=1e5,
        polarity=polarity,
        protocol=[{"current_density": "0.2 mA/cm^2", "duration": "5 min"}],
        numerics={"dt_max": "30 s", "donor_cells": 40},
    )
    return simulate(sc, MPI.COMM_SELF), sc


def _steady_transport_number(record, name: str) -> float:
    flux = record.series[f"surface_flux/{name}"][-1]
    i = record.series["current_density"][-1]
    return FARADAY * record.charges[name] * flux / i


@pytest.mark.slow
@pytest.mark.parametrize("polarity", ["anode", "cathode"])
def test_membrane_sodium_transport_number_either_polarity(polarity):
    record, sc = _run(polarity)
    x = fixed_charge(7.4, 4.8, -100.0, 7.4)
    c_plus, c_minus = donnan_salt(x, 154.0)
    d_na, d_cl = (get_species(n).diffusivity(sc.temperature) for n in ("Na+", "Cl-"))
    expected = d_na * c_plus / (d_na * c_plus + d_cl * c_minus)
    assert (record.series["current_density"][-1] > 0) == (polarity == "anode")
    assert _steady_transport_number(record, "Na+") == pytest.approx(expected, rel=0.01)
    # the rest of the current is Cl- (the trace drug carries none of it)
    assert _steady_transport_number(record, "Cl-") == pytest.approx(1 - expected, rel=0.01)
    # Cl- taken out (anode) or put back (cathode) at i/F is in the Cl- mass balance
    assert max(record.series["mass_balance_error/Cl-"]) < 1e-6
