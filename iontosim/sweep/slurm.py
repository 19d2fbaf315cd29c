"""Slurm job-array scripts of a sweep (DIR/slurm/): Slurm schedules, iontosim only runs a slice.

`sweep.sbatch` is the array: task K runs cases K*C .. K*C + C - 1 (C = --cases-per-task) with
`iontosim sweep ... --array-index K` on --ranks-per-case ranks (srun). `gather.sbatch` gathers
the table and draws the report once the array is over (submit it with a dependency). A task that
hits its time limit or is resubmitted skips the cases already finished.
"""

from __future__ import annotations

import math
import shlex
import shutil
import sys
from pathlib import Path

#: Slurm's default MaxArraySize is 1001 (array indices 0 to 1000)
MAX_ARRAY_SIZE = 1001


def array_tasks(cases: int, cases_per_task: int) -> int:
    return math.ceil(cases / cases_per_task)


def iontosim_command() -> list[str]:
    """The iontosim executable of this installation (beside this Python), as the batch job runs it."""
    beside = Path(sys.executable).parent / "iontosim"
    found = beside if beside.exists() else shutil.which("iontosim")
    return [str(found)] if found else [sys.executable, "-m", "iontosim.cli"]


def write_slurm_scripts(
    root: Path,
    sweep_file: Path,
    name: str,
    cases: int,
    cases_per_task: int,
    ranks_per_case: int,
    time_limit: str,
    options: list[str],
) -> tuple[Path, Path]:
    root = Path(root).resolve()
    folder = root / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    tasks = array_tasks(cases, cases_per_task)
    command = iontosim_command() + ["sweep", str(Path(sweep_file).resolve()), "--out", str(root)]
    extra = "".join(f"#SBATCH {o if o.startswith('-') else '--' + o}\n" for o in options)
    array = f"""#!/bin/bash
#SBATCH --job-name={_job_name(name)}
#SBATCH --array=0-{tasks - 1}
#SBATCH --ntasks={ranks_per_case}
#SBATCH --cpus-per-task=1
#SBATCH --time={time_limit}
#SBATCH --output={folder}/%A_%a.out
{extra}
# iontosim sweep {name}: {cases} cases, {cases_per_task} per array task ({tasks} tasks),
# each case on {ranks_per_case} MPI rank(s). Written by `iontosim sweep --emit-slurm`.
# A task runs its cases one after another; the finished ones are skipped when a task is run
# again, and a case killed by the time limit is redone: resubmitting the array resumes the sweep.
# Submit with its gathering step:
#   jobid=$(sbatch --parsable {folder}/sweep.sbatch) && sbatch --dependency=afterany:$jobid {folder}/gather.sbatch
export OMP_NUM_THREADS=1
cd {shlex.quote(str(root.parent))}
srun {shlex.join(command)} --array-index "$SLURM_ARRAY_TASK_ID" --cases-per-task {cases_per_task} \\
    --ranks-per-case {ranks_per_case} --no-progress
"""
    gather = f"""#!/bin/bash
#SBATCH --job-name={_job_name(name)}-gather
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=00:30:00
#SBATCH --output={folder}/gather_%j.out
{extra}
# Gathers every case's summary of sweep {name} into {root}/summaries.h5 and .csv and draws the
# report (runs no case); run it after the array (sbatch --dependency=afterany:<array job id>).
export OMP_NUM_THREADS=1
cd {shlex.quote(str(root.parent))}
{shlex.join(command)} --report
"""
    paths = folder / "sweep.sbatch", folder / "gather.sbatch"
    for path, text in zip(paths, (array, gather)):
        path.write_text(text)
        path.chmod(0o755)
    return paths


def _job_name(name: str) -> str:
    return "iontosim-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
