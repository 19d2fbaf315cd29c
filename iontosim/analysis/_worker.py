"""What one worker process of an analysis does: run one scenario (a mapping in the config language)
and hand back its summary, or the error that stopped it.

Kept free of heavy imports at module level: a worker started with the 'spawn' method imports this
module first, and the thread limits below must be set before numpy, PETSc or MPI load, so that N
workers on N cores do not each start a pool of BLAS/OpenMP threads and fight over the cores.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any, Callable

#: thread pools of the numerical libraries: one thread per worker (the workers are the parallelism)
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def start_worker() -> None:
    """Initializer of a worker process: one thread per numerical library (unless the user set it)."""
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def simulate_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data`, simulate it on MPI.COMM_SELF (a 2D/3D patch on its mesh) and return
    metrics.summarize's named scalars (units in the keys), with the run's warnings under 'warnings'."""
    from iontosim._fenics import MPI
    from iontosim.output import metrics
    from iontosim.scenario.load import scenario_from_dict
    from iontosim.simulation import simulate

    scenario = scenario_from_dict(data)
    comm = MPI.COMM_SELF
    kwargs = {}
    if scenario.geometry is not None and scenario.geometry.kind != "column":
        from iontosim.mesh.of_scenario import scenario_mesh

        kwargs["skin_mesh"] = scenario_mesh(scenario, comm)
    record = simulate(scenario, comm, **kwargs)
    summary = metrics.summarize(record, scenario.outputs.penetration_threshold)
    summary["warnings"] = list(record.warnings) + metrics.domain_warnings(record, summary)
    return summary


def run_one(runner: Callable[[dict[str, Any]], dict[str, Any]], data: dict[str, Any],
            marker: str | None = None) -> dict[str, Any]:
    """`runner(data)` timed, never raising: {'summary': {...}, 'wall_s': s} or {'error': text, 'wall_s': s}.

    An exception is the run's own failure (the solver gave up, the value was refused) and goes back
    as text, so that one bad run is a row of the table and not the end of the analysis. `marker`, a
    file that exists while the run is under way, tells the parent which runs were in a process
    that died (a crash in compiled code raises nothing here)."""
    started = time.perf_counter()
    if marker is not None:
        open(marker, "w").close()
    try:
        summary = runner(data)
    except Exception as err:  # noqa: BLE001 - every failure of one run is reported, none is fatal
        last = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
        where = f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
        return {"error": f"{type(err).__name__}: {err}{where}", "wall_s": time.perf_counter() - started}
    finally:
        if marker is not None:
            os.remove(marker)
    scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    scalars = {k: float(v) for k, v in scalars.items()}
    return {"summary": scalars, "warnings": [str(w) for w in summary.get("warnings", [])],
            "wall_s": time.perf_counter() - started}
