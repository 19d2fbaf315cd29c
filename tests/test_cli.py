"""End to end: the command line on the default scenario, bad configs, and 1 versus 2 MPI ranks."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import CONFIGS

BIN = Path(sys.executable).parent
CLI = [str(BIN / "iontosim")]


def _run(args, cwd, ranks=1):
    cmd = CLI + args
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-n", str(ranks)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


def _coarse_default(tmp_path) -> Path:
    """The default scenario at half resolution and a 20 min protocol: same physics, faster."""
    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data["protocol"][1] = {"rest": "10 min"}
    data["outputs"]["profile_times"] = ["5 min", "10 min", "20 min"]
    data["numerics"] = {"refinement": 0.5}
    path = tmp_path / "coarse.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    proc = _run(["run", str(_coarse_default(tmp)), "--out", "run1", "--no-progress"], tmp)
    assert proc.returncode == 0, proc.stderr
    return tmp / "run1"


def test_run_directory_is_complete(serial_run):
    names = {p.name for p in serial_run.iterdir()}
    assert {
        "config.resolved.yaml",
        "versions.json",
        "results.h5",
        "summary.json",
        "profiles.png",
        "delivery.png",
        "voltage.png",
    } <= names
    summary = json.loads((serial_run / "summary.json").read_text())
    assert summary["drug_delivered_ug_per_cm2"] > 0
    # conservation (delivered = in tissue + cleared; current in = out): to solver tolerance
    assert summary["mass_balance_relative_error"] < 1e-5
    assert summary["charge_balance_relative_error"] < 1e-4
    assert 0 < summary["mean_drug_transport_number"] < 1


@pytest.mark.mpi
@pytest.mark.slow
def test_two_ranks_give_the_same_answer(serial_run, tmp_path):
    if shutil.which("mpirun", path=str(BIN)) is None:
        pytest.skip("no mpirun beside this Python")
    proc = _run(["run", str(serial_run / "config.resolved.yaml"), "--out", "run2", "--no-progress"], tmp_path, ranks=2)
    assert proc.returncode == 0, proc.stderr
    one = json.loads((serial_run / "summary.json").read_text())
    two = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert two["mpi_ranks"] == 2
    for key in [
        "drug_delivered_ug_per_cm2",
        "drug_cleared_ug_per_cm2",
        "mean_drug_transport_number",
        "peak_voltage_V",
        "penetration_depth_um",
        "depth_90pct_tissue_dose_um",
    ]:
        assert two[key] == pytest.approx(one[key], rel=1e-6), key


BROKEN = {
    "unknown species": (lambda d: d["species"].append("lidocane"), "species"),
    "negative thickness": (lambda d: d["skin"][2].update(thickness="-57 um"), "skin[2].thickness"),
    "pH outside 0-14": (lambda d: d["donor"].update(pH=15), "donor.pH"),
    "no units": (lambda d: d["skin"][2].update(thickness=57), "skin[2].thickness"),
    "wrong dimension": (lambda d: d["skin"][2].update(thickness="57 mA"), "skin[2].thickness"),
    "missing field": (lambda d: d.pop("donor"), "donor"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_one_message_exit_2_no_output(case, tmp_path):
    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    mutate, field = BROKEN[case]
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = _run(["run", str(path), "--out", "out"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and field in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_existing_output_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    proc = _run(["run", "--out", str(mine), "--overwrite"], tmp_path)
    assert proc.returncode == 2
    assert (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.mpi
@pytest.mark.slow
def test_a_refused_out_stops_every_rank(tmp_path):
    """Rank 0 refuses the --out; every rank must hear it and stop (no rank left in a collective)."""
    if shutil.which("mpirun", path=str(BIN)) is None:
        pytest.skip("no mpirun beside this Python")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    proc = _run(["run", "--out", str(mine), "--no-progress"], tmp_path, ranks=2)  # timeout: 900 s
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert (mine / "notes.txt").read_text() == "keep me"


def _with_geometry(tmp_path, data: dict | None = None) -> Path:
    from tests.conftest import with_return_electrode

    data = data or yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data = with_return_electrode(data, anode_width="4 mm")
    path = tmp_path / "patch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_mesh_command_writes_the_mesh_and_its_picture(tmp_path):
    proc = _run(["mesh", str(_with_geometry(tmp_path)), "--out", "m"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {"mesh.xdmf", "mesh.h5", "mesh.png"} <= {p.name for p in (tmp_path / "m").iterdir()}
    assert "stratum_corneum" in proc.stdout and "return" in proc.stdout


def test_mesh_command_needs_a_geometry(tmp_path):
    proc = _run(["mesh", str(CONFIGS / "lidocaine_epinephrine.yaml"), "--out", "m"], tmp_path)
    assert proc.returncode == 2 and "geometry" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_answer(tmp_path):
    """Kill a run (SIGKILL, as a batch system's time limit would) once it has checkpointed, then
    `--resume`: the summary equals an uninterrupted run's (1e-9), and nothing is left behind."""
    import signal
    import time

    config = str(CONFIGS / "wearable_patch.yaml")
    whole = _run(["run", config, "--out", "whole", "--no-progress"], tmp_path)
    assert whole.returncode == 0, whole.stderr
    proc = subprocess.Popen(
        CLI + ["run", config, "--out", "cut", "--no-progress", "--checkpoint-every", "0"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".cut.partial-*/checkpoint.pkl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut").exists() and list(tmp_path.glob(".cut.partial-*/checkpoint.pkl"))
    resumed = _run(["run", config, "--out", "cut", "--no-progress", "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "whole" / "summary.json").read_text())
    b = json.loads((tmp_path / "cut" / "summary.json").read_text())
    for key in (
        "drug_delivered_ug_per_cm2",
        "peak_plasma_concentration_ng_per_mL",
        "penetration_depth_um",
        "mean_drug_transport_number",
    ):
        assert b[key] == pytest.approx(a[key], rel=1e-9), key
    assert not list(tmp_path.glob(".cut.partial-*")) and not (tmp_path / "cut" / "checkpoint.pkl").exists()
    # nothing to resume now: one clear line, exit 2
    again = _run(["run", config, "--out", "other", "--resume"], tmp_path)
    assert again.returncode == 2 and "no interrupted run" in again.stderr


def test_an_out_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = _run(["mesh", str(_with_geometry(tmp_path)), "--out", "afile/m"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --out:") and "Traceback" not in proc.stderr


def test_a_mesh_too_large_is_refused_before_meshing(tmp_path):
    proc = _run(["mesh", str(_with_geometry(tmp_path)), "--out", "m", "--max-cells", "100"], tmp_path)
    assert proc.returncode == 2 and "--max-cells" in proc.stderr and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_a_patch_run_writes_its_fields_and_patch_summary(tmp_path):
    """`iontosim run` on a 2D scenario (the tap-water unit cell around one sweat duct): the run
    directory holds the fields for ParaView and their pictures, and summary.json the patch facts;
    one cell's current density in the duct is far above the limit, but its mean over the stated
    1 mm (the whole 0.25 mm unit cell, cut at its mirror planes) is the applied density: no warning."""
    proc = _run(["run", str(CONFIGS / "tap_water_hyperhidrosis.yaml"), "--out", "twi", "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "twi"
    assert {"fields.bp", "fields.xdmf", "fields.h5", "fields.png", "surface_current.png", "summary.json"} <= {
        p.name for p in out.iterdir()
    }
    summary = json.loads((out / "summary.json").read_text())
    patch = summary["patch"]
    assert patch["kind"] == "axisymmetric"
    assert 0.5 < patch["appendage_current_fraction"] <= 1.0 and 0.5 < patch["appendage_drug_fraction"] <= 1.0
    limit = summary["safety"]["current_density_limit_mA_per_cm2"]
    assert patch["peak_local_current_density_mA_per_cm2"] > 10 * limit
    assert patch["local_current_density_mA_per_cm2"] == pytest.approx(
        summary["peak_current_density_mA_per_cm2"], rel=0.05
    )
    assert summary["safety"]["local_current_density_ok"]
    assert not any("local current density" in w for w in summary["warnings"])


def test_unwritable_jit_cache_is_one_line(tmp_path):
    """A cache folder that cannot be made (here: under a file) stops the run before any form is
    compiled, with the cause and the fix in one line (it was a 230-line traceback)."""
    (tmp_path / "a_file").write_text("")
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CACHE_HOME=str(tmp_path / "a_file" / "cache"))
    proc = subprocess.run(
        CLI + ["run", "passive_lidocaine", "--out", "r", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "set XDG_CACHE_HOME to a writable folder" in lines[0], proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_full_disk_is_one_line(capsys, code):
    import typer

    from iontosim._fenics import MPI
    from iontosim.cli import exit_codes

    with pytest.raises(typer.Exit) as stop, exit_codes(MPI.COMM_SELF, "x"):
        raise OSError(code, os.strerror(code), "/full/results.h5")
    assert stop.value.exit_code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: cannot write /full/results.h5: {os.strerror(code)}; free space or write --out "
        "(and XDG_CACHE_HOME) to another disk"
    ]
