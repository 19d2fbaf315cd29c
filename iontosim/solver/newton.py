"""Newton's method for the coupled electrodiffusion system.

A plain Newton loop rather than SNES because two things matter here that SNES does not offer
directly: rows of nearly absent species are tiny (the Jacobian scales with the concentration),
so each Newton system is equilibrated row by row before the LU; and the update is limited
in log-concentration, never in potential (an applied current shifts psi by hundreds of thermal
units at once, while exp() overshoots when a nearly absent species first arrives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from iontosim._fenics import MPI, PETSc, dolfinx

fem = dolfinx.fem
fem_petsc = dolfinx.fem.petsc


@dataclass
class NewtonResult:
    converged: bool
    iterations: int
    reason: str = ""


class NewtonSolver:
    """Solve F(u) = 0 in place for `u`, with Dirichlet `bcs`.

    `limit_update(step)` may modify the Newton update in place and returns its size for the
    convergence test (default: the largest absolute entry).
    """

    def __init__(self, residual, jacobian, u, bcs, *, linear_solver: str = "auto",
                 tol: float = 1e-6, max_iter: int = 25,
                 limit_update: Callable[[np.ndarray], float] | None = None,
                 options_prefix: str = "iontosim_newton_"):
        # residual and jacobian: one compiled form each, or matching lists of forms that add up
        self.residual = residual if isinstance(residual, list) else [residual]
        self.jacobian = jacobian if isinstance(jacobian, list) else [jacobian]
        self.u, self.bcs = u, bcs
        self.tol, self.max_iter, self.limit_update = tol, max_iter, limit_update
        comm = u.function_space.mesh.comm
        self.comm = comm
        self.A = fem_petsc.create_matrix(self.jacobian[0])
        self.b = fem_petsc.create_vector(u.function_space)
        self.scale = self.A.createVecLeft()
        self.column_scale = self.A.createVecRight()
        self.du = fem.Function(u.function_space)
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(options_prefix)
        self.ksp.setType("preonly")
        pc = self.ksp.getPC()
        pc.setType("lu")
        if linear_solver == "auto":
            # PETSc's own LU is serial only; on a banded 1D system it is ~5x faster than MUMPS.
            linear_solver = "petsc" if comm.size == 1 else "mumps"
        if linear_solver == "petsc" and comm.size > 1:
            raise ValueError("numerics.linear_solver: 'petsc' runs on one rank only; use mumps or auto")
        pc.setFactorSolverType(linear_solver)
        self.ksp.setFromOptions()

    def _assemble(self) -> None:
        A, b, u = self.A, self.b, self.u
        A.zeroEntries()
        # Dirichlet rows get their unit diagonal from the last form only: assembly *inserts* it.
        last = len(self.jacobian) - 1
        for k, jac in enumerate(self.jacobian):
            fem_petsc.assemble_matrix(A, jac, bcs=self.bcs, diag=1.0 if k == last else 0.0)
            A.assemble(PETSc.Mat.AssemblyType.FINAL if k == last else PETSc.Mat.AssemblyType.FLUSH)
        with b.localForm() as local:
            local.set(0.0)
        for res, jac in zip(self.residual, self.jacobian):
            fem_petsc.assemble_vector(b, res)
            fem_petsc.apply_lifting(b, [jac], [self.bcs], x0=[u.x.petsc_vec], alpha=-1.0)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(b, self.bcs, u.x.petsc_vec, -1.0)
        b.scale(-1.0)
        # Equilibrate rows by their largest entry: a species at the floor has rows ~1e-12 of the
        # others, and where it sits next to a loaded cell its diagonal is far below its coupling.
        indptr, _, values = A.getValuesCSR()
        row_max = np.maximum.reduceat(np.abs(values), indptr[:-1]) if len(values) else np.ones(0)
        row_max[np.diff(indptr) == 0] = 1.0
        self.scale.array[:] = 1.0 / np.where(row_max == 0.0, 1.0, row_max)
        # Then columns: a nearly absent species' unknown enters every row only through terms
        # ~c. Row scaling alone left condition numbers of ~1e17 where a strongly upwinded
        # stratum corneum separates the gel from the tissue; both together, ~1e9.
        _, columns, values = A.getValuesCSR()
        values = np.abs(values) * np.repeat(self.scale.array, np.diff(indptr))
        col_max = np.zeros(A.getSize()[1])
        np.maximum.at(col_max, columns, values)
        self.comm.Allreduce(MPI.IN_PLACE, col_max, op=MPI.MAX)
        lo, hi = A.getOwnershipRangeColumn()
        owned = col_max[lo:hi]
        self.column_scale.array[:] = 1.0 / np.where(owned == 0.0, 1.0, owned)
        A.diagonalScale(self.scale, self.column_scale)
        b.pointwiseMult(b, self.scale)

    def solve(self) -> NewtonResult:
        for iteration in range(1, self.max_iter + 1):
            self._assemble()
            self.ksp.setOperators(self.A)
            self.ksp.solve(self.b, self.du.x.petsc_vec)
            self.du.x.petsc_vec.pointwiseMult(self.du.x.petsc_vec, self.column_scale)
            if self.ksp.getConvergedReason() < 0:
                return NewtonResult(False, iteration, "linear solver failed")
            self.du.x.scatter_forward()
            step = self.du.x.array
            if not np.all(np.isfinite(step)):
                return NewtonResult(False, iteration, "non-finite update")
            if self.limit_update is not None:
                size = self.limit_update(step)
            else:
                size = np.max(np.abs(step), initial=0.0)
            self.u.x.array[:] += step
            self.u.x.scatter_forward()
            size = self.comm.allreduce(size, op=MPI.MAX)
            if size < self.tol:
                return NewtonResult(True, iteration)
        return NewtonResult(False, self.max_iter, "no convergence")

    def destroy(self) -> None:
        self.ksp.destroy()
        self.A.destroy()
        self.b.destroy()
        self.scale.destroy()
        self.column_scale.destroy()

