"""A 3D patch of more than a million unknowns: time per step, iterations, memory, 2 ranks against 1.

    .venv/bin/python benchmarks/large_3d.py --ranks 1 2                 # resolution 1: ~1.5 M unknowns
    .venv/bin/python benchmarks/large_3d.py --ranks 1 --resolution 0.25 --seconds 0.1   # a quick look

The default scenario's 2D variant (iontosim/scenarios/lidocaine_epinephrine_2d.yaml: LidoSite-like lidocaine
with epinephrine, a saline return pad) on a 3D block: a quarter patch with a square anode of side
1 mm and a return strip 1 mm wide at a 1 mm gap, the whole 3 mm wide, cells graded toward the
stratum corneum and the electrode edges (Geometry.resolution scales every cell size). The protocol
is cut to its first `--seconds` of current; numerics.linear_solver is `--solver` (gmres_gamg:
what "auto" chooses in 3D above 20 000 unknowns).

Each rank count runs in its own `mpirun -n K` process, one after the other, in this one command
(the machine's load then bears on both alike); the first is the reference of the ratio. Printed
per rank count: global unknowns, mesh build time, the solve's wall time (form compilation
excluded by a warm-up on a small mesh), time steps, wall time per step, Newton iterations per
step, Krylov iterations per Newton iteration (mean and largest), peak resident memory summed over
the ranks and per unknown, and the wall-time ratio to the reference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

HERE = Path(__file__).resolve().parent


def _one(args) -> None:
    """The measurement on this process's ranks (run under mpirun by main)."""
    import iontosim.simulation as simulation
    from iontosim.mesh.skin_mesh import build_skin_mesh

    sys.path.insert(0, str(HERE))
    # the same block, scenario and Krylov bookkeeping as the linear-solver benchmark
    from linear_solvers import Recording, geometry
    from linear_solvers import scenario as cut_scenario

    comm = MPI.COMM_WORLD

    def scenario(seconds: float):
        return cut_scenario(seconds / 60.0, args.solver, "block")

    base = scenario(1.0)
    layers = [(layer.name, layer.thickness) for layer in base.skin]

    def mesh_at(resolution: float):
        return build_skin_mesh(
            comm,
            layers,
            base.donor.thickness,
            geometry("block", resolution, 1e-3),
            return_thickness=base.return_electrode.thickness,
        )

    simulation.NewtonSolver = Recording
    simulation.simulate(scenario(0.01), comm, skin_mesh=mesh_at(0.125))  # compiles the forms
    comm.Barrier()
    start = time.perf_counter()
    mesh = mesh_at(args.resolution)
    comm.Barrier()
    built = time.perf_counter() - start
    Recording.runs.clear()
    start = time.perf_counter()
    record = simulation.simulate(scenario(args.seconds), comm, skin_mesh=mesh)
    comm.Barrier()
    wall = time.perf_counter() - start
    newton = Recording.runs[0]  # the patch's (the return-electrode column comes after)
    krylov = np.array(newton.krylov)
    steps = len(record.times) - 1
    peak_kib = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, op=MPI.SUM)
    out = {
        "ranks": comm.size,
        "unknowns": newton.unknowns,
        "mesh_s": built,
        "wall_s": wall,
        "steps": steps,
        "newton_per_step": sum(r.iterations for r in newton.results) / max(steps, 1),
        "failed": sum(not r.converged for r in newton.results),
        "krylov_mean": float(krylov.mean()) if krylov.size else 0.0,
        "krylov_max": int(krylov.max(initial=0)),
        "linear_s": comm.allreduce(newton.linear_seconds, op=MPI.MAX),
        "peak_memory_GiB": peak_kib / 2**20,
        "dose": float(record.series[f"delivered/{base.drug}"][-1]),
    }
    if comm.rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="rank counts; the first is the reference")
    parser.add_argument("--resolution", type=float, default=1.0, help="Geometry.resolution of the block")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds of current simulated")
    parser.add_argument("--solver", default="gmres_gamg", help="numerics.linear_solver")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # set by main for the children
    args = parser.parse_args()
    if args.one:
        _one(args)
        return
    mpirun = Path(sys.executable).with_name("mpirun")
    print(f"3D block, resolution {args.resolution:g}, first {args.seconds:g} s of current, {args.solver}")
    print(
        f"{'ranks':>5} {'unknowns':>10} {'mesh s':>7} {'solve s':>8} {'steps':>5} {'s/step':>7} {'lin s/step':>10} "
        f"{'newton/step':>11} {'krylov/newton':>13} {'max':>4} {'peak GiB':>8} {'B/unknown':>9} {'time/ref':>8} "
        f"{'dose-ref':>9}"
    )
    reference = None
    for ranks in args.ranks:
        command = [
            str(mpirun),
            "-n",
            str(ranks),
            sys.executable,
            __file__,
            "--one",
            "--resolution",
            str(args.resolution),
            "--seconds",
            str(args.seconds),
            "--solver",
            args.solver,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{ranks:>5} failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        reference = reference or r
        steps = max(r["steps"], 1)
        print(
            f"{ranks:>5} {r['unknowns']:>10d} {r['mesh_s']:>7.1f} {r['wall_s']:>8.1f} {r['steps']:>5d} "
            f"{r['wall_s'] / steps:>7.2f} {r['linear_s'] / steps:>10.2f} {r['newton_per_step']:>11.2f} "
            f"{r['krylov_mean']:>13.1f} {r['krylov_max']:>4d} {r['peak_memory_GiB']:>8.2f} "
            f"{r['peak_memory_GiB'] * 2**30 / r['unknowns']:>9.0f} {r['wall_s'] / reference['wall_s']:>8.2f} "
            f"{r['dose'] / reference['dose'] - 1:>9.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
