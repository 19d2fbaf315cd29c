"""One case of a sweep, run into its own run directory exactly as `iontosim run` writes one.

The run directory is written by the one run function (api.solve) inside a locked, staged
directory (rundir.RunDirectory): a hidden staging folder renamed into place at the end, so a
killed case leaves no complete-looking directory, and a case another process is running is
left to it. The case adds case.json (its parameter values) and run.log (what `iontosim run`
would have printed). A case that fails (a scenario the loader refuses for this combination of
values, a solver that gives up) gets a directory of its own holding error.json, written the same
staged way, and the sweep goes on.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import socket
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .directory import DONE, FAILED, PENDING, SweepDirectory


def run_case_alone(
    root: str, case_id: str, scenario_data: dict[str, Any], parameters: dict[str, Any], case_plots: bool = False
) -> dict[str, Any]:
    """A process-pool worker's entry point: the case on MPI.COMM_SELF."""
    from iontosim._fenics import MPI

    return run_case(root, case_id, scenario_data, parameters, MPI.COMM_SELF, case_plots)


def run_case(
    root: str | Path,
    case_id: str,
    scenario_data: dict[str, Any],
    parameters: dict[str, Any],
    comm,
    case_plots: bool = False,
) -> dict[str, Any]:
    """Run one case on `comm` (every rank of it calls this) into DIR/cases/<case_id>/.

    `scenario_data` is the case's scenario mapping (the base with its values set);
    `parameters` the values as the table shows them ({column: value in the sweep file's unit}).
    Returns {"id", "status" (done | failed | pending: another process runs it), "error",
    "wall_time_s"} on every rank.
    """
    from iontosim.api import RunFailed, on_root, solve, staged
    from iontosim.rundir import OutputExists, RunDirectory
    from iontosim.scenario.errors import ScenarioError
    from iontosim.scenario.load import scenario_from_dict

    directory = SweepDirectory(root)
    out = directory.case_dir(case_id)
    started = time.perf_counter()
    # where it ran: which process and host, on how many ranks (for a cluster's post-mortem)
    info = {
        "id": case_id,
        "parameters": parameters,
        "mpi_ranks": comm.size,
        "host": socket.gethostname(),
        "process": os.getpid(),
    }

    def clear() -> None:  # with the case's lock held: what is left is a killed run's, redone now
        for stage in directory.leftover_stages(case_id):
            shutil.rmtree(stage, ignore_errors=True)
        if out.exists() and directory.state(case_id) == PENDING:  # no record of anything (cases/ is the sweep's)
            shutil.rmtree(out)

    failure = None
    log = io.StringIO()
    try:
        case_dir = RunDirectory(out, on_locked=clear)
        with staged(comm, case_dir) as stage:
            on_root(comm, lambda: (stage / "case.json").write_text(json.dumps(info, indent=2)))
            try:
                scenario = scenario_from_dict(scenario_data)  # every rank alike: a refusal is the same everywhere
                with redirect_stdout(log), redirect_stderr(log):
                    # no checkpoints: a killed case is redone from its start; the run directory's PNGs
                    # only with --case-plots: they take a few seconds each (more than a short 1D solve),
                    # and the sweep's report shows the cases together
                    solve(scenario, comm, stage, plots=case_plots, checkpoint_every=math.inf)
            except (RunFailed, ScenarioError) as err:  # raised alike on every rank of `comm`
                failure = err
            wall = time.perf_counter() - started
            on_root(comm, lambda: _write_log(stage, log.getvalue(), info, failure, wall))
            on_root(comm, case_dir.commit)
    except OutputExists:  # another process holds this case: it is its to run
        return {"id": case_id, "status": PENDING, "error": None, "wall_time_s": 0.0}
    wall = time.perf_counter() - started
    return {
        "id": case_id,
        "status": FAILED if failure is not None else DONE,
        "error": None if failure is None else _one_line(failure),
        "wall_time_s": wall,
    }


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def _write_log(stage: Path, log: str, info: dict, err: BaseException | None, wall: float) -> None:
    """run.log, and for a failed case error.json (last: its presence marks the failure)."""
    if log:
        (stage / "run.log").write_text(log)
    if err is None:
        return
    record = info | {
        "error": _one_line(err),
        "type": type(err).__name__,
        "message": str(err),
        "traceback": "".join(traceback.format_exception(err)),
        "wall_time_s": wall,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (stage / "error.json").write_text(json.dumps(record, indent=2))
