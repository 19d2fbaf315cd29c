"""Running a sweep: every case a run directory, the gathered table with its units, resuming
(finished cases kept, a killed case redone), failed cases recorded while the sweep goes on, a
changed sweep refused, and the process pool."""

from __future__ import annotations

import csv
import json

import h5py
import pytest
import yaml

from tests.sweep.conftest import GRID, TINY_OUTPUTS, invoke, summary, without_levels, write_sweep


@pytest.fixture
def grid_sweep(tmp_path):
    return write_sweep(tmp_path, GRID, {"kind": "grid"}), tmp_path / "out"


def test_every_case_is_a_run_directory_and_the_table_has_units(app, grid_sweep):
    path, out = grid_sweep
    result = invoke(app, path, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "4 cases: 4 done, 0 failed" in result.output
    cases = sorted(p.name for p in (out / "cases").iterdir())
    assert cases == ["0000", "0001", "0002", "0003"]  # no staging folder left either
    for case in cases:
        names = {p.name for p in (out / "cases" / case).iterdir()}
        assert {"config.resolved.yaml", "versions.json", "results.h5", "summary.json", "case.json"} <= names
    # the varied value reaches the scenario with honest provenance
    resolved = yaml.safe_load((out / "cases" / "0003" / "config.resolved.yaml").read_text())
    assert resolved["skin"][0]["thickness"]["value"] == "2.5e-05 m"
    assert resolved["skin"][0]["thickness"]["estimate"] == (
        "varied by sweep sweep from '20 um' (estimate: a test membrane)"
    )

    rows = list(csv.DictReader((out / "summaries.csv").open()))
    assert list(rows[0]) == [
        "case",
        "status",
        "protocol[0].current_density [mA/cm^2]",
        "skin[membrane].thickness [um]",
        "drug_delivered_ug_per_cm2 [ug/cm^2]",
        "penetration_depth_um [um]",
        "peak_voltage_V [V]",
        "wall_time [s]",
        "error",
    ]
    assert [(r["protocol[0].current_density [mA/cm^2]"], r["skin[membrane].thickness [um]"]) for r in rows] == [
        ("0.2", "15.0"),
        ("0.2", "25.0"),
        ("0.5", "15.0"),
        ("0.5", "25.0"),
    ]
    assert float(rows[2]["drug_delivered_ug_per_cm2 [ug/cm^2]"]) == pytest.approx(
        summary(out / "cases" / "0002")["drug_delivered_ug_per_cm2"]
    )
    with h5py.File(out / "summaries.h5") as f:
        assert f["parameters/protocol[0].current_density"].attrs["units"] == "mA/cm^2"
        assert f["parameters/skin[membrane].thickness"].attrs["units"] == "um"
        assert f["parameters/skin[membrane].thickness"][()].tolist() == pytest.approx([15, 25, 15, 25])
        assert f["outputs/drug_delivered_ug_per_cm2"].attrs["units"] == "ug/cm^2"
        assert f["outputs/peak_voltage_V"].attrs["units"] == "V"
        assert list(f.attrs["outputs"]) == TINY_OUTPUTS
        assert list(f["status"].asstr()[()]) == ["done"] * 4

    result = invoke(app, path, "--out", out, "--report")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (out / "report").iterdir()} == {f"{k}.png" for k in TINY_OUTPUTS}


def test_rerun_skips_finished_cases_and_redoes_a_killed_one(app, grid_sweep, monkeypatch):
    path, out = grid_sweep
    assert invoke(app, path, "--out", out, "--workers", 1).exit_code == 0
    kept = {c: (out / "cases" / c / "summary.json").stat().st_mtime_ns for c in ("0000", "0001", "0003")}
    before = summary(out / "cases" / "0002")
    # case 0002 killed mid-run: its run directory never appeared, its staging folder is left over
    (out / "cases" / "0002").rename(out / "cases" / ".0002.partial-killed")
    (out / "cases" / ".0002.partial-killed" / "summary.json").unlink()

    import iontosim.simulation

    ran = []
    solve = iontosim.simulation.simulate
    monkeypatch.setattr(iontosim.simulation, "simulate", lambda sc, *a, **k: ran.append(sc.name) or solve(sc, *a, **k))
    result = invoke(app, path, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "3 done, 0 failed, 1 to run" in result.output
    assert len(ran) == 1  # only the killed case ran again
    assert {c: (out / "cases" / c / "summary.json").stat().st_mtime_ns for c in kept} == kept
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["0000", "0001", "0002", "0003"]
    again = summary(out / "cases" / "0002")
    assert again["drug_delivered_ug_per_cm2"] == pytest.approx(before["drug_delivered_ug_per_cm2"], rel=1e-10)

    ran.clear()
    result = invoke(app, path, "--out", out, "--workers", 1)
    assert result.exit_code == 0 and not ran and "4 done, 0 failed, 0 to run" in result.output


def test_a_failing_case_is_recorded_and_the_sweep_goes_on(app, grid_sweep, monkeypatch):
    import iontosim.simulation
    from iontosim.simulation import SimulationError

    path, out = grid_sweep
    solve = iontosim.simulation.simulate

    def failing_at_thick_high_current(scenario, *args, **kwargs):
        if scenario.protocol[0].current_density > 4.0 and scenario.skin[0].thickness > 20e-6:
            raise SimulationError("time step below its minimum at t = 12 s")
        return solve(scenario, *args, **kwargs)

    monkeypatch.setattr(iontosim.simulation, "simulate", failing_at_thick_high_current)
    result = invoke(app, path, "--out", out, "--workers", 1)
    assert result.exit_code == 1, result.output
    assert "3 done, 1 failed" in result.output and "failed 0003" in result.output
    error = json.loads((out / "cases" / "0003" / "error.json").read_text())
    assert "time step below its minimum" in error["error"]
    assert error["parameters"] == {"protocol[0].current_density [mA/cm^2]": 0.5, "skin[membrane].thickness [um]": 25.0}
    assert not (out / "cases" / "0003" / "summary.json").exists()
    rows = list(csv.DictReader((out / "summaries.csv").open()))
    assert [r["status"] for r in rows] == ["done", "done", "done", "failed"]
    assert rows[3]["drug_delivered_ug_per_cm2 [ug/cm^2]"] == "" and "time step" in rows[3]["error"]

    # a failed case keeps its record on a rerun, and runs again when asked to
    result = invoke(app, path, "--out", out, "--workers", 1)
    assert result.exit_code == 1 and "3 done, 1 failed, 0 to run" in result.output
    monkeypatch.setattr(iontosim.simulation, "simulate", solve)
    result = invoke(app, path, "--out", out, "--workers", 1, "--retry-failed")
    assert result.exit_code == 0, result.output
    assert (out / "cases" / "0003" / "summary.json").exists() and not (out / "cases" / "0003" / "error.json").exists()


def test_a_changed_sweep_file_is_refused_against_an_existing_directory(app, tmp_path):
    path = write_sweep(tmp_path, without_levels(GRID), {"kind": "random", "samples": 2, "seed": 1})
    out = tmp_path / "out"
    assert invoke(app, path, "--out", out, "--workers", 1).exit_code == 0
    write_sweep(tmp_path, without_levels(GRID), {"kind": "random", "samples": 2, "seed": 2})
    result = invoke(app, path, "--out", out)
    assert result.exit_code == 2
    assert result.output.startswith("error: --out:") and "design.seed: 1 there, 2 in sweep.yaml" in result.output
    # another output only changes what is gathered: allowed, nothing recomputed
    write_sweep(
        tmp_path,
        without_levels(GRID),
        {"kind": "random", "samples": 2, "seed": 1},
        outputs=["mean_drug_transport_number"],
    )
    result = invoke(app, path, "--out", out, "--report")
    assert result.exit_code == 0, result.output
    assert (out / "report" / "mean_drug_transport_number.png").exists()


def test_the_process_pool_runs_cases_in_worker_processes(app, tmp_path):
    path = write_sweep(tmp_path, {"donor.pH": {"values": [6.5, 7.4]}}, {"kind": "grid"})
    out = tmp_path / "out"
    result = invoke(app, path, "--out", out, "--workers", 2)
    assert result.exit_code == 0, result.output
    processes = {json.loads((out / "cases" / c / "case.json").read_text())["process"] for c in ("0000", "0001")}
    import os

    assert os.getpid() not in processes and len(processes) == 2
