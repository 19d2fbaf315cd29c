"""Run directories never lose anything: a run removes only what it made, keeps its results when
something appeared at --out, locks its directory, follows the umask, and stops on Ctrl-C or
SIGTERM with one line and a checkpoint to resume from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import iontosim
from iontosim.rundir import OutputExists, OutputKept, RunDirectory
from tests.conftest import CONFIGS

BIN = Path(sys.executable).parent
CLI = [str(BIN / "iontosim")]
SHORT = {
    "protocol": [{"current": "1.77 mA", "duration": "2 min"}],
    "outputs.profile_times": ["1 min", "2 min"],
    "numerics.refinement": 0.5,
}


def _short():
    return iontosim.load("lidocaine_epinephrine", **SHORT)


def _cli(args, cwd, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1") | kwargs.pop("env", {})
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600, **kwargs)


def test_a_folder_made_at_out_during_the_run_is_left_alone(tmp_path):
    out = tmp_path / "lido"

    def meddle(model, t):
        if t == 60.0:
            out.mkdir()
            (out / "mine.txt").write_text("keep me")

    with pytest.raises(OutputKept) as kept:
        iontosim.run(_short(), out=out, on_output=meddle)
    assert (out / "mine.txt").read_text() == "keep me" and {p.name for p in out.iterdir()} == {"mine.txt"}
    assert (kept.value.stage / "summary.json").is_file() and str(kept.value.stage) in str(kept.value)


def test_overwrite_replaces_only_the_finished_run_it_found(tmp_path):
    out = tmp_path / "lido"
    first = iontosim.run(_short(), out=out)
    (out / "old.txt").write_text("old")
    second = iontosim.run(_short(), out=out, overwrite=True)  # the finished run found at the start: replaced
    assert not (out / "old.txt").exists() and second.directory == out and first.directory == out
    other = tmp_path / "other"
    iontosim.run(_short(), out=other)

    def swap(model, t):  # another run's finished directory takes the place of the one we may replace
        if t == 60.0:
            out.rename(tmp_path / "moved")
            other.rename(out)

    with pytest.raises(OutputKept):
        iontosim.run(_short(), out=out, overwrite=True, on_output=swap)
    assert (out / "summary.json").is_file() and (tmp_path / "moved" / "summary.json").is_file()
    assert not list(tmp_path.glob(".*.lock"))


def test_a_second_process_is_refused_with_one_line(tmp_path):
    with RunDirectory(tmp_path / "busy"):
        proc = _cli(["run", "--out", "busy", "--no-progress"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --out:") and "in use by iontosim process" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "busy").exists()
    with RunDirectory(tmp_path / "held"), pytest.raises(OutputExists, match="in use"):
        RunDirectory(tmp_path / "held").__enter__()


@pytest.mark.parametrize("mask, folder, file", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_permissions_follow_the_umask(tmp_path, mask, folder, file):
    old = os.umask(mask)
    try:
        result = iontosim.run(_short(), out=tmp_path / "lido")
    finally:
        os.umask(old)
    out = result.directory
    assert out.stat().st_mode & 0o777 == folder
    assert (out / "summary.json").stat().st_mode & 0o777 == file


def _interrupt(tmp_path: Path, signum: int, out: str = "cut", ranks: int = 1) -> subprocess.CompletedProcess:
    """Start a run that checkpoints every step, send `signum` once it has checkpointed."""
    cmd = CLI + ["run", str(CONFIGS / "wearable_patch.yaml"), "--out", out, "--no-progress", "--checkpoint-every", "0"]
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-n", str(ranks)] + cmd
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f".{out}.partial-*/checkpoint.pkl")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The summary of the wearable patch run whole, as a resumed run must give it."""
    folder = tmp_path_factory.mktemp("whole")
    proc = _cli(["run", str(CONFIGS / "wearable_patch.yaml"), "--out", "whole", "--no-progress"], folder)
    assert proc.returncode == 0, proc.stderr
    return json.loads((folder / "whole" / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_with_one_line_and_a_checkpoint_to_resume(tmp_path, signum, status, uninterrupted):
    stopped = _interrupt(tmp_path, signum)
    assert stopped.returncode == status, stopped.stderr
    lines = stopped.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted at t = "), stopped.stderr
    assert "checkpoint kept at" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in stopped.stderr and "PETSC" not in stopped.stderr.upper()
    assert not (tmp_path / "cut").exists()
    command = ["run", str(CONFIGS / "wearable_patch.yaml"), "--out", "cut", "--no-progress"]
    if signum == signal.SIGINT:
        # a rerun without --resume says so and how to go on; it starts afresh and keeps the old stage
        fresh = _cli(command, tmp_path)
        assert fresh.returncode == 0 and "rerun with --resume" in fresh.stderr
        assert list(tmp_path.glob(".cut.partial-*/checkpoint.pkl"))
        return
    resumed = _cli([*command, "--resume"], tmp_path)  # gives the uninterrupted answer
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["drug_delivered_ug_per_cm2"] == pytest.approx(uninterrupted["drug_delivered_ug_per_cm2"], rel=1e-9)
    assert not list(tmp_path.glob(".cut.*"))


@pytest.mark.mpi
@pytest.mark.slow
def test_ctrl_c_under_mpirun_stops_every_rank_with_one_line(tmp_path):
    stopped = _interrupt(tmp_path, signal.SIGINT, ranks=2)
    assert stopped.returncode == 130, stopped.stderr
    lines = [line for line in stopped.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted at t = "), stopped.stderr
    assert "checkpoint kept at" in lines[0]


# ---------------------------------------------------------------------------- a patch's fields files
#: the 2D scenario made small: coarse cells, one minute of current and one of rest
SMALL_PATCH = {
    "geometry.surface_cells": 6,
    "geometry.resolution": 0.15,
    "protocol": [{"current": "1.77 mA", "duration": "1 min"}, {"rest": "1 min"}],
    "outputs.profile_times": ["1 min", "2 min"],
}
FIELD_NAMES = {"c_lidocaine [mol/m^3]", "c_Cl- [mol/m^3]", "potential [V]", "current_density [A/m^2]"}


def _xdmf_times_and_fields(path: Path) -> tuple[set[float], set[str]]:
    """The times and the field names of an XDMF file; every HDF5 reference it makes resolves."""
    import xml.etree.ElementTree as ET

    import h5py

    root = ET.parse(path).getroot()
    times = {float(t.get("Value")) for t in root.iter("Time")}
    names = {a.get("Name") for a in root.iter("Attribute")}
    with h5py.File(path.with_suffix(".h5"), "r") as h5:
        for item in root.iter("DataItem"):
            file, where = item.text.strip().split(":", 1)
            assert file == path.with_suffix(".h5").name and where in h5, where
    return times, names


def test_a_patch_run_writes_its_fields_as_vtx_and_xdmf_and_a_resumed_run_beside_them(tmp_path):
    """fields.bp for ParaView's ADIOS2 reader and fields.xdmf (+ fields.h5) for any ParaView; a run
    stopped after the first profile time and resumed writes the rest beside them (fields.resumed1.*)."""
    from iontosim import interruption

    scenario = iontosim.load("lidocaine_epinephrine_2d", **SMALL_PATCH)
    out = tmp_path / "patch"

    def stop(model, t):
        if t == 60.0:
            interruption._requested = signal.SIGTERM  # as the signal handler notes it

    try:
        with pytest.raises(interruption.Interrupted) as stopped:
            iontosim.run(scenario, out=out, on_output=stop)
    finally:
        interruption.reset()
    assert stopped.value.t == 60.0 and (stopped.value.checkpoint / "fields.xdmf").is_file()
    iontosim.run(scenario, out=out, resume=True)
    names = {p.name for p in out.iterdir()}
    for stem, time_ in (("fields", 60.0), ("fields.resumed1", 120.0)):
        assert {f"{stem}.bp", f"{stem}.xdmf", f"{stem}.h5"} <= names
        assert (out / f"{stem}.bp" / "md.idx").is_file()
        times, fields = _xdmf_times_and_fields(out / f"{stem}.xdmf")
        assert times == {time_} and FIELD_NAMES <= fields
    assert not {"fields.resumed2.bp", "fields.resumed2.xdmf"} & names


@pytest.mark.mpi
@pytest.mark.slow
def test_a_patch_run_on_two_ranks_writes_both_fields_files(tmp_path):
    from tests.conftest import python_on_two_ranks

    code = (
        "import sys\nfrom mpi4py import MPI\nimport iontosim\nfrom tests.test_rundir import SMALL_PATCH\n"
        "iontosim.run(iontosim.load('lidocaine_epinephrine_2d', **SMALL_PATCH), out=sys.argv[1], comm=MPI.COMM_WORLD)\n"
    )
    python_on_two_ranks(code, str(tmp_path / "two"))
    times, fields = _xdmf_times_and_fields(tmp_path / "two" / "fields.xdmf")
    assert times == {60.0, 120.0} and FIELD_NAMES <= fields
    assert (tmp_path / "two" / "fields.bp" / "md.idx").is_file()
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["mpi_ranks"] == 2
