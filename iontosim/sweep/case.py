"""One case of a sweep, run into its own run directory exactly as `iontosim run` writes one.

The run directory is written through the command's own functions (cli.run_and_write inside
rundir.staged_directory): a hidden staging folder renamed into place at the end, so a killed case
leaves no complete-looking directory. The case adds case.json (its parameter values) and run.log
(what `iontosim run` would have printed). A case that fails (a scenario the loader refuses for
this combination of values, a solver that gives up) gets a directory of its own holding
error.json, written the same staged way, and the sweep goes on.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tempfile
import time
import traceback
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .directory import DONE, FAILED, SweepDirectory


def run_case_alone(root: str, case_id: str, scenario_data: dict[str, Any], parameters: dict[str, Any],
                   case_plots: bool = False) -> dict[str, Any]:
    """A process-pool worker's entry point: the case on MPI.COMM_SELF."""
    from iontosim._fenics import MPI

    return run_case(root, case_id, scenario_data, parameters, MPI.COMM_SELF, case_plots)


def run_case(root: str | Path, case_id: str, scenario_data: dict[str, Any], parameters: dict[str, Any],
             comm, case_plots: bool = False) -> dict[str, Any]:
    """Run one case on `comm` (every rank of it calls this) into DIR/cases/<case_id>/.

    `scenario_data` is the case's scenario mapping (the base with its values set);
    `parameters` the values as the table shows them ({column: value in the sweep file's unit}).
    Returns {"id", "status" (done | failed), "error", "wall_time_s"} on every rank.
    """
    from iontosim.cli import RunFailed, run_and_write
    from iontosim.rundir import staged_directory
    from iontosim.scenario.errors import ScenarioError
    from iontosim.scenario.load import scenario_from_dict

    directory = SweepDirectory(root)
    out = directory.case_dir(case_id)
    started = time.perf_counter()
    # where it ran: which process and host, on how many ranks (for a cluster's post-mortem)
    info = {"id": case_id, "parameters": parameters, "mpi_ranks": comm.size, "host": socket.gethostname(),
            "process": os.getpid()}
    if comm.rank == 0:
        for stage in directory.leftover_stages(case_id):  # a killed run of this case: it is redone
            shutil.rmtree(stage, ignore_errors=True)
        if out.exists():  # neither summary.json nor error.json: not a record of anything (cases/ is the sweep's)
            shutil.rmtree(out)
    failure = None
    log = io.StringIO()
    try:
        scenario = scenario_from_dict(scenario_data)  # every rank alike: a refusal is the same everywhere
        stage = None
        with ExitStack() as stack:
            if comm.rank == 0:
                stage = stack.enter_context(staged_directory(out))
                (stage / "case.json").write_text(json.dumps(info, indent=2))
            stage = comm.bcast(stage, root=0)
            with redirect_stdout(log), redirect_stderr(log):
                # no checkpoints: a killed case is redone from its start; the run directory's PNGs
                # only with --case-plots: they take a few seconds each (more than a short 1D solve),
                # and the sweep's report shows the cases together
                run_and_write(scenario, comm, stage, False, {"checkpoint_every": float("inf")},
                              plots_wanted=case_plots)
            if comm.rank == 0:
                (stage / "run.log").write_text(log.getvalue())
    except (RunFailed, ScenarioError) as err:  # raised alike on every rank of `comm`
        failure = err
    except Exception as err:
        if comm.size > 1:
            raise  # run_and_write has already taken the job down for an error on one rank only
        failure = err
    wall = time.perf_counter() - started
    if failure is not None and comm.rank == 0:
        _write_failure(out, info, failure, log.getvalue(), wall)
    return {"id": case_id, "status": FAILED if failure is not None else DONE,
            "error": None if failure is None else _one_line(failure), "wall_time_s": wall}


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def _write_failure(out: Path, info: dict, err: BaseException, log: str, wall: float) -> None:
    record = info | {"error": _one_line(err), "type": type(err).__name__, "message": str(err),
                     "traceback": "".join(traceback.format_exception(err)), "wall_time_s": wall,
                     "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    (stage / "case.json").write_text(json.dumps(info, indent=2))
    if log:
        (stage / "run.log").write_text(log)
    (stage / "error.json").write_text(json.dumps(record, indent=2))  # last: its presence marks the failure
    if out.exists():
        shutil.rmtree(out)
    stage.rename(out)


