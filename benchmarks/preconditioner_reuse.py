"""Reusing gmres_gamg's preconditioner across Newton iterations and steps, against a new one each time.

    .venv/bin/python benchmarks/preconditioner_reuse.py --resolution 0.25 --seconds 0.1
    .venv/bin/mpirun -n 2 .venv/bin/python benchmarks/preconditioner_reuse.py --resolution 0.25 --seconds 0.01

The 3D block of benchmarks/large_3d.py (the default scenario's 2D variant on a quarter patch,
gmres_gamg), its protocol cut to the first `--seconds` of current, solved with
numerics.reuse_preconditioner off and on, alternating `--repeats` times in this one process (so
that the machine's load bears on both alike; the forms are compiled first on a small block).
Printed per run: wall time, time steps, Newton and Krylov iterations, preconditioner set-ups,
solves with a reused preconditioner, and the delivered dose and voltage at the end (the two
settings must agree to the Krylov tolerance); then the ratio of the medians, reuse / new.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from mpi4py import MPI

import iontosim.simulation as simulation
from iontosim.mesh.skin_mesh import build_skin_mesh
from iontosim.solver import newton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from linear_solvers import geometry  # noqa: E402
from linear_solvers import scenario as cut_scenario  # noqa: E402


class _Keeping(newton.PotentialSplit):
    """A potential split that remembers the last one made (its counters outlive the run)."""

    last: newton.PotentialSplit | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Keeping.last = self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=float, default=0.25, help="Geometry.resolution of the block")
    parser.add_argument("--seconds", type=float, default=0.1, help="seconds of current simulated")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)

    def scenario(reuse: bool, seconds: float):
        sc = cut_scenario(seconds / 60.0, "gmres_gamg", "block")
        return sc.model_copy(update={"numerics": sc.numerics.model_copy(update={"reuse_preconditioner": reuse})})

    base = scenario(False, 1.0)
    layers = [(layer.name, layer.thickness) for layer in base.skin]
    pad = base.return_electrode.thickness if base.return_electrode else 0.0

    def mesh(resolution: float):
        return build_skin_mesh(comm, layers, base.donor.thickness, geometry("block", resolution, 1e-3), pad)

    newton.PotentialSplit = _Keeping  # type: ignore[misc]
    simulation.simulate(scenario(False, 0.01), comm, skin_mesh=mesh(0.125))  # compiles the forms
    say(f"3D block, resolution {args.resolution:g}, first {args.seconds:g} s of current, {comm.size} rank(s)")
    walls: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for reuse in (False, True):
            skin_mesh = mesh(args.resolution)
            comm.Barrier()
            start = time.perf_counter()
            record = simulation.simulate(scenario(reuse, args.seconds), comm, skin_mesh=skin_mesh)
            wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            walls[reuse].append(wall)
            split = _Keeping.last
            assert split is not None
            effort = record.solver
            say(
                f"reuse {'on ' if reuse else 'off'}: {wall:7.1f} s, {len(record.times) - 1} steps, "
                f"{effort['unknowns']} unknowns, Newton {effort['newton_iterations']}, "
                f"Krylov {effort['krylov_iterations']}, set-ups {split.rebuilds}, reused {split.lagged_solves}, "
                f"dose {record.series[f'delivered/{base.drug}'][-1]:.12e} mol/m^2, "
                f"voltage {record.series['voltage'][-1]:.10e} V",
                flush=True,
            )
    ratio = statistics.median(walls[True]) / statistics.median(walls[False])
    say(f"wall time, reuse / new preconditioner (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
