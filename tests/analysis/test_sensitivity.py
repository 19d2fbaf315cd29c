"""Local sensitivity: which parameters, elasticities of exactly known dependences, failures as rows.

The toy model (toy_model.py) has power-law and exponential outputs, whose central log differences
are exact at any step: the elasticities must come out to rounding (tolerance 1e-9). The real
model is checked against Faraday's law (t_d = z F J_d / i), which ties the
dose to the charge and the transport number at any current.
"""

from __future__ import annotations

import copy
import math

import pytest

from iontosim.analysis.sensitivity import (
    PH,
    RELATIVE,
    Output,
    analyse,
    default_parameters,
    perturb,
    ph_step,
    select_parameters,
)
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import read_scenario_file
from tests.analysis.toy_model import PLASMA_PER_PH, toy_summary
from tests.conftest import CONFIGS

EXACT = 1e-9  # central log differences of power laws and exponentials: exact but for rounding

SC = "skin[stratum_corneum]"


@pytest.fixture(scope="module")
def lidocaine():
    return read_scenario_file(CONFIGS / "lidocaine_epinephrine.yaml")


def test_default_parameters_are_the_values_written_with_provenance(lidocaine):
    chosen = {p.path: p for p in default_parameters(lidocaine)}
    # physical values with a source or an estimate, named by layer
    for path in (
        "temperature",
        "donor.area",
        "donor.contents.lidocaine.amount",
        "interstitial_fluid.Na+",
        f"{SC}.thickness",
        f"{SC}.fixed_charge.isoelectric_point",
        "skin[hypodermis].clearance_rate",
        "electroosmosis.volume_per_charge",
        "clearance.EC50",
        "systemic.lidocaine.elimination_half_life",
    ):
        assert path in chosen, path
    assert chosen[f"{SC}.thickness"].source == "SANDBY2003"
    assert chosen["donor.thickness"].source == "estimate" and chosen["donor.thickness"].unit == "mm"
    # not: what is done (protocol), how (numerics, cells), what is reported; nor plain values
    assert not any(p.startswith(("protocol", "outputs", "numerics")) for p in chosen)
    assert f"{SC}.cells" not in chosen and f"{SC}.fixed_charge.reference_pH" not in chosen
    assert len(chosen) == 41  # the gel's Na+ among them
    # logarithms already: stepped in pH units; a charge 'at reference pH' is a concentration
    assert chosen["donor.pH"].scale == PH and chosen[f"{SC}.fixed_charge.isoelectric_point"].scale == PH
    assert chosen[f"{SC}.fixed_charge.charge_at_reference_pH"].scale == RELATIVE
    assert not any(p.skip for p in chosen.values())


def test_given_paths_are_added_once_under_one_name(lidocaine):
    chosen = select_parameters(lidocaine, ["skin[0].thickness", "protocol[0].current", f"{SC}.cells"])
    paths = [p.path for p in chosen]
    assert paths.count(f"{SC}.thickness") == 1 and next(p for p in chosen if p.path == f"{SC}.thickness").explicit
    assert paths[-2:] == ["protocol[0].current", f"{SC}.cells"]
    assert "count" in chosen[-1].skip  # cells: a whole number without provenance, not perturbed
    only = select_parameters(lidocaine, ["protocol[0].duration"], only_given=True)
    assert [p.path for p in only] == ["protocol[0].duration"] and only[0].unit == "min"


@pytest.mark.parametrize(
    "path, reason",
    [
        ("skin[epidermis].thickness", "no entry named 'epidermis'"),
        ("donor.thicknes", "no field 'thicknes'"),
        ("donor.electrode", "is 'Ag/AgCl', not a number"),
        ("donor.contents", "is a section"),
        ("outputs.profile_times", "is a list"),
        ("skin[0].pH.value", "is a value, not a section"),
    ],
)
def test_a_path_that_names_no_number_is_refused_by_name(lidocaine, path, reason):
    with pytest.raises(ScenarioError, match=reason) as err:
        select_parameters(lidocaine, [path])
    assert err.value.field == path or err.value.field.startswith(path.split(".")[0])


def test_ph_like_values_step_in_ph_units_and_others_relatively(lidocaine):
    chosen = {p.path: p for p in default_parameters(lidocaine)}
    low, high = perturb(lidocaine, chosen[f"{SC}.fixed_charge.isoelectric_point"], 0.05)
    assert (low.written, high.written) == pytest.approx((4.8 - 0.05 / math.log(10), 4.8 + 0.05 / math.log(10)))
    assert ph_step(0.05) == pytest.approx(0.021715, abs=1e-6)
    low, high = perturb(lidocaine, chosen[f"{SC}.thickness"], 0.05)
    assert (low.written, high.written) == ("17.099999999999998 um", "18.900000000000002 um")
    assert low.offset == pytest.approx(math.log(0.95)) and high.offset == pytest.approx(math.log(1.05))
    # a fraction at its bound: the side beyond it is refused by the scenario's own check
    at_bound = copy.deepcopy(lidocaine)
    at_bound["clearance"]["max_effect"]["value"] = 1.0
    low, high = perturb(
        at_bound, next(p for p in default_parameters(at_bound) if p.path == "clearance.max_effect"), 0.05
    )
    assert low.data is not None and high.data is None and "clearance.max_effect" in high.refused


def test_elasticities_of_exactly_known_dependences(lidocaine):
    parameters = select_parameters(
        lidocaine,
        [
            "protocol[0].current",
            f"{SC}.thickness",
            f"{SC}.diffusivity_factor",
            "skin[papillary_dermis].clearance_rate",
            f"{SC}.fixed_charge.isoelectric_point",
            "donor.area",
        ],
        only_given=True,
    )
    result = analyse(lidocaine, parameters, step=0.05, workers=0, runner=toy_summary)
    e = {row.parameter.path: {k: est for k, est in row.estimates.items()} for row in result.rows}
    dose, depth, plasma, d90 = (out.key for out in result.outputs)
    assert e["protocol[0].current"][dose].elasticity == pytest.approx(1.0, abs=EXACT)  # Faraday-like: dose ~ I
    assert e[f"{SC}.diffusivity_factor"][dose].elasticity == pytest.approx(0.5, abs=EXACT)
    assert e[f"{SC}.diffusivity_factor"][depth].elasticity == pytest.approx(0.5, abs=EXACT)
    assert e["skin[papillary_dermis].clearance_rate"][depth].elasticity == pytest.approx(-0.5, abs=EXACT)
    assert e[f"{SC}.thickness"][dose].elasticity == pytest.approx(-1.0, abs=EXACT)
    assert e["donor.area"][dose].elasticity == pytest.approx(0.0, abs=EXACT)
    for row in e.values():
        for out in (dose, depth, plasma):
            assert not row[out].nonlinear and row[out].method == "central"
    # the isoelectric point: per pH unit exactly the toy's -0.7, per ln a_H+ that over -ln 10
    pi = e[f"{SC}.fixed_charge.isoelectric_point"][plasma]
    assert pi.per_pH == pytest.approx(PLASMA_PER_PH, abs=EXACT)
    assert pi.elasticity == pytest.approx(-PLASMA_PER_PH / math.log(10), abs=EXACT)
    delta = ph_step(0.05)  # central slope of 2 exp(-0.7 dpH) [ng/mL per pH unit]
    assert pi.slope_per_pH == pytest.approx(-2.0 * math.sinh(0.7 * delta) / delta, rel=EXACT)
    assert e["protocol[0].current"][dose].per_pH is None
    # 1 + (L/18)^8 curves over +-5 %: e = 4 at the base, the one-sided estimates on either side of it
    curved = e[f"{SC}.thickness"][d90]
    assert curved.nonlinear and curved.low_side < 4.0 < curved.high_side
    assert curved.elasticity == pytest.approx(4.0, rel=0.01)
    # the table's order: largest |elasticity| over the outputs first
    assert result.rows[0].parameter.path == f"{SC}.thickness"
    assert [r.ranking for r in result.rows] == sorted((r.ranking for r in result.rows), reverse=True)


def test_a_failing_run_is_a_row_of_the_table_not_the_end(lidocaine):
    """Above 320 K the toy solver gives up: the temperature's high side fails, the low side gives a
    one-sided estimate, every other row is whole; a process that dies takes only its own run."""
    parameters = select_parameters(
        lidocaine, ["temperature", "protocol[0].current", "donor.thickness"], only_given=True
    )
    result = analyse(lidocaine, parameters, step=0.05, workers=2, runner=toy_summary)
    rows = {row.parameter.path: row for row in result.rows}
    temperature = rows["temperature"]
    assert temperature.status.startswith("one-sided: high run failed (RuntimeError: toy solver")
    assert "time step fell below" in temperature.runs["high"].error
    assert all(est.method == "low side only" for est in temperature.estimates.values())
    gel = rows["donor.thickness"]  # its high side kills the worker process (os._exit)
    assert "worker process died" in gel.runs["high"].error and gel.status.startswith("one-sided")
    assert rows["protocol[0].current"].status == "ok"
    assert rows["protocol[0].current"].estimates["drug_delivered_ug"].elasticity == pytest.approx(1.0, abs=EXACT)
    assert len(result.failed_runs) == 2 and len(result.runs) == 7


def _faraday_data(current: str = "1.2 mA") -> dict:
    """Lidocaine (strong electrolyte: the cation alone) with NaCl in a gel over a 20 um membrane, one
    constant current step and no rest: dose = t_d Q M / (z F)."""
    return {
        "name": "faraday",
        "drug": "lidocaine",
        "species": ["lidocaine", "Na+", "Cl-"],
        "ionization": "strong_electrolyte",
        "donor": {
            "area": "1 cm^2",
            "thickness": "1 mm",
            "pH": 4.0,
            "contents": {"lidocaine": {"concentration": "20 mM"}, "Na+": {"concentration": "130 mM"}},
            "balance_with": "Cl-",
        },
        "interstitial_fluid": {"Na+": "150 mM", "balance_with": "Cl-"},
        "skin": [
            {"name": "membrane", "thickness": "20 um", "pH": 7.4, "diffusivity_factor": 1e-3, "cells": 16},
            {"name": "tissue", "thickness": "300 um", "pH": 7.4, "cells": 16},
        ],
        "clearance": {"counter_ion": "Cl-"},
        "protocol": [{"current": {"value": current, "estimate": "a test current"}, "duration": "2 min"}],
        "outputs": {"profile_times": ["2 min"], "penetration_threshold": "1 uM"},
    }


def test_the_dose_follows_faradays_law_in_the_real_model():
    """dose = t_d Q M / (z F) with Q = I t: d ln dose / d ln I = 1 + d ln t_d / d ln I, and 1 where
    the transport number is constant. The charge's elasticity is 1 exactly, and the dose's less the
    transport number's is 1: the record takes both from the same surface flux, so this holds to
    rounding (1e-6 allowed); what it checks is the whole chain through three real runs (path,
    perturbed file, validation, solve, summary, log differences), whatever t_d does with I."""
    data = _faraday_data()
    outputs = (
        Output("drug_delivered_ug", "dose", "delivered dose", "ug"),
        Output("mean_drug_transport_number", "transport_number", "drug transport number", "1"),
        Output("charge_mC_per_cm2", "charge", "charge", "mC/cm^2"),
    )
    parameters = select_parameters(data, ["protocol[0].current"], only_given=True)
    result = analyse(data, parameters, step=0.05, workers=0, outputs=outputs)
    e = {k: est.elasticity for k, est in result.rows[0].estimates.items()}
    assert e["charge_mC_per_cm2"] == pytest.approx(1.0, abs=EXACT)
    assert e["drug_delivered_ug"] - e["mean_drug_transport_number"] == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < result.base.summary["mean_drug_transport_number"] < 1.0
