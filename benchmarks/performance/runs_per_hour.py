"""Sweep throughput: 1D runs of the default scenario per hour, two worker processes on MPI.COMM_SELF.

    .venv/bin/python benchmarks/performance/runs_per_hour.py                 # 2 workers x 10 runs, both modes
    .venv/bin/python benchmarks/performance/runs_per_hour.py --runs 20 --mode warm

A parameter sweep over 1D columns is embarrassingly parallel: one scenario per process, each on
MPI.COMM_SELF (a 1D column is too small for ranks to pay off, benchmarks/RESULTS.md). Each
worker solves iontosim/scenarios/lidocaine_epinephrine.yaml (all 60 min: 10 min at 1.77 mA, 50 min passive)
`--runs` times with iontosim.simulation.simulate and keeps the record's delivered dose (so the
runs are real, and checked to agree).

Two figures:
- warm (excluding form compilation): each worker first solves once untimed (JIT compilation, or
  loading the compiled forms from the cache), then times its runs; runs per hour = sum over
  workers of runs / (time of the worker's runs) x 3600.
- cold (including form compilation and process start-up): every worker gets an empty JIT cache
  of its own (XDG_CACHE_HOME, before DOLFINx is imported), so each compiles the forms; runs per
  hour = all runs / whole-pool wall time (process spawn to the last result) x 3600. Separate
  caches keep the two compilers from racing on one cache; a shared warm cache is the warm figure.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

from iontosim.scenario.catalogue import SCENARIOS_DIR

CONFIG = SCENARIOS_DIR / "lidocaine_epinephrine.yaml"


def worker(job: tuple[int, int, bool, str | None]) -> dict:
    """Solve the default scenario `runs` times; DOLFINx is imported here, after the cache is chosen."""
    index, runs, warm_up, cache_dir = job
    start = time.perf_counter()
    if cache_dir is not None:
        os.environ["XDG_CACHE_HOME"] = cache_dir
    from mpi4py import MPI

    from iontosim.scenario.load import load_scenario
    from iontosim.simulation import simulate

    sc = load_scenario(CONFIG)
    if warm_up:
        simulate(sc, MPI.COMM_SELF)
    began = time.perf_counter()
    walls, doses = [], []
    for _ in range(runs):
        t = time.perf_counter()
        record = simulate(sc, MPI.COMM_SELF)
        walls.append(time.perf_counter() - t)
        doses.append(float(record.series[f"delivered/{sc.drug}"][-1]))
    return {
        "worker": index,
        "before": began - start,
        "runs": walls,
        "doses": doses,
        "elapsed": time.perf_counter() - began,
    }


def sweep(workers: int, runs: int, mode: str) -> None:
    ctx = mp.get_context("spawn")  # fresh interpreters: no DOLFINx state or cache choice inherited
    with tempfile.TemporaryDirectory(prefix="iontosim-jit-") as tmp:
        caches = [str(Path(tmp) / f"worker{k}") for k in range(workers)] if mode == "cold" else [None] * workers
        start = time.perf_counter()
        pool = ctx.Pool(workers)
        results = pool.map(worker, [(k, runs, mode == "warm", caches[k]) for k in range(workers)])
        pool.close()  # let the workers exit (the context manager would SIGTERM them, and PETSc complains)
        pool.join()
        wall = time.perf_counter() - start
    doses = [d for r in results for d in r["doses"]]
    spread = (max(doses) - min(doses)) / abs(statistics.mean(doses))
    per_run = [w for r in results for w in r["runs"]]
    if mode == "warm":
        rate = sum(runs / r["elapsed"] for r in results) * 3600.0
        how = "sum over workers of runs / their timed span (forms compiled before timing)"
    else:
        rate = workers * runs / wall * 3600.0
        how = "all runs / whole-pool wall time (spawn, imports, JIT compilation in an empty cache included)"
    print(f"{mode}: {workers} workers x {runs} runs of {CONFIG.name}: {rate:.0f} runs per hour ({how})")
    print(
        f"  per run: median {statistics.median(per_run):.2f} s (min {min(per_run):.2f}, max {max(per_run):.2f}); "
        f"first-run overhead per worker (start-up{', compilation' if mode == 'cold' else ', warm-up run'}): "
        + ", ".join(f"{r['before']:.1f} s" for r in results)
        + (f"; the cold first runs: {', '.join(f'{r["runs"][0]:.1f} s' for r in results)}" if mode == "cold" else "")
        + f"; pool wall {wall:.1f} s; delivered doses agree to {spread:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10, help="runs per worker")
    parser.add_argument("--mode", choices=["warm", "cold", "both"], default="both")
    args = parser.parse_args()
    for mode in ["warm", "cold"] if args.mode == "both" else [args.mode]:
        sweep(args.workers, args.runs, mode)


if __name__ == "__main__":
    main()
