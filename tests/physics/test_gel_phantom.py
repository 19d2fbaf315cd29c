"""A gel phantom (setup kind gel_phantom, scenario/membrane.py): one gel slab in place of the skin,
its diffusivity obstructed by the fibres as D (1 - alpha phi) / (1 - phi) (GELTHEORY)."""

from __future__ import annotations

import math

import pytest
from mpi4py import MPI
from scipy.special import erfcinv

from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.membrane import gel_diffusivity_factor, modelled_scenario
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

PHI, T_END, C0, FRACTION = 0.05, 600.0, 10.0, 0.1  # fibres, s, mM in the donor, threshold / C0
GEL = {"kind": "gel_phantom", "gel": {"fibre_fraction": PHI, "thickness": "5 mm", "cells": 250}}
SKIN = [{"name": "unused", "thickness": "20 um", "pH": 7.4}]


def test_the_obstruction_formula():
    assert gel_diffusivity_factor(0.0, 5 / 3) == 1.0
    assert gel_diffusivity_factor(0.02, 5 / 3) == pytest.approx((1 - 0.02 * 5 / 3) / 0.98, rel=1e-15)


def test_a_passive_front_moves_as_erfc_with_the_gel_diffusivity():
    """From a well-mixed donor held near C0, c(x, t) = C0 erfc(x / (2 sqrt(D_gel t))): the depth
    where c = 0.1 C0 is 2 erfcinv(0.1) sqrt(D_gel t) (2 %: the discretization, the donor's
    slight depletion)."""
    sc = membrane_scenario(
        drug_mM=C0,
        layers=SKIN,
        protocol=[{"rest": f"{T_END} s"}],
        profile_times=[f"{T_END} s"],
        donor_mm=50.0,
        donor_mixing=1e3,
        setup=GEL,
        numerics={"dt_max": "10 s"},
    )
    model_sc, notes = modelled_scenario(sc)
    assert [layer.name for layer in model_sc.skin] == ["gel_phantom"] and "not used" in notes[0]
    record = simulate(sc, MPI.COMM_SELF)
    prof = record.profiles[-1]
    from iontosim.output.metrics import penetration_depth

    drug = sc.species_objects()[0]
    d_gel = drug.diffusivity(sc.temperature) * gel_diffusivity_factor(PHI, 5 / 3)
    expected = 2.0 * erfcinv(FRACTION) * math.sqrt(d_gel * T_END)
    depth = penetration_depth(prof.depth, prof.concentration["lidocaine"], FRACTION * C0)
    assert depth == pytest.approx(expected, rel=0.02)


def test_a_gel_phantom_needs_its_gel():
    with pytest.raises(ScenarioError) as err:
        membrane_scenario(layers=SKIN, protocol=[{"rest": "1 min"}], setup={"kind": "gel_phantom"})
    assert err.value.field == "setup.gel"
