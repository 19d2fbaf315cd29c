"""The model is made of terms: a term written here alone is solved, reported and balanced, and a
term with scalar unknowns (a stirred receptor) conserves mass and meets Crank's permeation law."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.physics.constants import FARADAY
from iontosim.physics.term import LedgerEntry, Term
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

pytestmark = pytest.mark.slow

RATE = 2e-3  # 1/s, the toy metabolism's first-order rate in the dermis


class FirstOrderMetabolism(Term):
    """A toy term, defined in this file only: `species` is metabolized at `rate` in `layer`, its
    product leaves the model (an uncharged metabolite, so the term takes charge out too)."""

    name = "metabolism"

    def __init__(self, layer: str, species: str, rate: float):
        self.layer, self.species, self.rate = layer, species, rate

    def setup(self, model):
        self.i = model.index(self.species)
        self.k = model.cellwise([self.rate if r.name == self.layer else 0.0 for r in model.regions], "k_metabolism")

    def build(self, model):
        self.density = self.k * model.porosity * model.totals[self.i]  # mol/(m^3 s)
        self.form = model.per_species_form([self.density if j == self.i else None for j in range(model.ns)])

    def residual(self, model):
        return self.density * model.tests[self.i] * model.dx

    def ledger(self, model):
        charges = model.mean_charges()

        def current(ledger):
            return FARADAY * float((charges * ledger.rates_of("metabolized")).sum())

        return [LedgerEntry("metabolized", rates=lambda: model.per_region(self.form), current=current)]


def _membrane_and_dermis(extra_terms=()):
    layers = [
        {"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-2, "cells": 20},
        {"name": "dermis", "thickness": "300 um", "pH": 7.4, "cells": 20},
    ]
    sc = membrane_scenario(
        layers=layers, protocol=[{"current_density": "0.3 mA/cm^2", "duration": "10 min"}], numerics={"dt_max": "30 s"}
    )
    return simulate(sc, MPI.COMM_SELF, extra_terms=extra_terms)


@pytest.fixture(scope="module")
def with_metabolism():
    return _membrane_and_dermis([FirstOrderMetabolism("dermis", "lidocaine", RATE)])


def test_a_term_defined_in_a_test_is_solved_reported_and_balanced(with_metabolism):
    record = with_metabolism
    without = _membrane_and_dermis()
    metabolized = record.series["metabolized/lidocaine"]
    amount = record.series["layer_amount/dermis/lidocaine"]
    # reported: a series of its own, with the unit of a ledger amount
    assert record.units["metabolized/lidocaine"] == "mol/m^2" and metabolized[-1] > 0
    # solved: each step removes rate x (what the dermis holds at its end), backward Euler, exactly
    steps = np.diff(record.times)
    assert np.diff(metabolized) == pytest.approx(steps * RATE * amount[1:], rel=1e-10)
    # and the dermis holds less than without the term
    assert amount[-1] < without.series["layer_amount/dermis/lidocaine"][-1]
    # balanced: the mass and charge balances close with its ledger entry, summed by the loop
    assert max(record.series["mass_balance_error/lidocaine"]) < 1e-8
    assert max(record.series["charge_balance_error"]) < 1e-6


def test_the_toy_term_does_not_touch_the_other_species(with_metabolism):
    assert not np.any(with_metabolism.series["metabolized/Na+"])


# ---------------------------------------------------------------------------- a stirred receptor
L, FACTOR, C0 = 50e-6, 1e-2, 0.1  # membrane thickness [m], diffusivity factor, donor drug [mol/m^3]
DEPTH = 0.05  # receptor volume per membrane area [m]: 5 mL over 1 cm^2


@pytest.fixture(scope="module")
def franz_cell():
    from iontosim.physics.receptor import StirredReceptor

    layers = [{"name": "membrane", "thickness": f"{L * 1e6} um", "pH": 7.4, "diffusivity_factor": FACTOR, "cells": 40}]
    sc = membrane_scenario(
        layers=layers,
        drug_mM=C0,
        donor_mm=100.0,
        donor_mixing=1e3,
        protocol=[{"rest": "10 min"}],
        numerics={"dt_max": "1 s", "flux": "fitted"},
    )
    d = FACTOR * sc.species_objects()[0].diffusivity(sc.temperature)
    return simulate(sc, MPI.COMM_SELF, extra_terms=[StirredReceptor(DEPTH)]), d


def test_the_stirred_receptor_conserves_mass_exactly(franz_cell):
    """What the receptor holds is what left the membrane: its content (depth x concentration) is
    the ledger's cumulative `permeated` to round-off, and gel + membrane + receptor hold what they
    held at the start, every species, to 1e-12 of its total (Newton's tolerance shows there)."""
    record, _ = franz_cell
    s = record.series
    for name in record.species:
        c = s[f"receptor_concentration/{name}"]
        assert s[f"permeated/{name}"] == pytest.approx(DEPTH * (c - c[0]), rel=1e-10, abs=1e-18), name
        held = s[f"donor_amount/{name}"] + s[f"layer_amount/membrane/{name}"]
        whole = held + s[f"permeated/{name}"]
        assert np.max(np.abs(whole - whole[0])) <= 1e-12 * held[0], name
    assert s["permeated/lidocaine"][-1] > 1e-4 * s["donor_amount/lidocaine"][0]  # something permeated
    assert max(s["mass_balance_error/lidocaine"]) < 1e-8


def test_permeation_into_the_receptor_follows_crank(franz_cell):
    """Passive permeation of trace lidocaine through an uncharged membrane into a sink (Crank,
    The Mathematics of Diffusion, 2nd ed., eq. 4.24a): at late times the cumulative amount is
    Q = (D C0 / L) (t - L^2 / (6 D)). Tolerances set before the first run: steady flux 1 %,
    lag time 3 % (backward Euler at 1 s steps against a 60 s lag)."""
    record, d = franz_cell
    t, q = record.times, record.series["permeated/lidocaine"]
    late = t >= 0.6 * t[-1]
    slope, intercept = np.polyfit(t[late], q[late], 1)
    lag = -intercept / slope
    assert slope == pytest.approx(d * C0 / L, rel=0.01)
    assert lag == pytest.approx(L**2 / (6 * d), rel=0.03)
    assert math.isfinite(lag)
