"""Linear solvers of the Newton steps against mesh refinement: direct LU and the Krylov choices.

    .venv/bin/python benchmarks/linear_solvers.py                       # planar, resolutions 1 2 4
    .venv/bin/python benchmarks/linear_solvers.py --kind block --resolutions 0.5 1
    .venv/bin/mpirun -n 2 .venv/bin/python benchmarks/linear_solvers.py --solvers mumps gmres_gamg

Runs the default scenario (iontosim/scenarios/lidocaine_epinephrine.yaml) on a 2D (or 3D) skin mesh at each
resolution (Geometry.resolution: cells that many times smaller everywhere) with each solver
(numerics.linear_solver), the protocol cut to its first `--minutes` of current. Prints per run:
global unknowns, time steps, Newton iterations per step, Krylov iterations per Newton iteration
(mean and largest), wall time per step and in the linear solves (assembly excluded), and the
wall-time ratio to the first solver of the list on the same mesh (the reference), with the
relative difference of its delivered dose from the reference's.

planar (2D section), axisymmetric and block (3D quarter patch): an anode `--width` wide (its radius
when axisymmetric), a return strip as wide as it 1 mm beside it, the patch 3 widths wide; the default
scenario's 2D variant (a saline return pad). strip: a laterally uniform strip (anode over the
whole width, the deep tissue as the return), the 1D column's problem in 2D, which the mesher
gives a cell or two across since 2026-12-07 (before, it refined toward the lateral wall as toward
an electrode edge: the "Linear solvers" figures of 2026-11-27 in RESULTS.md were taken on that
mesh, then named planar).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mpi4py import MPI

import iontosim.simulation as simulation
from iontosim.mesh.geometry import Geometry
from iontosim.mesh.skin_mesh import build_skin_mesh
from iontosim.scenario.catalogue import SCENARIOS_DIR
from iontosim.scenario.load import load_scenario
from iontosim.solver.newton import NewtonSolver

CONFIGS = SCENARIOS_DIR
CONFIG = CONFIGS / "lidocaine_epinephrine.yaml"
#: the default scenario with a saline return pad beside the anode (for meshes with a return electrode)
CONFIG_RETURN = CONFIGS / "lidocaine_epinephrine_2d.yaml"


class Recording(NewtonSolver):
    """NewtonSolver that keeps, per Newton iteration, its Krylov iterations and linear-solve time."""

    runs: list[Recording] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unknowns = self.A.getSize()[0]
        self.krylov: list[int] = []
        self.linear_seconds = 0.0
        self.results = []
        Recording.runs.append(self)

    def _linear_solve(self):
        start = time.perf_counter()
        iterations, reason = super()._linear_solve()
        self.linear_seconds += time.perf_counter() - start
        self.krylov.append(iterations)
        return iterations, reason

    def solve(self):
        result = super().solve()
        self.results.append(result)
        return result


def scenario(minutes: float, solver: str, kind: str = "planar"):
    sc = load_scenario(CONFIG if kind == "strip" else CONFIG_RETURN)
    first = sc.protocol[0].model_copy(update={"duration": 60.0 * minutes})
    return sc.model_copy(
        update={
            "protocol": [first],
            "outputs": sc.outputs.model_copy(update={"profile_times": []}),
            "numerics": sc.numerics.model_copy(update={"linear_solver": solver}),
        }
    )


def geometry(kind: str, resolution: float, width: float) -> Geometry:
    if kind == "strip":
        return Geometry(kind="planar", width=width, anode_width=2 * width, resolution=resolution)
    # a square anode of side `width`, a return strip as wide 1 mm beside it, the patch 3 widths wide
    return Geometry(
        kind=kind, width=3 * width, anode_width=width, return_gap=1e-3, return_width=width, resolution=resolution
    )


def run(sc, comm, mesh) -> dict:
    Recording.runs.clear()
    start = time.perf_counter()
    try:
        record = simulation.simulate(sc, comm, skin_mesh=mesh)
    except simulation.SimulationError as err:
        return {"error": str(err), "wall": time.perf_counter() - start}
    wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    newton = Recording.runs[0]  # the patch's solver (a return-electrode column comes after)
    steps = len(record.times) - 1
    iterations = sum(r.iterations for r in newton.results)
    krylov = np.array(newton.krylov)
    return {
        "unknowns": newton.unknowns,
        "solver": newton.linear_solver,
        "steps": steps,
        "failed": sum(not r.converged for r in newton.results),
        "newton": iterations / max(len(newton.results), 1),
        "krylov_mean": krylov.mean() if krylov.size else 0.0,
        "krylov_max": int(krylov.max(initial=0)),
        "wall": wall,
        "linear": comm.allreduce(newton.linear_seconds, op=MPI.MAX),
        "dose": float(record.series[f"delivered/{sc.drug}"][-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="planar", choices=["planar", "strip", "block", "axisymmetric"])
    parser.add_argument("--resolutions", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument(
        "--solvers",
        nargs="+",
        default=["petsc", "mumps", "gmres_gamg", "gmres_asm"],
        help="numerics.linear_solver values; the first is the reference",
    )
    parser.add_argument("--minutes", type=float, default=1.0, help="minutes of current simulated")
    parser.add_argument("--width", type=float, default=1e-3, help="lateral extent of the patch (m)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    simulation.NewtonSolver = Recording
    solvers = [s for s in args.solvers if not (s == "petsc" and comm.size > 1)]
    sc0 = scenario(args.minutes, solvers[0], args.kind)
    pad = sc0.return_electrode.thickness if sc0.return_electrode is not None else 0.0

    def mesh_at(resolution: float):
        return build_skin_mesh(
            comm, layers, sc0.donor.thickness, geometry(args.kind, resolution, args.width), return_thickness=pad
        )

    layers = [(layer.name, layer.thickness) for layer in sc0.skin]
    say(f"default scenario, first {args.minutes:g} min of current, {args.kind} mesh, {comm.size} rank(s)")
    # warm-up: compiles the forms, so that no run below pays for it
    try:
        simulation.simulate(scenario(1.0 / 60.0, solvers[0], args.kind), comm, skin_mesh=mesh_at(min(args.resolutions)))
    except (ValueError, NotImplementedError) as err:
        say(f"simulate refuses this mesh: {err}")
        return
    header = (
        f"{'res':>4} {'unknowns':>9} {'solver':>12} {'steps':>5} {'fail':>4} {'newton/step':>11} "
        f"{'krylov/newton':>13} {'max':>4} {'s/step':>7} {'lin s/step':>10} {'time/ref':>8} {'dose-ref':>9}"
    )
    say(header)
    for resolution in args.resolutions:
        mesh = mesh_at(resolution)
        reference = None
        for solver in solvers:
            r = run(scenario(args.minutes, solver, args.kind), comm, mesh)
            if "error" in r:
                say(f"{resolution:>4g} {'':>9} {solver:>12} failed after {r['wall']:.1f} s: {r['error']}")
                continue
            reference = reference or r
            steps = max(r["steps"], 1)
            say(
                f"{resolution:>4g} {r['unknowns']:>9d} {solver:>12} {r['steps']:>5d} {r['failed']:>4d} "
                f"{r['newton']:>11.2f} {r['krylov_mean']:>13.1f} {r['krylov_max']:>4d} {r['wall'] / steps:>7.3f} "
                f"{r['linear'] / steps:>10.3f} {r['wall'] / reference['wall']:>8.2f} "
                f"{r['dose'] / reference['dose'] - 1:>9.1e}"
            )


if __name__ == "__main__":
    main()
