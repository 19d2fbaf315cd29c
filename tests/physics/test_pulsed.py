"""Pulsed direct current at equal charge delivers what the constant-field physics says, not the
same as constant current (docs/physics.md, Electrodes and protocols).

Trace lidocaine (0.1 mM, fully ionized at pH 4, in 15 mM NaCl) crosses a thin uncharged membrane
(20 um, lag time ~10 s) from a large, well-mixed gel. Pulses of 20 min period are far longer than the lag time, so
each phase is quasi-steady: the flux is the Goldman value of the instantaneous potential drop,
J = (D c / L) E(Pe), E(Pe) = Pe / (1 - exp(-Pe)). At equal charge, pulses of twice the current
at a 50 % duty cycle deliver

    [E(2 Pe) + E(0)] / 2   against   E(Pe)

for constant current, Pe the drop at the constant current (ohmic: doubling the current doubles
it). With Pe ~ 4 that ratio is ~1.10: migration is linear in the current, but the passive
diffusion of the off-phase adds. Tolerance 2 % (the switching transients, ~10 s in 600 s each).
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.physics.constants import thermal_voltage
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

LAYER = [{"name": "membrane", "thickness": "20 um", "pH": 4.0, "diffusivity_factor": 0.01, "cells": 40}]


def _delivered(step: dict, profile_times=None):
    sc = membrane_scenario(
        layers=LAYER,
        donor_mm=100.0,
        donor_mixing=1e3,
        donor_pH=4.0,
        salt_mM=15.0,
        drug_mM=0.1,
        protocol=[{"duration": "40 min", **step}],
        profile_times=profile_times,
        numerics={"dt_max": "30 s", "donor_cells": 40},
    )
    return simulate(sc, MPI.COMM_SELF), sc


def _enhancement(pe: float) -> float:
    return pe / (1.0 - math.exp(-pe)) if pe != 0 else 1.0


@pytest.mark.slow
def test_slow_pulses_deliver_the_quasi_steady_goldman_amount():
    constant, sc = _delivered({"current_density": "1.2 mA/cm^2"}, profile_times=["40 min"])
    pulsed, _ = _delivered({"current_density": "2.4 mA/cm^2", "pulse": {"frequency": "0.05 1/min", "duty_cycle": 0.5}})
    assert pulsed.applied_charge == pytest.approx(constant.applied_charge, rel=1e-12)
    prof = constant.profiles[-1]
    top = np.flatnonzero(prof.depth == 0.0)[-1]
    pe = (prof.potential[top] - prof.potential[-1]) / thermal_voltage(sc.temperature)
    assert 3.0 < pe < 6.0  # the regime the test is meant to probe
    expected = 0.5 * (_enhancement(2 * pe) + _enhancement(0.0)) / _enhancement(pe)
    ratio = pulsed.series["delivered/lidocaine"][-1] / constant.series["delivered/lidocaine"][-1]
    assert expected > 1.05  # equal charge is not equal delivery here
    assert ratio == pytest.approx(expected, rel=0.02)
