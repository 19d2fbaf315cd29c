"""Mesh and time-step convergence of the default scenario, two flux discretizations, wall time.

    .venv/bin/python benchmarks/convergence.py

Prints, for the default scenario (lidocaine_epinephrine.yaml):
1. the solve time of the default settings (median of 5, after a warm-up run that compiles);
2. delivered dose, transport number, penetration depths and solve time against the number of
   stratum-corneum cells (where the mesh error sits), for the fitted (Scharfetter-Gummel) flux
   (the default) and the lumped flux, each against the finest fitted run, with time ratios;
3. the same against dt_max / dt_initial divided by 1, 2, 4 (default flux);
4. robustness: the default mesh at 1, 2 and 4 times the LidoSite current, each flux.
"""

from __future__ import annotations

import statistics
import time

from mpi4py import MPI

from iontosim.output.metrics import summarize
from iontosim.scenario.catalogue import SCENARIOS_DIR
from iontosim.scenario.load import load_scenario
from iontosim.simulation import SimulationError, simulate

CONFIG = SCENARIOS_DIR / "lidocaine_epinephrine.yaml"
KEYS = ["drug_delivered_ug_per_cm2", "mean_drug_transport_number", "penetration_depth_um", "depth_90pct_tissue_dose_um"]


def run(sc_cells=None, time_factor=1.0, flux="fitted", current_factor=1.0):
    sc = load_scenario(CONFIG)
    num = sc.numerics.model_copy(
        update={
            "dt_max": sc.numerics.dt_max / time_factor,
            "dt_initial": sc.numerics.dt_initial / time_factor,
            "flux": flux,
        }
    )
    skin = [
        layer.model_copy(update={"cells": sc_cells}) if sc_cells and layer.name == "stratum_corneum" else layer
        for layer in sc.skin
    ]
    protocol = [
        step.model_copy(update={"current_density": step.current_density * current_factor})
        if step.current_density
        else step
        for step in sc.protocol
    ]
    sc = sc.model_copy(update={"numerics": num, "skin": skin, "protocol": protocol})
    t0 = time.perf_counter()
    try:
        rec = simulate(sc, MPI.COMM_WORLD)
    except SimulationError:
        return None, time.perf_counter() - t0, 0
    wall = time.perf_counter() - t0
    return summarize(rec, sc.outputs.penetration_threshold), wall, len(rec.times) - 1


def table(label, rows, ref):
    print(f"\n{label:>14} " + " ".join(f"{k:>28}" for k in KEYS) + "   steps  solve [s]")
    for name, (s, wall, steps) in rows:
        if s is None:
            print(f"{name:>14} {'Newton failed (time step below its minimum)':>60}  {wall:8.2f}")
            continue
        cells = " ".join(f"{s[k]:>16.5g} ({(s[k] / ref[k] - 1) * 100:+6.2f} %)" for k in KEYS)
        print(f"{name:>14} {cells}   {steps:>5}  {wall:8.2f}")


def main():
    run()  # warm-up: JIT compilation of the forms
    run(flux="lumped")
    walls = {f: [] for f in ["fitted", "lumped"]}
    for _ in range(5):  # alternate, so that machine noise hits both alike
        for f in walls:
            walls[f].append(run(flux=f)[1])
    for f, w in walls.items():
        print(
            f"default mesh, {f} flux: solve time median {statistics.median(w):.2f} s "
            f"(min {min(w):.2f}, max {max(w):.2f}) on {MPI.COMM_WORLD.size} rank(s)"
        )
    ratio = statistics.median(walls["fitted"]) / statistics.median(walls["lumped"])
    print(f"ratio fitted / lumped (medians): {ratio:.2f}")
    cells = [32, 64, 128, 256, 512]
    fluxes = ["fitted", "lumped"]
    study = {(f, n): run(sc_cells=n, flux=f) for f in fluxes for n in cells}
    ref = study[("fitted", 512)][0]
    table("flux / SC cells", [(f"{f} {n}", study[(f, n)]) for f in fluxes for n in cells], ref)
    factors = [1.0, 2.0, 4.0]
    runs = [(f"dt / {f:g}", run(time_factor=f)) for f in factors]
    table("time step", runs, runs[-1][1][0])
    rows = [(f"{f} x{k:g} current", run(flux=f, current_factor=k)) for f in fluxes for k in factors]
    table("robustness", rows, ref)


if __name__ == "__main__":
    main()
