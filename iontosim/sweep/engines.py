"""Where the cases run: existing engines, no scheduler of our own.

- `run_in_pool`: a concurrent.futures process pool ('spawn': a fresh interpreter per worker, no
  forked MPI or PETSc state) of the available cores, each worker running a case on MPI.COMM_SELF;
- `run_in_groups`: under mpirun/srun, the ranks split into groups of --ranks-per-case
  (comm.Split), each group running its share of the cases on its sub-communicator;
- a Slurm job array: each array task takes its slice of the cases (`array_slice`) and runs it
  with one of the two above (slurm.py writes the script).

The shares are fixed in advance (round robin over the cases still to run): the sweep directory
is the only shared state, so groups and array tasks never wait for each other.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from iontosim.workers import stop_pool, worker_start

from .case import run_case, run_case_alone
from .progress import SweepProgress

#: one job: (case id, the case's scenario mapping, its values as the table shows them)
Job = tuple[str, dict[str, Any], dict[str, Any]]


class EngineError(RuntimeError):
    """Cases that could not be run (a worker process died); rerunning the command runs them."""


def array_slice(count: int, index: int, cases_per_task: int) -> range:
    """The case numbers of array task `index`: consecutive blocks of `cases_per_task`."""
    start = index * cases_per_task
    return range(start, min(start + cases_per_task, count))


def run_in_pool(
    root: str, jobs: list[Job], workers: int, progress: SweepProgress, case_plots: bool = False
) -> list[dict]:
    """Run the jobs on `workers` processes (in this process when one is enough). Ctrl-C or SIGTERM
    stops at once: the workers are killed (their cases keep only staging folders, redone on the
    next run), and the workers die with this process whatever ends it (worker_start)."""
    from iontosim import interruption

    results: list[dict] = []
    if workers <= 1 or len(jobs) <= 1:
        for case_id, data, parameters in jobs:
            result = run_case_alone(root, case_id, data, parameters, case_plots)
            results.append(result)
            progress.record(result)
        return results
    lost: list[str] = []
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context, initializer=worker_start)
    try:
        futures = {
            pool.submit(run_case_alone, root, case_id, data, parameters, case_plots): case_id
            for case_id, data, parameters in jobs
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if interruption.requested():
                raise interruption.Interrupted(interruption.requested() or 2)
            for future in finished:
                try:
                    result = future.result()
                except Exception as err:  # the worker died (BrokenProcessPool) or could not write the case
                    lost.append(f"{futures[future]} ({type(err).__name__}: {err})")
                    continue
                results.append(result)
                progress.record(result)
    except BaseException:  # Ctrl-C or SIGTERM: stop the running cases too, at once
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    if lost:
        raise EngineError(
            f"{len(lost)} case(s) were not run: {'; '.join(lost[:5])}"
            f"{' ...' if len(lost) > 5 else ''}; rerun the same command to run them"
        )
    return results


def run_in_groups(
    world,
    root: str,
    jobs: list[Job],
    ranks_per_case: int,
    progress: SweepProgress | None,
    counts: Callable[[], tuple[int, int]] | None = None,
    case_plots: bool = False,
) -> list[dict]:
    """Run the jobs on groups of `ranks_per_case` ranks of `world` (every rank calls this with the
    same jobs). Rank 0 of `world` shows the progress, reading `counts()` (done, failed) from the
    sweep directory after each of its own cases (`counts` comes with `progress`). Returns every
    result on rank 0, [] elsewhere."""
    groups = world.size // ranks_per_case
    group = world.rank // ranks_per_case
    sub = world.Split(group, world.rank)
    mine: list[dict] = []
    try:
        for case_id, data, parameters in jobs[group::groups]:
            result = run_case(root, case_id, data, parameters, sub, case_plots)
            if sub.rank == 0:
                mine.append(result)
            if world.rank == 0:
                _show_counts(progress, counts)
    finally:
        sub.Free()
    everything = world.gather(mine, root=0)  # also waits for every group to finish
    if world.rank != 0:
        return []
    _show_counts(progress, counts)
    return [result for part in everything for result in part]


def _show_counts(progress: SweepProgress | None, counts: Callable[[], tuple[int, int]] | None) -> None:
    """Rank 0: the progress with the counts read from the sweep directory, if it shows one."""
    if progress is not None:
        assert counts is not None, "run_in_groups: a progress needs its counts"
        progress.counts(*counts())
