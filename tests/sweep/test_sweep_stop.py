"""A sweep stops within seconds of Ctrl-C, its workers die with it whatever ends it, and the cases
that were running are redone on the rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sweep.conftest import tiny_scenario, write_sweep

BIN = Path(sys.executable).parent


def _slow_tiny_sweep(folder: Path) -> Path:
    """Four cases of the tiny membrane, each a second or two (small steps over 10 min)."""
    base = tiny_scenario()
    base["protocol"] = [{"current_density": "0.5 mA/cm^2", "duration": "10 min"}]
    base["numerics"] = {"dt_max": "1 s", "donor_cells": 8}
    return write_sweep(
        folder,
        {"protocol[0].current_density": {"values": [f"{0.1 * k:.1f} mA/cm^2" for k in range(1, 5)]}},
        {"kind": "grid"},
        base=base,
    )


def _start(folder: Path, sweep: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "iontosim"), "sweep", str(sweep), "--out", "s", "--workers", "2", "--no-progress"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def _workers(pid: int) -> list[int]:
    """The child processes of `pid` (its pool's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for_running_cases(folder: Path, proc: subprocess.Popen) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = [w for w in _workers(proc.pid) if _alive(w)]
        if len(workers) >= 2 and list((folder / "s" / "cases").glob(".*.partial-*")):
            return workers
        time.sleep(0.1)
    pytest.fail("the sweep never started its cases")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_ctrl_c_stops_a_sweep_within_seconds_and_the_rerun_redoes_its_cases(tmp_path):
    sweep = _slow_tiny_sweep(tmp_path)
    proc = _start(tmp_path, sweep)
    workers = _wait_for_running_cases(tmp_path, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "the sweep took too long to stop"
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    time.sleep(1)
    assert not [w for w in workers if _alive(w)], "workers outlived the sweep"
    done = [p for p in (tmp_path / "s" / "cases").iterdir() if (p / "summary.json").exists()]
    assert len(done) < 4
    rerun = subprocess.run(
        [str(BIN / "iontosim"), "sweep", str(sweep), "--out", "s", "--workers", "2", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert len([p for p in (tmp_path / "s" / "cases").iterdir() if (p / "summary.json").exists()]) == 4
    assert not list((tmp_path / "s" / "cases").glob(".*"))  # no staging folder, no lock left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_workers_die_with_a_killed_sweep(tmp_path):
    proc = _start(tmp_path, _slow_tiny_sweep(tmp_path))
    workers = _wait_for_running_cases(tmp_path, proc)
    proc.kill()  # SIGKILL: the sweep runs no code of its own on the way out
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while [w for w in workers if _alive(w)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "workers outlived the sweep"


def test_a_second_sweep_on_the_same_directory_is_refused(tmp_path):
    import typer
    from typer.testing import CliRunner

    from iontosim.sweep.command import sweep as sweep_command
    from iontosim.sweep.directory import SweepDirectory
    from tests.sweep.conftest import GRID

    app = typer.Typer()
    app.command()(sweep_command)
    app.command()(lambda: None)
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    held = SweepDirectory(tmp_path / "s")
    held.lock()
    try:
        result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "s"), "--workers", "1"])
    finally:
        held.unlock()
    assert result.exit_code == 2 and "in use by another iontosim sweep" in result.output
    assert len(result.output.strip().splitlines()) == 1
