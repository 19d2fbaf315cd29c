"""Teorell-Meyer-Sievers membrane potential (docs/physics.md, Verification).

A membrane with fixed charge X = -100 mM separates 100 mM NaCl (a large, well-mixed gel) from
10 mM NaCl (deep boundary, psi = 0), with no current. At steady state the potential of the gel
against the deep bath is the ideal TMS potential: a Donnan jump at each face,
d_k = asinh(X / 2 c_k), plus the diffusion potential inside the membrane,

    psi_1 - psi_2 = -d_1 + u ln((s_2 - u X) / (s_1 - u X)) + d_2,
    u = (D+ - D-) / (D+ + D-),  s_k = sqrt(X^2 + 4 c_k^2)  (total ions inside at face k).

Tolerance 0.5 % of the potential (40 cells; the Donnan jumps are exact at any resolution, the
diffusion potential is discretized).
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.library.species import get_species
from iontosim.physics.constants import thermal_voltage
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

X, C1, C2 = -100.0, 100.0, 10.0


def tms_potential(d_plus: float, d_minus: float) -> float:
    u = (d_plus - d_minus) / (d_plus + d_minus)
    s1, s2 = math.hypot(X, 2 * C1), math.hypot(X, 2 * C2)
    d1, d2 = math.asinh(X / (2 * C1)), math.asinh(X / (2 * C2))
    return -d1 + u * math.log((s2 - u * X) / (s1 - u * X)) + d2


@pytest.mark.slow
def test_tms_membrane_potential():
    membrane = {
        "name": "membrane",
        "thickness": "20 um",
        "pH": 7.4,
        "diffusivity_factor": 1e-3,
        "cells": 40,
        "fixed_charge": {"isoelectric_point": 4.8, "charge_at_reference_pH": f"{X} mM", "reference_pH": 7.4},
    }
    sc = membrane_scenario(
        layers=[membrane],
        drug_mM=1e-6,
        salt_mM=C1,
        donor_mm=100.0,
        donor_mixing=1e3,
        protocol=[{"current": "0 mA", "duration": "3000 s"}],
        profile_times=["3000 s"],
        numerics={"dt_max": "60 s"},
    )
    # the deep side is the dilute bath
    sc = sc.model_copy(
        update={"interstitial_fluid": sc.interstitial_fluid.model_copy(update={"concentrations": {"Na+": C2}})}
    )
    prof = simulate(sc, MPI.COMM_SELF).profiles[-1]
    gel_side = np.flatnonzero(prof.depth == 0.0)[0]
    psi_gel = prof.potential[gel_side] / thermal_voltage(sc.temperature)
    T = sc.temperature
    expected = tms_potential(get_species("Na+").diffusivity(T), get_species("Cl-").diffusivity(T))
    assert abs(expected) > 1.0  # a potential of several thermal units: the test can tell
    assert psi_gel == pytest.approx(expected, rel=5e-3)
