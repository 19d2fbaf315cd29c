"""Convergence orders in space and time, against the exact constant-field (Goldman) flux.

Space: the steady Goldman problem of test_goldman.py with a large well-mixed gel (so that the
quasi-steady offset from its slow depletion is ~4e-4, the same at every resolution).
- fitted flux (Scharfetter-Gummel): exact at any cell Peclet number; the error may not change
  with resolution by more than 1e-5;
- lumped flux: first order in h at cell Peclet numbers of order one; observed orders from 10, 20,
  40, 80 cells (after removing the common offset, measured by the fitted flux) lie in [0.9, 1.2].
Time: backward Euler is first order: the amount delivered after 240 s with fixed steps of 8, 4,
2, 1 s gives an observed order in [0.9, 1.3] from the last three.
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.simulation import simulate
from tests.conftest import goldman_error, membrane_scenario


@pytest.mark.slow
def test_space_orders_against_goldman():
    cells = [10, 20, 40, 80]
    fitted = [goldman_error(n, "fitted")[0] for n in cells]
    assert max(fitted) - min(fitted) < 1e-5
    assert abs(fitted[-1]) < 1e-3
    offset = fitted[-1]
    lumped = np.array([goldman_error(n, "lumped")[0] for n in cells]) - offset
    orders = np.log2(lumped[:-1] / lumped[1:])
    assert np.all((orders > 0.9) & (orders < 1.2)), orders


@pytest.mark.slow
def test_time_order_backward_euler():
    delivered = []
    for dt in [8, 4, 2, 1]:
        layer = [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 20}]
        sc = membrane_scenario(
            layers=layer,
            protocol=[{"current_density": "1.2 mA/cm^2", "duration": "240 s"}],
            numerics={
                "dt_initial": f"{dt} s",
                "dt_max": f"{dt} s",
                "dt_growth": 1.0,
                "donor_cells": 20,
                "flux": "fitted",
            },
        )
        delivered.append(simulate(sc, MPI.COMM_SELF).series["delivered/lidocaine"][-1])
    differences = np.diff(delivered)
    order = math.log2(differences[-2] / differences[-1])
    assert 0.9 < order < 1.3, order
