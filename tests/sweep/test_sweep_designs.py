"""Designs: grid size and order, Latin hypercube strata, the Saltelli design's N(2D+2) cases, the
mapping onto each parameter's distribution, and reproducibility with the seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from iontosim.sweep.design import case_count, design_points, make_cases
from iontosim.sweep.spec import sweep_from_dict
from tests.sweep.conftest import tiny_scenario, without_levels


def _sweep(tmp_path, parameters, design):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_scenario()))
    return sweep_from_dict(
        {"base": "base.yaml", "parameters": parameters, "design": design, "outputs": ["drug_delivered_ug_per_cm2"]},
        tmp_path / "s.yaml",
    )


THREE = {
    "protocol[0].current_density": {"range": ["0.1 mA/cm^2", "0.5 mA/cm^2"], "levels": 3},
    "skin[membrane].thickness": {"values": ["10 um", "20 um", "30 um", "40 um"]},
    "donor.pH": {"values": [6, 7]},
}


def test_grid_is_the_product_of_the_levels_first_parameter_slowest(tmp_path):
    sweep = _sweep(tmp_path, THREE, {"kind": "grid"})
    points = design_points(sweep)
    assert case_count(sweep) == points.shape[0] == 3 * 4 * 2
    assert points.shape[1] == 3
    # SI inside: A/m^2 and m
    assert points[0].tolist() == pytest.approx([1.0, 10e-6, 6.0])
    assert points[1].tolist() == pytest.approx([1.0, 10e-6, 7.0])
    assert points[-1].tolist() == pytest.approx([5.0, 40e-6, 7.0])
    assert sorted(set(points[:, 0])) == pytest.approx([1.0, 3.0, 5.0])  # evenly spaced levels of the range
    assert len({tuple(p) for p in points}) == len(points)
    ids = [c.id for c in make_cases(sweep)]
    assert ids[:2] == ["0000", "0001"] and ids == sorted(ids)


def test_latin_hypercube_puts_one_case_in_each_stratum_of_every_parameter(tmp_path):
    n = 16
    parameters = {
        "protocol[0].current_density": {"range": ["0.1 mA/cm^2", "0.5 mA/cm^2"]},
        "skin[membrane].diffusivity_factor": {"range": [1e-4, 1e-2], "distribution": "loguniform"},
    }
    sweep = _sweep(tmp_path, parameters, {"kind": "latin_hypercube", "samples": n, "seed": 3})
    points = design_points(sweep)
    assert points.shape == (n, 2)
    strata = np.floor((points[:, 0] - 1.0) / (5.0 - 1.0) * n).astype(int)
    assert sorted(strata) == list(range(n))
    # a loguniform range is stratified in the logarithm
    log_strata = np.floor((np.log(points[:, 1]) - math.log(1e-4)) / (math.log(1e-2) - math.log(1e-4)) * n)
    assert sorted(log_strata.astype(int)) == list(range(n))
    assert np.array_equal(points, design_points(sweep))  # the seed decides the design
    other = _sweep(tmp_path, parameters, {"kind": "latin_hypercube", "samples": n, "seed": 4})
    assert not np.array_equal(points, design_points(other))


@pytest.mark.parametrize("second_order, per_sample", [(True, lambda d: 2 * d + 2), (False, lambda d: d + 2)])
def test_sobol_design_has_n_times_2d_plus_2_cases(tmp_path, second_order, per_sample):
    sweep = _sweep(
        tmp_path, without_levels(THREE), {"kind": "sobol", "samples": 8, "seed": 1, "second_order": second_order}
    )
    points = design_points(sweep)
    assert case_count(sweep) == points.shape[0] == 8 * per_sample(3)
    # each Saltelli block: A, then A with one column from B (D times), ..., then B
    block = points[: per_sample(3)]
    a, b = block[0], block[-1]
    for j in range(3):
        mixed = block[1 + j]
        assert mixed[j] == b[j] and all(mixed[k] == a[k] for k in range(3) if k != j)
    # a list of values is a discrete uniform choice; a range stays inside it
    assert set(points[:, 2]) <= {6.0, 7.0} and set(np.round(points[:, 1] * 1e6)) <= {10, 20, 30, 40}
    assert points[:, 0].min() >= 1.0 and points[:, 0].max() <= 5.0


def test_random_design_is_reproducible_and_uniform_over_values(tmp_path):
    sweep = _sweep(tmp_path, {"donor.pH": {"values": [6, 6.5, 7, 7.5]}}, {"kind": "random", "samples": 400, "seed": 9})
    points = design_points(sweep)[:, 0]
    assert np.array_equal(points, design_points(sweep)[:, 0])
    counts = [np.sum(points == v) for v in (6, 6.5, 7, 7.5)]
    assert sum(counts) == 400 and min(counts) > 70  # each about 100


def test_integer_values_reach_the_scenario_as_integers(tmp_path):
    sweep = _sweep(tmp_path, {"skin[membrane].cells": {"values": [8, 16]}}, {"kind": "grid"})
    data = sweep.case_mapping(make_cases(sweep)[1].values)
    assert data["skin"][0]["cells"] == 16 and isinstance(data["skin"][0]["cells"], int)
