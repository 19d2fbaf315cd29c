"""Steady diffusion with first-order clearance in a semi-infinite layer: c(x) = c0 exp(-x / sqrt(D/k)).

A trace drug (10 uM in 150 mM NaCl, so no diffusion potential) diffuses from a thick,
well-mixed gel into a 4 mm clearing layer (k = 1e-3 1/s, D = 0.5 D_aq) with no current. After
20/k the profile has reached its long-time form. The gel (thickness L_g)
empties slowly, c0 ~ exp(-a t), which shortens the decay: c = c0(t) exp(-x / l) with
l = sqrt(D / (k - a)) and the gel balance a L_g = D / l (exact separable solution; a -> 0 recovers
sqrt(D/k)). The log-slope over the middle of the layer must give l to 0.5 %.
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.physics.clearance import vasoconstriction_factor
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario


def test_vasoconstriction_emax():
    assert vasoconstriction_factor(0.0, 0.8, 0.11, 1.0) == 1.0
    assert vasoconstriction_factor(0.11, 0.8, 0.11, 1.0) == pytest.approx(0.6)  # half effect at EC50
    assert vasoconstriction_factor(1e9, 0.8, 0.11, 1.0) == pytest.approx(0.2)


@pytest.mark.slow
def test_clearance_decay_length():
    layer = {
        "name": "dermis",
        "thickness": "4 mm",
        "pH": 7.4,
        "diffusivity_factor": 0.5,
        "clearance_rate": "1e-3 1/s",
        "cells": 160,
    }
    sc = membrane_scenario(
        layers=[layer],
        drug_mM=0.01,
        donor_mm=20.0,
        donor_mixing=1e3,
        protocol=[{"current": "0 mA", "duration": "20000 s"}],
        profile_times=["20000 s"],
        numerics={"dt_max": "200 s"},
    )
    rec = simulate(sc, MPI.COMM_SELF)
    prof = rec.profiles[-1]
    d = 0.5 * sc.species_objects()[0].diffusivity(sc.temperature)
    k, gel = 1e-3, 20e-3
    a = 0.0
    for _ in range(100):  # fixed point of a = sqrt(D (k - a)) / L_g
        a = math.sqrt(d * (k - a)) / gel
    length = math.sqrt(d / (k - a))
    assert length > 1.01 * math.sqrt(d / k)  # the correction matters at this tolerance
    x, c = prof.depth, prof.concentration["lidocaine"]
    window = (x > 0.3e-3) & (x < 1.5e-3)
    slope = np.polyfit(x[window], np.log(c[window]), 1)[0]
    assert -1.0 / slope == pytest.approx(length, rel=0.005)
