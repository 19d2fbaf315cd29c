"""What one worker process of an analysis does: run one scenario (a mapping in the config language)
and hand back its summary, or the error that stopped it.

Kept free of heavy imports at module level: a worker started with the 'spawn' method imports this
module first, and its thread limits (iontosim.workers.worker_start) must be set before numpy,
PETSc or MPI load, so that N workers on N cores do not each start a pool of BLAS/OpenMP threads.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from typing import Any


def simulate_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` and run it on this process alone (iontosim.run: a 2D/3D patch on its mesh);
    its summary: named scalars (units in the keys), the safety section, and the warnings."""
    from iontosim import api
    from iontosim.scenario.load import scenario_from_dict

    return api.run(scenario_from_dict(data)).summary


def run_one(
    runner: Callable[[dict[str, Any]], dict[str, Any]], data: dict[str, Any], marker: str | None = None
) -> dict[str, Any]:
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
    return {
        "summary": scalars,
        "warnings": [str(w) for w in summary.get("warnings", [])],
        "wall_s": time.perf_counter() - started,
    }
