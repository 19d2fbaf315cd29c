"""A 3D patch of more than a million unknowns: time per step, iterations, memory, 2 ranks against 1.

    .venv/bin/python benchmarks/large_3d.py --ranks 1 2                 # resolution 1: ~1.5 M unknowns
    .venv/bin/python benchmarks/large_3d.py --ranks 1 --resolution 0.25 --seconds 0.1   # a quick look
    .venv/bin/python benchmarks/large_3d.py --ranks 1 2 --resolution 0.5 --seconds 0.001 --project 64
    .venv/bin/python benchmarks/large_3d.py --ranks 1 2 --weak --resolution 0.25 --seconds 0.001 --project 64

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

Strong scaling (default): every rank count on the block at `--resolution`; the efficiency is
t_ref K_ref / (t K). Weak scaling (`--weak`): the block's resolution grows with the rank count so
that its cells per rank stay those of `--resolution` on the first rank count (chosen from
Geometry.cell_count before meshing); the efficiency is t_ref / t. `--project K` then extrapolates
the time to K ranks geometrically from the last two rank counts measured, as if every further
doubling cost what the measured one did. That is a projection, not a measurement: it knows
nothing of a network between nodes, of memory bandwidth shared on a node, or of the coarse-grid
solves that dominate multigrid at many ranks.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
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
        sc = cut_scenario(seconds / 60.0, args.solver, "block")
        numerics = sc.numerics.model_copy(update={"reuse_preconditioner": args.reuse_preconditioner})
        return sc.model_copy(update={"numerics": numerics})

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
    parser.add_argument("--weak", action="store_true", help="weak scaling: cells per rank fixed")
    parser.add_argument("--project", type=int, default=0, help="extrapolate s/step to this many ranks")
    parser.add_argument("--reuse-preconditioner", action="store_true", help="numerics.reuse_preconditioner")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # set by main for the children
    args = parser.parse_args()
    if args.one:
        _one(args)
        return
    mpirun = Path(sys.executable).with_name("mpirun")
    resolutions = {k: args.resolution for k in args.ranks}
    if args.weak:
        cells = block_cells(args.resolution)
        resolutions = {k: resolution_for(cells * k / args.ranks[0], args.resolution) for k in args.ranks}
    scaling = "weak scaling, cells per rank those of" if args.weak else "strong scaling,"
    print(f"3D block, {scaling} resolution {args.resolution:g}, first {args.seconds:g} s of current, {args.solver}")
    print(
        f"{'ranks':>5} {'res':>6} {'unknowns':>10} {'mesh s':>7} {'solve s':>8} {'steps':>5} {'s/step':>7} "
        f"{'lin s/step':>10} "
        f"{'newton/step':>11} {'krylov/newton':>13} {'max':>4} {'peak GiB':>8} {'B/unknown':>9} {'time/ref':>8} "
        f"{'effic.':>6} {'dose-ref':>9}"
    )
    reference = None
    measured: list[tuple[int, float]] = []  # (ranks, s/step)
    for ranks in args.ranks:
        command = [
            str(mpirun),
            "-n",
            str(ranks),
            sys.executable,
            __file__,
            "--one",
            "--resolution",
            str(resolutions[ranks]),
            "--seconds",
            str(args.seconds),
            "--solver",
            args.solver,
        ] + (["--reuse-preconditioner"] if args.reuse_preconditioner else [])
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{ranks:>5} failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        reference = reference or r
        steps = max(r["steps"], 1)
        measured.append((ranks, r["wall_s"] / steps))
        ratio = r["wall_s"] / reference["wall_s"]
        efficiency = 1.0 / ratio if args.weak else reference["ranks"] / (ranks * ratio)
        print(
            f"{ranks:>5} {resolutions[ranks]:>6.3f} {r['unknowns']:>10d} {r['mesh_s']:>7.1f} {r['wall_s']:>8.1f} "
            f"{r['steps']:>5d} "
            f"{r['wall_s'] / steps:>7.2f} {r['linear_s'] / steps:>10.2f} {r['newton_per_step']:>11.2f} "
            f"{r['krylov_mean']:>13.1f} {r['krylov_max']:>4d} {r['peak_memory_GiB']:>8.2f} "
            f"{r['peak_memory_GiB'] * 2**30 / r['unknowns']:>9.0f} {ratio:>8.2f} "
            f"{efficiency:>6.2f} {r['dose'] / reference['dose'] - 1:>9.1e}",
            flush=True,
        )
    if args.project and len(measured) >= 2:
        (k0, t0), (k1, t1) = measured[-2:]
        per_doubling = (t1 / t0) ** (1.0 / math.log2(k1 / k0))
        t = t1 * per_doubling ** math.log2(args.project / k1)
        first_k, first_t = measured[0]
        efficiency = first_t / t if args.weak else first_t * first_k / (t * args.project)
        print(
            f"projection to {args.project} ranks (not measured: every doubling as {k0} -> {k1}, "
            f"x{per_doubling:.2f} in s/step): {t:.3g} s/step, efficiency {efficiency:.2f}"
        )


@functools.cache
def _block_parts() -> tuple[list[tuple[str, float]], float, float]:
    """(skin layers, donor thickness, return pad thickness) of the benchmark's scenario."""
    sys.path.insert(0, str(HERE))
    from linear_solvers import scenario as cut_scenario

    base = cut_scenario(1.0, "gmres_gamg", "block")
    layers = [(layer.name, layer.thickness) for layer in base.skin]
    return layers, base.donor.thickness, base.return_electrode.thickness if base.return_electrode else 0.0


def block_cells(resolution: float) -> int:
    """Cells of the benchmark's block at `resolution` (Geometry.cell_count, nothing meshed)."""
    from linear_solvers import geometry

    layers, donor, pad = _block_parts()
    return geometry("block", resolution, 1e-3).cell_count(layers, donor, pad)


def resolution_for(cells: float, start: float) -> float:
    """The resolution from `start` up whose block's cell count is closest to `cells` (the count
    grows with the resolution in jumps, whole cells in each direction, so a bisection to the
    first resolution past `cells` can overshoot by a third): a scan in steps of 0.2 %."""
    candidates = start * 1.002 ** np.arange(int(math.log(cells / block_cells(start)) / math.log(1.002)) + 400)
    return float(min(candidates, key=lambda r: abs(math.log(block_cells(r) / cells))))


if __name__ == "__main__":
    main()
