"""Sobol indices from a gathered Saltelli design, on exactly known outputs: the cases' summary.json
files are written from a formula (no solver), so the indices are known in closed form."""

from __future__ import annotations

import csv
import json

import h5py
import pytest

from iontosim.sweep.directory import SweepDirectory
from iontosim.sweep.spec import read_sweep
from tests.sweep.conftest import invoke, write_sweep

PARAMETERS = {
    "donor.pH": {"range": [6, 8]},
    "skin[membrane].thickness": {"range": ["10 um", "30 um"]},
    "skin[membrane].diffusivity_factor": {"range": [1e-4, 1e-2], "distribution": "loguniform"},
}


def _known_output(values: dict) -> float:
    """(pH - 7) + 0.05 (thickness in um - 20): variances 1/3 and 1/12, so S1 = ST = 0.8, 0.2, 0."""
    return (values["donor.pH"] - 7.0) + 0.05 * (values["skin[membrane].thickness"] * 1e6 - 20.0)


def _fake_cases(tmp_path, failed: tuple[str, ...] = ()):
    path = write_sweep(
        tmp_path, PARAMETERS, {"kind": "sobol", "samples": 128, "seed": 7}, outputs=["drug_delivered_ug_per_cm2"]
    )
    directory = SweepDirectory(tmp_path / "out")
    cases = directory.open(read_sweep(path))
    for case in cases:
        folder = directory.case_dir(case.id)
        folder.mkdir()
        if case.id in failed:
            (folder / "error.json").write_text(json.dumps({"error": "SimulationError: no convergence"}))
        else:
            (folder / "summary.json").write_text(
                json.dumps({"drug_delivered_ug_per_cm2": _known_output(case.values), "wall_time_s": 1.0})
            )
    return path, cases


def test_sobol_indices_of_a_known_function_with_confidence_intervals(app, tmp_path):
    path, cases = _fake_cases(tmp_path)
    assert len(cases) == 128 * (2 * 3 + 2)
    result = invoke(app, path, "--out", tmp_path / "out", "--report")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    with h5py.File(out / "summaries.h5") as f:
        g = f["sobol/drug_delivered_ug_per_cm2"]
        assert list(g.attrs["parameters"]) == list(PARAMETERS)
        s1, st, st_conf = g["S1"][()], g["ST"][()], g["ST_conf"][()]
        assert g["S2"].shape == (3, 3) and g.attrs["base_samples_used"] == 128
    assert s1 == pytest.approx([0.8, 0.2, 0.0], abs=0.08)
    assert st == pytest.approx([0.8, 0.2, 0.0], abs=0.08)
    assert all(c > 0 for c in st_conf[:2])
    rows = list(csv.DictReader((out / "sobol_indices.csv").open()))
    assert [r["parameter"] for r in rows] == list(PARAMETERS)
    assert "S1 95% half-width [1]" in rows[0]
    assert (out / "report" / "sobol_indices.png").stat().st_size > 10_000
    assert "ST" in result.output and "donor.pH" in result.output


def test_saltelli_blocks_with_a_failed_case_are_left_out(app, tmp_path):
    path, cases = _fake_cases(tmp_path, failed=("0003", "0100"))  # in blocks 0 and 12 (8 cases a block)
    result = invoke(app, path, "--out", tmp_path / "out", "--report")
    assert result.exit_code == 0, result.output
    assert "126 of 128 base samples" in result.output
    with h5py.File(tmp_path / "out" / "summaries.h5") as f:
        assert f["sobol/drug_delivered_ug_per_cm2"].attrs["base_samples_used"] == 126
        assert f["sobol/drug_delivered_ug_per_cm2/S1"][()] == pytest.approx([0.8, 0.2, 0.0], abs=0.08)
        assert list(f["status"].asstr()[()]).count("failed") == 2
