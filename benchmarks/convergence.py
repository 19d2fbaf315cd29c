"""Mesh and time-step convergence of the default scenario, and its wall time.

    .venv/bin/python benchmarks/convergence.py

Prints delivered dose, transport number and penetration depths at refinement 0.5, 1, 2, 4
(cells per layer x factor) and at dt_max / dt_initial divided by 1, 2, 4, each against the
finest run, and the solve time of the default settings (median of 3, after one warm-up run
that also compiles the forms).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mpi4py import MPI

from iontosim.output.metrics import summarize
from iontosim.scenario.load import load_scenario
from iontosim.simulation import simulate

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "lidocaine_epinephrine.yaml"
KEYS = ["drug_delivered_ug_per_cm2", "mean_drug_transport_number", "penetration_depth_um",
        "depth_90pct_tissue_dose_um"]


def run(refinement=1.0, time_factor=1.0):
    sc = load_scenario(CONFIG)
    num = sc.numerics.model_copy(update={"refinement": refinement,
                                         "dt_max": sc.numerics.dt_max / time_factor,
                                         "dt_initial": sc.numerics.dt_initial / time_factor})
    sc = sc.model_copy(update={"numerics": num})
    t0 = time.perf_counter()
    rec = simulate(sc, MPI.COMM_WORLD)
    wall = time.perf_counter() - t0
    return summarize(rec, sc.outputs.penetration_threshold), wall, len(rec.times) - 1


def table(label, values, runs):
    ref = runs[-1][0]
    print(f"\n{label:>12} " + " ".join(f"{k:>28}" for k in KEYS) + "   steps")
    for v, (s, _, steps) in zip(values, runs):
        cells = " ".join(f"{s[k]:>16.5g} ({(s[k] / ref[k] - 1) * 100:+6.2f} %)" for k in KEYS)
        print(f"{v:>12} {cells}   {steps}")


def main():
    run()  # warm-up: JIT compilation of the forms
    walls = [run()[1] for _ in range(3)]
    print(f"default settings: solve time median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}) on {MPI.COMM_WORLD.size} rank(s)")
    space = [0.5, 1.0, 2.0, 4.0]
    table("refinement", space, [run(refinement=r) for r in space])
    times = [1.0, 2.0, 4.0]
    table("dt / factor", times, [run(time_factor=f) for f in times])


if __name__ == "__main__":
    main()
