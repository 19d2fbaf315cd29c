"""Throughput of `iontosim sweep`: the cost per case beyond its solve, and cases per hour.

    .venv/bin/python benchmarks/sweep_throughput.py [--cases 12] [--rounds 3] [--case-plots]

A grid of --cases 1D cases of iontosim/scenarios/sweeps/lidocaine_short.yaml (the default scenario, 5 min
at 1.77 mA and 5 min passive, half resolution; only the stratum corneum's isoelectric point
varies) runs three ways, each into a fresh sweep directory:

- `serial`: one process (--workers 1), the cases one after another in it;
- `pool`: a process pool of 2 workers ('spawn', each case on MPI.COMM_SELF);
- `mpirun`: `mpirun -n 2`, two groups of one rank (--ranks-per-case 1).

Figures, per engine with P parallel workers and M cases in a sweep wall time T:
- solve: the median wall time of one case's `simulate` alone, in this process after a warm-up
  (compiled forms cached), the cost any run of the case has;
- wall per case: T / M;
- overhead per case: T P / M - solve, the core-seconds each case costs beyond its solve (process
  start and imports, writing the run directory, gathering; and whatever the workers slow each
  other down by, sharing memory bandwidth);
- overhead beyond the in-sweep solve: T P / M minus the median solve time the cases themselves
  recorded (summary.json's wall_time_s), which took the same load as the sweep: the machinery
  alone, less sensitive to a shared machine;
- cases per hour: 3600 M / T.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from iontosim.scenario.catalogue import SWEEPS_DIR

ROOT = Path(__file__).resolve().parent.parent
BASE = SWEEPS_DIR / "lidocaine_short.yaml"
BIN = Path(sys.executable).parent

# `iontosim sweep` on an app of its own, so that the benchmark does not depend on its registration in cli.py
APP = """
import sys, typer
from iontosim.sweep.command import sweep
from iontosim.scenario.catalogue import SWEEPS_DIR
app = typer.Typer(add_completion=False)
app.command()(sweep)
app.command("noop")(lambda: None)
app(sys.argv[1:])
"""


def sweep_file(folder: Path, cases: int) -> Path:
    values = [round(4.0 + 1.5 * k / max(cases - 1, 1), 6) for k in range(cases)]
    path = folder / "throughput.yaml"
    path.write_text(
        f"name: throughput\nbase: {BASE}\nparameters:\n"
        f"  skin[stratum_corneum].fixed_charge.isoelectric_point: {{values: {values}}}\n"
        "design: {kind: grid}\n"
    )
    return path


def solve_time(repeats: int = 3) -> float:
    """Median wall time [s] of one case's simulate on one rank, after a warm-up run."""
    from mpi4py import MPI

    from iontosim.scenario.load import load_scenario
    from iontosim.simulation import simulate

    scenario = load_scenario(BASE)
    simulate(scenario, MPI.COMM_SELF)  # warm-up: form compilation, imports
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        simulate(scenario, MPI.COMM_SELF)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_sweep(engine: str, path: Path, out: Path, case_plots: bool) -> float:
    args = ["sweep", str(path), "--out", str(out), "--no-progress"] + (["--case-plots"] if case_plots else [])
    command = [sys.executable, "-c", APP]
    if engine == "serial":
        command += args + ["--workers", "1"]
    elif engine == "pool":
        command += args + ["--workers", "2"]
    else:
        command = [str(BIN / "mpirun"), "-n", "2"] + command + args + ["--ranks-per-case", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{engine}: sweep failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def case_solve_times(out: Path) -> list[float]:
    return [json.loads(p.read_text())["wall_time_s"] for p in sorted((out / "cases").glob("*/summary.json"))]


def machine() -> str:
    model = ""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} cores visible, {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12, help="cases per sweep")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat every engine this often, interleaved (a shared machine's load varies)",
    )
    parser.add_argument("--case-plots", action="store_true", help="draw each case's PNGs as iontosim run does")
    parser.add_argument("--engines", default="serial,pool,mpirun")
    args = parser.parse_args()

    engines = args.engines.split(",")
    loads = [os.getloadavg()[0]]
    solves: list[float] = []
    runs: dict[str, list[tuple[float, float]]] = {e: [] for e in engines}  # (sweep wall, median in-sweep solve)
    with tempfile.TemporaryDirectory(prefix="sweep_throughput_") as tmp:
        path = sweep_file(Path(tmp), args.cases)
        for r in range(args.rounds):
            solves.append(solve_time(1 if r else 3))
            for engine in engines:
                out = Path(tmp) / f"{engine}{r}"
                wall = run_sweep(engine, path, out, args.case_plots)
                runs[engine].append((wall, statistics.median(case_solve_times(out))))
                loads.append(os.getloadavg()[0])
    solve = statistics.median(solves)
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}; "
        f"1-min load average during the runs: {min(loads):.1f} to {max(loads):.1f}"
    )
    print(
        f"command: {sys.executable} benchmarks/sweep_throughput.py --cases {args.cases} --rounds {args.rounds}"
        + (" --case-plots" if args.case_plots else "")
    )
    print(
        f"case: {BASE.relative_to(ROOT)} (1D, 5 min on + 5 min off), solve alone (median, warm): {solve:.2f} s; "
        f"case plots: {'yes' if args.case_plots else 'no'}; {args.cases} cases a sweep, {args.rounds} round(s), "
        "median over rounds\n"
    )
    print(
        "| engine | parallel workers | sweep wall time [s] | wall per case [s] | overhead per case, beyond the "
        "solve alone [core-s] | solve inside the sweep, median [s] | overhead beyond the in-sweep solve [core-s] "
        "| cases per hour |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for engine in engines:
        workers = 1 if engine == "serial" else 2
        wall = statistics.median(w for w, _ in runs[engine])
        in_sweep = statistics.median(s for _, s in runs[engine])
        per_case = wall / args.cases
        print(
            f"| {engine} | {workers} | {wall:.1f} | {per_case:.2f} | {per_case * workers - solve:.2f} | "
            f"{in_sweep:.2f} | {per_case * workers - in_sweep:.2f} | {3600 / per_case:.0f} |"
        )


if __name__ == "__main__":
    main()
