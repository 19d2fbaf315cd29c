"""Constant-field (Goldman) enhancement, MODEL.md section 8.1 (Kasting & Keister 1989).

A trace cation (1 mM lidocaine) crosses a homogeneous uncharged membrane in 150 mM NaCl. The
background fixes a uniform field, so at steady state the flux enhancement over passive diffusion
is E = Pe / (1 - exp(-Pe)), Pe = z F dV / (R T), with dV the potential drop the solver itself
computes across the membrane. Tolerance 1 %: the scheme's error at 40 cells for Pe ~ 4.
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

MEMBRANE = [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 40}]


def _steady_flux(current_mA_cm2: float):
    sc = membrane_scenario(
        layers=MEMBRANE,
        protocol=[{"current_density": f"{current_mA_cm2} mA/cm^2", "duration": "40 min"}],
        profile_times=["40 min"], numerics={"dt_max": "60 s", "donor_cells": 40})
    rec = simulate(sc, MPI.COMM_SELF)
    prof = rec.profiles[-1]
    top = np.flatnonzero(prof.depth == 0.0)[-1]  # membrane side of the surface
    c_top = prof.concentration["lidocaine"][top]
    drop = prof.potential[top] - prof.potential[-1]
    flux = rec.series["surface_flux/lidocaine"][-1]
    return flux, c_top, drop, sc


@pytest.mark.slow
def test_goldman_enhancement():
    flux, c_top, drop, sc = _steady_flux(1.2)
    d = 1e-3 * sc.species_objects()[0].diffusivity(sc.temperature)
    passive = d * c_top / 20e-6
    pe = drop / (8.314462 * sc.temperature / 96485.33)
    assert 2.0 < pe < 8.0  # the regime the test is meant to probe
    expected = pe / (1.0 - math.exp(-pe))
    assert flux / passive == pytest.approx(expected, rel=0.01)
