"""A Franz diffusion cell as a set-up of its own (setup: franz_cell): the donor chamber (stirred,
or held at its composition), a membrane cut from the skin, a stirred receptor sampled with volume
replacement, and the figures permeation studies report (output/permeation.py)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.output.metrics import run_summary
from iontosim.output.permeation import permeation_summary
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import scenario_from_dict
from iontosim.scenario.membrane import membrane_layers
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

pytestmark = pytest.mark.slow

L, FACTOR, C0 = 50e-6, 1e-2, 0.1  # membrane thickness [m], diffusivity factor, donor drug [mol/m^3]
MEMBRANE = [{"name": "membrane", "thickness": f"{L * 1e6} um", "pH": 7.4, "diffusivity_factor": FACTOR, "cells": 40}]


def franz(donor_kind="fixed_reservoir", donor_mm=10.0, receptor="5 mL", protocol=None, sampling=None, **setup):
    data = membrane_scenario(
        layers=MEMBRANE,
        drug_mM=C0,
        donor_mm=donor_mm,
        protocol=protocol or [{"rest": "10 min"}],
        numerics={"dt_max": "1 s", "flux": "fitted"},
        as_dict=True,
    )
    data["donor"]["kind"] = donor_kind
    data["donor"].pop("diffusivity_factor")
    data["setup"] = {
        "kind": "franz_cell",
        "membrane": {"kind": "as_given"},
        "receptor": {"volume": receptor, **({"sampling": sampling} if sampling else {})},
        **setup,
    }
    return data


def diffusivity(scenario) -> float:
    return FACTOR * scenario.species_objects()[0].diffusivity(scenario.temperature)


def test_a_fixed_reservoir_permeates_as_crank_says():
    """Passive permeation from a donor held at C0 through an uncharged membrane into a sink
    (Crank, The Mathematics of Diffusion, 2nd ed., eq. 4.24a): Q = (D C0 / L) (t - L^2 / (6 D)) at
    late times, read off by the summary's lag-time fit. Tolerances set before the first run:
    steady flux 1 %, lag time 3 % (backward Euler at 1 s steps against a 60 s lag)."""
    sc = scenario_from_dict(franz())
    record = simulate(sc, MPI.COMM_SELF)
    figures = permeation_summary(record)
    d = diffusivity(sc)
    molar_mass = record.molar_mass["lidocaine"]
    flux = figures["steady_state_flux_ug_per_cm2_per_h"] / 1e9 * 1e4 / 3600 / molar_mass  # mol/m^2/s
    assert flux == pytest.approx(d * C0 / L, rel=0.01)
    assert figures["lag_time_h"] * 3600 == pytest.approx(L**2 / (6 * d), rel=0.03)
    # the reservoir kept its composition: what it lost was replenished
    donor = record.series["donor_amount/lidocaine"]
    assert np.ptp(donor) < 1e-3 * donor[0]
    # and what crossed the skin surface is what the membrane gained and the receptor took (1e-6)
    held = np.ptp(record.series["layer_amount/membrane/lidocaine"][[0, -1]])
    permeated = record.series["permeated/lidocaine"][-1]
    assert record.series["delivered/lidocaine"][-1] == pytest.approx(held + permeated, rel=1e-6)


def test_a_stirred_donor_empties_as_one_well_mixed_compartment():
    """A stirred donor 1 mm deep over a permeable membrane, a receptor 500x larger (a sink): the
    donor is one compartment losing P C per area, P = D / L, so C(t) = C0 exp(-P t / depth) once
    the membrane's profile is set (its lag, 10 s, is 0.3 % of the 2900 s decay time). The
    membrane holds about L / (2 depth) = 1 % of the donor: tolerance 3 %, set before the run."""
    layers = copy.deepcopy(MEMBRANE)
    layers[0]["thickness"] = "20 um"
    data = franz("stirred_solution", donor_mm=1.0, receptor="50 mL", protocol=[{"rest": "1 h"}])
    data["skin"] = layers
    data["outputs"]["profile_times"] = ["1 h"]
    data["numerics"]["dt_max"] = "10 s"
    sc = scenario_from_dict(data)
    record = simulate(sc, MPI.COMM_SELF)
    p = diffusivity(sc) / 20e-6
    left = record.series["donor_amount/lidocaine"]
    assert left[-1] / left[0] == pytest.approx(math.exp(-p * 3600 / 1e-3), rel=0.03)
    # stirred: one concentration over the whole chamber
    profile = record.profiles[-1]
    in_donor = profile.depth < 0
    c = profile.concentration["lidocaine"][in_donor]
    assert np.ptp(c) < 1e-2 * c.mean()


@pytest.fixture(scope="module")
def sampled():
    data = franz(receptor="2 mL", protocol=[{"rest": "20 min"}], sampling={"every": "5 min", "volume": "0.5 mL"})
    return simulate(scenario_from_dict(data), MPI.COMM_SELF)


def test_samples_take_their_share_and_permeation_counts_everything(sampled):
    """Every row: what crossed into the receptor (permeated) is what the receptor holds more than at
    the start plus what the samples took, net of the fresh fluid (to round-off); and each sample
    took a quarter of the receptor's excess over the fresh fluid."""
    s, depth = sampled.series, 2e-6 / 1e-4
    for name in sampled.species:
        c = s[f"receptor_concentration/{name}"]
        held = depth * (c - c[0]) + s[f"receptor_sampled/{name}"]
        assert s[f"permeated/{name}"] == pytest.approx(held, rel=1e-9, abs=1e-15), name
    t, c, taken = sampled.times, s["receptor_concentration/lidocaine"], s["receptor_sampled/lidocaine"]
    at = [int(np.argmin(np.abs(t - 300.0 * k))) for k in (1, 2, 3)]
    for k in at:
        # the row at a sampling time is the sample itself; the next row carries the taken quarter
        assert taken[k + 1] - taken[k] == pytest.approx(0.25 * depth * (c[k] - c[0]), rel=1e-9)


def test_sampling_with_replacement_leaves_permeation_alone_in_a_sink(sampled):
    """A receptor far from saturation is nearly a sink with or without samples: it reaches 0.8 % of
    the donor's concentration, which slows the flux by as much; samples lower it by a quarter at
    most, so the cumulative amounts permeated differ by less than 0.2 %."""
    data = franz(receptor="2 mL", protocol=[{"rest": "20 min"}])
    plain = simulate(scenario_from_dict(data), MPI.COMM_SELF)
    a, b = sampled.series["permeated/lidocaine"][-1], plain.series["permeated/lidocaine"][-1]
    assert a == pytest.approx(b, rel=2e-3)
    assert a > b  # the samples lower the back-diffusion


def test_a_passive_control_gives_the_goldman_enhancement():
    """A current through an uncharged membrane with a trace of lidocaine in saline, and the same
    cell without it: the steady fluxes' ratio is the constant-field (Goldman) enhancement of the
    ionized fraction f, Pe / (1 - exp(-Pe)) with Pe = f z dpsi, dpsi the potential drop across
    the membrane the run reports (skin resistance x current). Tolerance 1 %, set before the run
    (the fitted flux is exact for a constant field; the fit window starts five lags in)."""
    from iontosim.physics.constants import thermal_voltage
    from iontosim.physics.ionization import ionized_fraction

    data = franz(protocol=[{"current_density": "3 mA/cm^2", "duration": "10 min"}], passive_control=True)
    sc = scenario_from_dict(data)
    record = simulate(sc, MPI.COMM_SELF)
    assert record.passive_record is not None
    assert not np.any(record.passive_record.series["current_density"])
    summary = run_summary(record, sc.outputs, 0.0, 1)
    active, passive = summary["permeation"], summary["passive_control"]["permeation"]
    ratio = active["cumulative_permeated_ug_per_cm2"] / passive["cumulative_permeated_ug_per_cm2"]
    assert active["enhancement_ratio"] == pytest.approx(ratio, rel=1e-12)
    drop = record.series["skin_resistance"][-1] * 30.0 / thermal_voltage(sc.temperature)
    drug = sc.species_objects()[0]
    pe = ionized_fraction(7.4, drug.pKa, drug.acid_base) * drop
    assert active["flux_enhancement_ratio"] == pytest.approx(pe / (1.0 - math.exp(-pe)), rel=0.01)


# ---------------------------------------------------------------------------- the membrane cut from the skin
SKIN = [
    {"name": "stratum_corneum", "thickness": "20 um", "pH": 5.0},
    {"name": "viable_epidermis", "thickness": "80 um", "pH": 7.4},
    {"name": "papillary_dermis", "thickness": "200 um", "pH": 7.4, "clearance_rate": "1e-3 1/s"},
    {"name": "reticular_dermis", "thickness": "800 um", "pH": 7.4},
    {"name": "hypodermis", "thickness": "3 mm", "pH": 7.4},
]


@pytest.mark.parametrize(
    ("membrane", "layers", "bottom_um"),
    [
        ({"kind": "stratum_corneum"}, ["stratum_corneum"], 20),
        ({"kind": "heat_separated_epidermis"}, ["stratum_corneum", "viable_epidermis"], 100),
        (
            {"kind": "dermatomed", "thickness": "500 um"},
            ["stratum_corneum", "viable_epidermis", "papillary_dermis", "reticular_dermis"],
            500,
        ),
        (
            {"kind": "full_thickness"},
            ["stratum_corneum", "viable_epidermis", "papillary_dermis", "reticular_dermis"],
            1100,
        ),
        ({"kind": "as_given"}, [layer["name"] for layer in SKIN], 4100),
    ],
)
def test_membranes_cut_from_the_skin(membrane, layers, bottom_um):
    data = franz()
    data["skin"] = SKIN
    data["setup"]["membrane"] = membrane
    sc = scenario_from_dict(data)
    cut = membrane_layers(sc.skin, sc.setup.membrane)
    assert [layer.name for layer in cut] == layers
    assert sum(layer.thickness for layer in cut) == pytest.approx(bottom_um * 1e-6, rel=1e-12)


def test_a_franz_cell_has_no_blood_flow():
    from iontosim.scenario.membrane import modelled_scenario

    data = franz()
    data["skin"] = SKIN
    data["setup"]["membrane"] = {"kind": "full_thickness"}
    data["systemic"] = {"lidocaine": {"volume_of_distribution": "77 L", "elimination_half_life": "1.6 h"}}
    modelled, notes = modelled_scenario(scenario_from_dict(data))
    assert all(layer.clearance_rate == 0 for layer in modelled.skin)
    assert modelled.systemic == {}
    assert notes == [
        "a Franz cell has no blood flow: the clearance of papillary_dermis and systemic.lidocaine are not used"
    ]


def _refused(data, field, reason):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.field == field
    assert reason in err.value.reason


def test_a_franz_cell_without_a_receptor_volume():
    data = franz()
    data["setup"]["receptor"] = {"sampling": {"every": "1 h", "volume": "0.5 mL"}}
    _refused(data, "setup.receptor.volume", "required field is missing")


def test_a_membrane_thicker_than_its_skin():
    data = franz()
    data["skin"] = SKIN
    data["setup"]["membrane"] = {"kind": "dermatomed", "thickness": "5 mm"}
    _refused(data, "setup.membrane.thickness", "is thicker than the skin it is cut from (4100 um)")


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d["setup"].pop("receptor"), "setup.receptor", "a Franz cell needs its receptor"),
        (lambda d: d["setup"].pop("membrane"), "setup.membrane", "a Franz cell needs its membrane kind"),
        (
            lambda d: d["setup"]["receptor"].update(sampling={"every": "1 min", "volume": "6 mL"}),
            "setup.receptor.sampling.volume",
            "is not less than the receptor's 5 mL",
        ),
        (
            lambda d: d["setup"]["receptor"].update(sampling={"times": ["1 h"], "volume": "1 mL"}),
            "setup.receptor.sampling.times[0]",
            "is after the end of the protocol",
        ),
        (
            lambda d: d["setup"]["receptor"].update(sampling={"volume": "1 mL"}),
            "setup.receptor.sampling",
            "give the sampling 'times' or 'every'",
        ),
        (lambda d: d["setup"].update(kind="in_vivo_patch"), "setup.membrane", "only a franz_cell has a membrane"),
        (lambda d: d["setup"].update(passive_control=True), "setup.passive_control", "passes no current"),
        (
            lambda d: d["setup"].update(membrane={"kind": "dermatomed"}),
            "setup.membrane.thickness",
            "a dermatomed membrane needs its thickness",
        ),
        (
            lambda d: d["setup"].update(membrane={"kind": "heat_separated_epidermis"}),
            "setup.membrane.kind",
            "needs a layer whose name contains 'dermis'",
        ),
        (lambda d: d["donor"].update(volume="1 mL"), "donor.volume", "give the thickness or the volume, not both"),
    ],
)
def test_set_ups_that_cannot_be(change, field, reason):
    data = franz()
    change(data)
    _refused(data, field, reason)
