"""Slurm job arrays: the emitted sbatch scripts, and an array task running only its slice."""

from __future__ import annotations

import shutil
import subprocess

from tests.sweep.conftest import GRID, invoke, write_sweep


def test_emit_slurm_writes_a_ready_job_array(app, tmp_path):
    path = write_sweep(tmp_path, GRID | {"donor.pH": {"values": [6.5, 7.0, 7.4]}}, {"kind": "grid"})  # 12 cases
    out = tmp_path / "out"
    result = invoke(
        app,
        path,
        "--out",
        out,
        "--emit-slurm",
        "--cases-per-task",
        5,
        "--ranks-per-case",
        2,
        "--slurm-time",
        "00:20:00",
        "--slurm-option",
        "partition=short",
        "--slurm-option",
        "--account=skin",
    )
    assert result.exit_code == 0, result.output
    assert "12 cases in 3 array tasks of 5" in result.output
    script = (out / "slurm" / "sweep.sbatch").read_text()
    for line in (
        "#SBATCH --array=0-2",
        "#SBATCH --ntasks=2",
        "#SBATCH --time=00:20:00",
        "#SBATCH --partition=short",
        "#SBATCH --account=skin",
        "export OMP_NUM_THREADS=1",
    ):
        assert line + "\n" in script, line
    run = next(line for line in script.splitlines() if line.startswith("srun "))
    assert f"sweep {path.resolve()} --out {out.resolve()}" in run
    assert '--array-index "$SLURM_ARRAY_TASK_ID" --cases-per-task 5' in run
    assert "--ranks-per-case 2 --no-progress" in script
    gather = (out / "slurm" / "gather.sbatch").read_text()
    assert "#SBATCH --ntasks=1" in gather and gather.rstrip().endswith("--report")
    assert "sbatch --dependency=afterany:$jobid" in result.output
    if shutil.which("bash"):
        for name in ("sweep.sbatch", "gather.sbatch"):
            assert subprocess.run(["bash", "-n", str(out / "slurm" / name)]).returncode == 0
    assert not list((out / "cases").iterdir())  # nothing ran


def test_an_array_task_runs_its_slice_only(app, tmp_path):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    out = tmp_path / "out"
    result = invoke(app, path, "--out", out, "--array-index", 1, "--cases-per-task", 3, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["0003"]  # cases 3 to 5 of 4
    assert "[task 1]" in result.output and not (out / "summaries.csv").exists()  # the gather job makes the table
    result = invoke(app, path, "--out", out, "--report")
    assert result.exit_code == 0 and "4 cases: 1 done, 0 failed, 3 not run yet" in result.output
