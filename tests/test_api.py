"""The Python API: iontosim.scenarios, load, run and the Result, as a notebook uses them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import iontosim
from iontosim.scenario.errors import ScenarioError

SHORT = {
    "protocol": [{"current": "1.77 mA", "duration": "2 min"}, {"rest": "1 min"}],
    "outputs.profile_times": ["2 min", "3 min"],
    "numerics.refinement": 0.5,
}


@pytest.fixture(scope="module")
def result():
    return iontosim.run(iontosim.load("lidocaine_epinephrine", **SHORT))


def test_the_shipped_scenarios_are_found_by_name():
    names = iontosim.scenarios()
    assert {"lidocaine_epinephrine", "fentanyl_ionsys", "tap_water_hyperhidrosis"} <= set(names)
    assert iontosim.load("fentanyl_ionsys").drug == "fentanyl"
    with pytest.raises(ScenarioError, match="did you mean fentanyl_ionsys"):
        iontosim.load("fentanyl_ionsy")


def test_load_takes_a_path_and_overrides_by_parameter_path(tmp_path):
    from iontosim.scenario.catalogue import SCENARIOS_DIR

    scenario = iontosim.load(SCENARIOS_DIR / "fentanyl_ionsys.yaml", **{"protocol[0].steps[0].current": "150 uA"})
    assert scenario.protocol[0].current == pytest.approx(150e-6)  # the first of the repeated doses
    assert "set by iontosim.load" in scenario.provenance["protocol[0].current"]
    with pytest.raises(ScenarioError, match="skin"):
        iontosim.load("fentanyl_ionsys", **{"skin[no_such_layer].thickness": "1 um"})


def test_a_run_has_the_summary_of_the_command_line(result):
    s = result.summary
    assert s["drug_delivered_ug_per_cm2"] > 0 and "safety" in s and "warnings" in s and "solver" in s
    assert s["mpi_ranks"] == 1 and result.directory is None
    assert "lidocaine" in repr(result)


def test_series_come_with_units_and_convert_through_the_molar_mass(result):
    delivered = result.series("delivered/lidocaine")
    assert str(delivered.units) == "mole / meter ** 2"
    ug = result.series("delivered/lidocaine", "ug/cm^2")
    assert ug.magnitude[-1] == pytest.approx(result.summary["drug_delivered_ug_per_cm2"], rel=1e-12)
    assert result.times("min").magnitude[-1] == pytest.approx(3.0)
    assert result.series("voltage", "mV").magnitude[-1] == pytest.approx(1e3 * result.record.series["voltage"][-1])
    with pytest.raises(KeyError, match="did you mean"):
        result.series("delivered/lidocain")
    with pytest.raises(ValueError, match="does not convert"):
        result.series("voltage", "ug/cm^2")


def test_profiles_table_and_csv(result, tmp_path):
    profiles = result.profiles
    assert [p.time.to("min").magnitude for p in profiles] == pytest.approx([2.0, 3.0])
    assert str(profiles[0].depth.units) == "meter"
    frame = result.to_dataframe()
    assert "delivered/lidocaine [mol/m^2]" in frame.columns and frame.index.name == "time [s]"
    assert len(frame) == len(result.record.times)
    path = result.to_csv(tmp_path / "series.csv")
    assert path.read_text().splitlines()[0].startswith("time [s],")


def test_pictures_draw_on_given_axes(result):
    from iontosim.output.figures import new_figure

    for draw, count in ((result.plot_profiles, 2), (result.plot_delivery, 2), (result.plot_voltage, 4)):
        assert draw().axes
        fig, grid = new_figure(1, count, (8, 3))
        assert draw(ax=list(grid[0])) is fig
    with pytest.raises(ValueError, match="no field pictures"):
        result.plot_fields()


def test_save_writes_the_run_directory_of_the_command_line(result, tmp_path):
    out = result.save(tmp_path / "lido")
    names = {p.name for p in out.iterdir()}
    assert {"config.resolved.yaml", "versions.json", "results.h5", "summary.json", "profiles.png"} <= names
    assert {"timeseries.csv", "profiles.csv"} <= names  # the tables beside results.h5
    assert json.loads((out / "summary.json").read_text())["drug_delivered_ug_per_cm2"] == pytest.approx(
        result.summary["drug_delivered_ug_per_cm2"], rel=1e-15
    )
    from iontosim.rundir import OutputExists

    with pytest.raises(OutputExists):
        result.save(out)
    assert result.save(out, overwrite=True) == out


@pytest.mark.slow
def test_run_honours_the_geometry():
    """A 2D scenario is solved on its mesh (never as a 1D column in its place), with its pictures."""
    scenario = iontosim.load(
        "tap_water_hyperhidrosis",
        **{"protocol": [{"current": "15 mA", "duration": "2 s"}], "outputs.profile_times": ["2 s"]},
    )
    result = iontosim.run(scenario)
    assert result.record.patch is not None and result.summary["patch"]["kind"] == "axisymmetric"
    assert result.plot_fields().axes and result.plot_surface_current().axes


def test_python_m_iontosim_and_version():
    proc = subprocess.run([sys.executable, "-m", "iontosim", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"iontosim {iontosim.__version__}"


def test_the_api_is_the_same_run_as_the_command_line(result, tmp_path):
    """The command line runs through iontosim.run: the same scenario gives the same numbers."""
    scenario = iontosim.load("lidocaine_epinephrine", **SHORT)
    path = tmp_path / "short.yaml"
    import yaml

    path.write_text(yaml.safe_dump(scenario.resolved_dict()))
    proc = subprocess.run(
        [sys.executable, "-m", "iontosim", "run", str(path), "--out", str(tmp_path / "cli"), "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for key in ("drug_delivered_ug_per_cm2", "peak_voltage_V", "penetration_depth_um"):
        assert cli[key] == pytest.approx(result.summary[key], rel=1e-12), key
    assert np.isfinite(cli["mass_balance_relative_error"])


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("lidocaine_epinephrine_2d", {}, (600.0, True)),  # the end of the 10 min of current
        ("tap_water_hyperhidrosis", {}, (1200.0, True)),  # current on to the end
        ("lidocaine_epinephrine_2d", {"outputs.profile_times": ["20 min", "60 min"]}, (3600.0, False)),
    ],
)
def test_field_pictures_are_taken_while_the_current_is_on(name, changes, expected):
    from iontosim.api import _picture_time

    assert _picture_time(iontosim.load(name, **changes)) == expected
