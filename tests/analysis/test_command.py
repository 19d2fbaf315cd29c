"""The sensitivity command: bad input is one line naming the field and the reason (exit 2, nothing
written); a finished analysis is a whole folder; a failed base run leaves nothing (exit 1).

The command is mounted on a Typer app of the test's own (cli.py registers it for users). Most tests
run the toy model in this process (the analysis is monkeypatched to use it); the end-to-end run
with the real solver on worker processes is marked slow.
"""

from __future__ import annotations

import csv
import json

import pytest
import typer
import yaml
from typer.testing import CliRunner

from iontosim.analysis import sensitivity as sensitivity_module
from iontosim.analysis.command import sensitivity
from tests.analysis.toy_model import toy_summary
from tests.conftest import CONFIGS

LIDOCAINE = CONFIGS / "lidocaine_epinephrine.yaml"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(sensitivity)

    @app.callback()
    def main() -> None:
        """A command group, so that the command is called by its name as under iontosim."""

    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["sensitivity", *map(str, args)])


@pytest.fixture
def toy(monkeypatch):
    """The analysis with the toy model, in this process."""
    real = sensitivity_module.analyse

    def analyse(data, parameters, step, workers, **kwargs):
        return real(data, parameters, step, 0, runner=toy_summary, **kwargs)

    monkeypatch.setattr(sensitivity_module, "analyse", analyse)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--parameter", "skin[epidermis].thickness"],
            "--parameter skin[epidermis].thickness: skin has no entry named 'epidermis'",
        ),
        (["--parameter", "donor.electrode"], "--parameter donor.electrode: is 'Ag/AgCl', not a number"),
        (["--parameter", "skin[0].fixed_charge"], "--parameter skin[stratum_corneum].fixed_charge: is a section"),
        (["--step", "0.7"], "--step: the relative step must lie between 0 and 0.5"),
        (["--step", "0"], "--step: the relative step must lie between 0 and 0.5"),
        (["--workers", "0"], "--workers: at least 1"),
        (["--only-given"], "--only-given: give the parameters with --parameter PATH"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(tmp_path, toy, args, message):
    out = tmp_path / "sens"
    result = _invoke(LIDOCAINE, "--out", out, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a staging folder


def test_under_mpirun_it_says_to_run_without(tmp_path, toy, monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")  # as MPICH's mpirun -n 2 sets it
    result = _invoke(LIDOCAINE, "--out", tmp_path / "sens")
    assert result.exit_code == 2 and "without mpirun" in result.stderr and not list(tmp_path.iterdir())


def test_a_bad_config_is_named_with_its_field(tmp_path, toy):
    data = yaml.safe_load(LIDOCAINE.read_text())
    data["donor"]["pH"] = 15
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(data))
    result = _invoke(config, "--out", tmp_path / "sens")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}: donor.pH:")
    assert not (tmp_path / "sens").exists()


def test_an_analysis_is_a_whole_folder_and_is_not_overwritten(tmp_path, toy):
    out = tmp_path / "sens"
    given = ["protocol[0].current", "skin[0].thickness", "temperature", "skin[0].fixed_charge.isoelectric_point"]
    result = _invoke(
        LIDOCAINE, "--out", out, "--only-given", *[a for p in given for a in ("--parameter", p)], "--no-progress"
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {
        "sensitivity.csv",
        "sensitivity.md",
        "runs.csv",
        "elasticity_dose.png",
        "elasticity_penetration_depth.png",
        "elasticity_plasma_peak.png",
        "elasticity_depth_90pct_dose.png",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["sens"]  # the staging folder was renamed into place
    with open(out / "sensitivity.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    first = rows[0]  # the toy's 90 % depth goes as (L / 18 um)^8: the SC thickness comes first
    assert first["parameter"] == "skin[stratum_corneum].thickness" and first["unit"] == "um"
    assert (
        float(first["dose_elasticity"]) == pytest.approx(-1.0, abs=1e-9) and first["depth_90pct_dose_nonlinear"] == "1"
    )
    current = next(r for r in rows if r["parameter"] == "protocol[0].current")
    assert float(current["dose_elasticity"]) == pytest.approx(1.0, abs=1e-9) and current["source"] == "LIDOSITE_LABEL"
    pi = next(r for r in rows if r["parameter"].endswith("isoelectric_point"))
    assert pi["scale"] == "pH" and float(pi["plasma_peak_per_pH_unit_relative"]) == pytest.approx(-0.7, abs=1e-9)
    temperature = next(r for r in rows if r["parameter"] == "temperature")
    assert temperature["status"].startswith("one-sided: high run failed")  # the toy gives up above 320 K
    with open(out / "runs.csv") as f:
        assert len(list(csv.DictReader(f))) == 1 + 2 * 4
    report = (out / "sensitivity.md").read_text()
    assert "| 1 | `skin[stratum_corneum].thickness` | 18 um | SANDBY2003 |" in report
    assert "iontosim sensitivity" in report and "--parameter 'protocol[0].current'" in report
    assert "--only-given" in report and "| 4 | `temperature` | 310.15 K | estimate |" in report
    again = _invoke(LIDOCAINE, "--out", out, "--no-progress")
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_a_failed_base_run_leaves_nothing(tmp_path, toy):
    data = yaml.safe_load(LIDOCAINE.read_text())
    data["temperature"] = {"value": "330 K", "estimate": "above what the toy solver takes"}
    config = tmp_path / "hot.yaml"
    config.write_text(yaml.safe_dump(data))
    result = _invoke(config, "--out", tmp_path / "sens", "--only-given", "--parameter", "donor.area", "--no-progress")
    assert result.exit_code == 1
    assert "the run at the scenario's own values failed: RuntimeError: toy solver" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hot.yaml"]


@pytest.mark.slow
def test_the_real_solver_on_worker_processes(tmp_path):
    """End to end: a short default scenario, the current and the SC isoelectric point, 2 workers."""
    data = yaml.safe_load(LIDOCAINE.read_text())
    data["protocol"] = [
        {"current": {"value": "1.77 mA", "source": "LIDOSITE_LABEL"}, "duration": "2 min"},
        {"rest": "3 min"},
    ]
    data["outputs"]["profile_times"] = ["2 min", "5 min"]
    data["numerics"] = {"refinement": 0.5}
    config = tmp_path / "short.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "sens"
    result = _invoke(
        config,
        "--out",
        out,
        "--only-given",
        "--parameter",
        "protocol[0].current",
        "--parameter",
        "skin[stratum_corneum].fixed_charge.isoelectric_point",
        "--workers",
        "2",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    with open(out / "sensitivity.csv") as f:
        rows = {r["parameter"]: r for r in csv.DictReader(f)}
    current = rows["protocol[0].current"]
    assert current["status"] == "ok"
    # most of the dose is carried by the current: close to proportional to it (Faraday), not exactly
    # (the transport number and the passive part change with it)
    assert 0.8 < float(current["dose_elasticity"]) < 1.1
    assert rows["skin[stratum_corneum].fixed_charge.isoelectric_point"]["status"] == "ok"
    with open(out / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 5 and not any(r["error"] for r in runs)
    assert json.dumps(result.output)  # printed the table
