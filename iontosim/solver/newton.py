"""Newton's method for the coupled electrodiffusion system.

A plain Newton loop rather than SNES because two things matter here that SNES does not offer
directly: rows of nearly absent species are tiny (the Jacobian scales with the concentration),
so each Newton system is equilibrated before the linear solve; and the update is limited in
log-concentration, never in potential (an applied current shifts psi by hundreds of thermal
units at once, while exp() overshoots when a nearly absent species first arrives).

Linear solvers (numerics.linear_solver; iontosim.scenario.schema.Numerics says when to use which;
measurements in benchmarks/RESULTS.md, "Linear solvers"):

- direct LU: "petsc" (PETSc's own, one rank), "mumps", "superlu_dist"; each Newton system is
  equilibrated by rows, then columns, by their largest entries (unchanged by the Krylov work);
- "gmres_gamg": the potential split below, GMRES with algebraic multigrid (GAMG) in two stages;
- "gmres_asm": the same reduced system, GMRES with additive Schwarz / ILU(0) (overlap 1): no
  multigrid set-up, but its iterations grow as the mesh is refined. (ASM on the equilibrated
  mixed system, the obvious fallback, failed on the first time step.)

The potential split. The unknowns are mu_i (P1, one per species) and psi (DG1), and psi is fixed
by electroneutrality evaluated at the vertices, with no derivative: the psi block of the
Jacobian is exactly diagonal. So psi is eliminated exactly,

    S = A_mm - A_mp diag(A_pp)^-1 A_pm,

and S (the species alone, ns unknowns per vertex) is what GMRES solves; psi follows from its
rows. (PETSc's field split does the same elimination, "selfp" being exact here, but GAMG on S as
it stands never converged in 300 iterations.) S is not fit for AMG: shifting all mu_i by z_i t
(and psi by t) leaves every concentration unchanged (the potential's gauge), so at each vertex S
is nearly singular in the direction z: storage (~c/dt) does not see it, only the conductance
does (in the default scenario the smallest singular values of S, 2e-8 of the largest, all belong
to this mode). Point smoothers cannot reduce it and aggregation does not represent it. Hence a
change of variables at every vertex, S' = R^T S R: with k the vertex's most abundant charged
species, the new unknown k is the amplitude of the gauge mode (column k of R is z), and row k
becomes sum_i z_i (row i), the conservation of charge, in which storage cancels and the
conductance (a Laplacian) is left. S' is scaled symmetrically by its diagonal, which keeps it
close to symmetric (the row-and-column maxima of the LU path gave GAMG 46 iterations on that
Laplacian, the symmetric scaling 11), and stored without its zero entries.

The preconditioner is multiplicative in two stages: GAMG on the whole of S' (one node per
vertex, block size ns, plain aggregation, ILU smoothing; near-null space: each species' constant
mu mapped through R and the scaling), then GAMG with smoothed aggregation on the gauge block
alone (the charge rows' Laplacian), on the residual the first stage leaves. Either alone grew
with refinement (15 -> 23 Krylov iterations from resolution 1 to 2, or failed); together ~4.

The charges z are read off the Jacobian: every residual is invariant under the gauge shift.

Reuse (numerics.reuse_preconditioner): the preconditioner, with the change of variables R and
the scaling it was built in (k per vertex, D), is kept across Newton iterations and time steps;
each Newton iteration still forms its own S and S' = D R^T S R D (so GMRES solves the true
system: the answers are the same to the Krylov tolerance), and the preconditioner is built anew
when a solve needs more than twice the iterations of the first solve with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from iontosim._fenics import MPI, PETSc, dolfinx

fem = dolfinx.fem
fem_petsc = dolfinx.fem.petsc

DIRECT_SOLVERS = ("petsc", "mumps", "superlu_dist")
ITERATIVE_SOLVERS = ("gmres_gamg", "gmres_asm")
#: What "auto" picks above the direct-solver limit (benchmarks/RESULTS.md).
BEST_ITERATIVE = "gmres_gamg"
#: Global unknowns up to which "auto" factorizes, by mesh dimension (numerics.direct_solver_limit
#: unset); benchmarks/RESULTS.md, "Linear solvers". 1D: a banded LU is O(N), never worse. 2D:
#: MUMPS was faster than gmres_gamg at every size measured (gamg 1.2x its time at 28 000 and
#: 103 000 unknowns), so LU is kept well beyond. 3D: gmres_gamg took 0.72x MUMPS's time already
#: at 23 000 unknowns.
DIRECT_SOLVER_LIMITS = {1: 10**12, 2: 200_000, 3: 20_000}
#: Relative residual reduction asked of each Krylov solve (numerics.krylov_rtol unset). Newton
#: stops on the size of its update, so an inexact update must not look converged: with these,
#: both gave the LU run's time steps and delivered dose to 1e-10 (RESULTS.md); gmres_asm at 1e-8
#: and 1e-10 took other steps and was 2e-4 and 5e-5 off.
KRYLOV_RTOL = {"gmres_gamg": 1e-8, "gmres_asm": 1e-11}
#: Krylov iterations after which a solve counts as failed (numerics.krylov_max_iter)
KRYLOV_MAX_ITER = 200

#: AMG of the potential split ("gmres_gamg"): each setting can be overridden in the PETSc
#: options database with the solver's prefix, e.g. -iontosim_newton_species_sub_0_pc_gamg_threshold.
#: First stage, the whole species system (one node per vertex): plain aggregation (smoothed
#: aggregation failed on ~1 in 5 systems: the operator is far from symmetric), graph edges below
#: 2 % dropped (the stratum corneum's cells are ~30x wider than deep and its conductance ~1e-5 of
#: its neighbours': aggregates must not cross it), no aggressive coarsening, V-cycles (W-cycles
#: saved 10 % of the iterations and cost 35 % more time), ILU(0) smoothing (Chebyshev/Jacobi and
#: SOR diverged: the species of a vertex stay strongly coupled), within additive Schwarz with
#: overlap 1 on several ranks (block Jacobi there doubled the iterations on 2 ranks).
AMG_OPTIONS = {
    "pc_gamg_agg_nsmooths": "0",
    "pc_gamg_threshold": "0.02",
    "pc_gamg_aggressive_coarsening": "0",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_pc_type": "asm",
    "mg_levels_sub_pc_type": "ilu",
}
#: Second stage, the gauge block alone: smoothed aggregation (its iterations stayed at 4-5 on
#: both meshes where plain aggregation needed 9-17), edges below 5 % dropped, the same smoothing.
POTENTIAL_AMG_OPTIONS = {
    "pc_gamg_threshold": "0.05",
    "pc_gamg_aggressive_coarsening": "0",
    "pc_mg_cycle_type": "w",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_pc_type": "asm",
    "mg_levels_sub_pc_type": "ilu",
}
#: ... but in 3D its coarse levels fill in: operator complexity 10.7 at 88 000 unknowns and 15.6
#: at 302 000 on the 3D block of benchmarks/large_3d.py, so that a W-cycle cost 40 % of a Newton
#: iteration. One aggressive coarsening and V-cycles there: complexity 5.0 and 7.4, Krylov
#: iterations 24 -> 27 and 39 -> 34, a first time step in 0.65x and 0.61x the time (RESULTS.md,
#: "The 3D gauge hierarchy"). In 2D they raised the iterations' growth under refinement (3.2 ->
#: 3.8 became 4.6 -> 6.3), so 2D keeps the above. With one aggressive level the Galerkin products
#: of levels 1-3 still grew faster than the mesh (PETSc's log: 0.5 s at 88 000 unknowns, 16 s at
#: 725 000), and the linear solves with them (79x the time for 18x the unknowns up to 1.59 M).
#: Three aggressive levels: the first step in 0.73x the time at 725 000 unknowns, Krylov
#: iterations unchanged (RESULTS.md, "Where a 3D step's time and memory go").
POTENTIAL_AMG_OPTIONS_3D = POTENTIAL_AMG_OPTIONS | {"pc_gamg_aggressive_coarsening": "3", "pc_mg_cycle_type": "v"}
#: numerics.reuse_preconditioner: a preconditioner kept from an earlier Newton iteration or step
#: may take REUSE_GROWTH times the Krylov iterations of its first solve, and at least REUSE_SLACK
#: more, before it is rebuilt (and that solve done again)
REUSE_GROWTH = 2.0
REUSE_SLACK = 4
#: options database keys we set, with the value: a key is ours while it still holds that value
_DEFAULTED: dict[str, str] = {}


def choose_linear_solver(choice: str, unknowns: int, ranks: int, direct_limit: int | None = None, dim: int = 1) -> str:
    """The linear solver a Newton solve uses: `choice` itself unless it is "auto"; `dim` is the
    mesh's topological dimension, `direct_limit` None the default limit of that dimension."""
    if choice == "petsc" and ranks > 1:
        raise ValueError("numerics.linear_solver: 'petsc' runs on one rank only; use mumps or auto")
    if choice in DIRECT_SOLVERS or choice in ITERATIVE_SOLVERS:
        return choice
    if choice != "auto":
        raise ValueError(f"numerics.linear_solver: unknown choice {choice!r}")
    if unknowns > (direct_limit if direct_limit is not None else DIRECT_SOLVER_LIMITS[dim]):
        return BEST_ITERATIVE
    # PETSc's own LU is serial only; on a banded 1D system it is ~5x faster than MUMPS. On a 2D
    # patch MUMPS took half its time from 28 000 unknowns up (RESULTS.md).
    return "petsc" if ranks == 1 and dim == 1 else "mumps"


class GlobalUnknowns:
    """Scalar unknowns g beside the fields u, with one equation G_k(u, g) = 0 each: a stirred
    compartment's composition, an electrode's potential (physics/term.py).

    They are solved with the fields by bordering (block elimination): with J the fields' Jacobian
    (Dirichlet rows included), B = dF/dg (one column per unknown), C = dG/du (one row per unknown)
    and D = dG/dg, the Newton system [J B; C D] [du; dg] = -[F; G] is

        x = J^-1 (-F),   Y = J^-1 B,   (D - C Y) dg = -G - C x,   du = x - Y dg,

    which reuses the fields' factorization (or preconditioner) for the few extra right-hand sides,
    and needs no change to the fields' sparse matrix. A field row tied to an unknown (a Dirichlet
    dof whose value is g, as the bottom of a skin over a stirred receptor) has -1 in B: its
    equation u + du = g + dg. The values are the same on every rank.
    """

    size: int = 0

    def equations(self) -> np.ndarray:
        """G at the present state, length `size`."""
        raise NotImplementedError

    def coupling(self) -> tuple[list[PETSc.Vec], list[PETSc.Vec], np.ndarray]:
        """(B columns, C rows, D) at the present state: PETSc vectors of the fields' layout, and D
        of shape (size, size)."""
        raise NotImplementedError

    def update(self, delta: np.ndarray) -> float:
        """Add the Newton update `delta` (may damp it); return its size for the convergence test."""
        raise NotImplementedError

    def keep(self) -> None:
        """Remember the values at the start of a step (the previous time level)."""

    def revert(self) -> None:
        """Go back to the values `keep` remembered (a rejected step)."""


@dataclass
class NewtonResult:
    converged: bool
    iterations: int
    reason: str = ""
    #: Krylov iterations summed over the Newton iterations of this solve (0 with a direct solver)
    linear_iterations: int = 0


class NewtonSolver:
    """Solve F(u) = 0 in place for `u`, with Dirichlet `bcs`.

    `limit_update(step)` may modify the Newton update in place and returns its size for the
    convergence test (default: the largest absolute entry).

    "gmres_gamg" assumes the layout of iontosim.model: every sub-space of `u` but the last is a
    P1 species field, the last one is the potential, fixed by a pointwise constraint.
    `krylov_rtol` is the relative residual reduction asked of the Krylov solvers, `krylov_max_iter`
    the iterations after which a Krylov solve counts as failed (the Newton solve then fails, and
    the time step is retried shorter).
    """

    def __init__(
        self,
        residual,
        jacobian,
        u,
        bcs,
        *,
        linear_solver: str = "auto",
        direct_solver_limit: int | None = None,
        krylov_rtol: float | None = None,
        krylov_max_iter: int = KRYLOV_MAX_ITER,
        tol: float = 1e-6,
        max_iter: int = 25,
        limit_update: Callable[[np.ndarray], float] | None = None,
        options_prefix: str = "iontosim_newton_",
        global_unknowns: list[GlobalUnknowns] | None = None,
        reuse_preconditioner: bool = False,
    ):
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
        self.globals = list(global_unknowns or [])
        #: every unknown: the fields' and the scalar ones
        self.unknowns = int(self.A.getSize()[0]) + sum(g.size for g in self.globals)
        self.linear_solver = choose_linear_solver(
            linear_solver, self.A.getSize()[0], comm.size, direct_solver_limit, u.function_space.mesh.topology.dim
        )
        self.iterative = self.linear_solver in ITERATIVE_SOLVERS
        self.split = None
        #: store only the Jacobian's nonzeros (_compress): on 2D/3D meshes, where a cell's
        #: diagonal neighbours share no edge; a 1D column's pattern has no such zeros. Not with
        #: PETSc's own LU: on the compressed matrix of a 2D patch it took 37x the time (150 s
        #: against 4 s for 86 Newton iterations; the cause not found), where MUMPS took 4 s.
        self.compress = u.function_space.mesh.topology.dim > 1 and self.linear_solver != "petsc"
        #: entries stored in the compressed Jacobian (None: not compressed yet)
        self._stored: int | None = None
        if self.iterative:
            rtol = krylov_rtol if krylov_rtol is not None else KRYLOV_RTOL[self.linear_solver]
            self.split = PotentialSplit(
                u.function_space,
                rtol,
                krylov_max_iter,
                options_prefix + "species_",
                multigrid=self.linear_solver == "gmres_gamg",
                reuse=reuse_preconditioner,
            )
            return
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(options_prefix)
        self.ksp.setType("preonly")
        pc = self.ksp.getPC()
        pc.setType("lu")
        pc.setFactorSolverType(self.linear_solver)
        self.ksp.setFromOptions()

    def _assemble_matrix(self) -> None:
        A = self.A
        A.zeroEntries()
        # Dirichlet rows get their unit diagonal from the last form only: assembly *inserts* it.
        last = len(self.jacobian) - 1
        for k, jac in enumerate(self.jacobian):
            fem_petsc.assemble_matrix(A, jac, bcs=self.bcs, diag=1.0 if k == last else 0.0)
            A.assemble(PETSc.Mat.AssemblyType.FINAL if k == last else PETSc.Mat.AssemblyType.FLUSH)

    def _compress(self) -> None:
        """Drop the Jacobian's zero entries from its pattern, once (2D and 3D meshes).

        The form's pattern couples every pair of dofs of a cell, but the fluxes run along edges
        and the rest is lumped at the vertices: on hexahedra 81 % of the stored entries are zero
        (a cell's diagonal neighbours share no edge). Every matrix the potential split forms
        inherits the pattern, and a direct solver's fill follows it. Later zero values are not
        stored (IGNORE_ZERO_ENTRIES); a value where the first Jacobian had a zero is added to the
        pattern (allowed, and the split told).
        """
        A = self.A
        compressed = _without_zeros(A, keep_diagonal=True, row_by_row=True)
        compressed.setLGMap(*A.getLGMap())
        compressed.setOption(PETSc.Mat.Option.IGNORE_ZERO_ENTRIES, True)
        compressed.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
        A.destroy()
        self.A = compressed
        self._stored = self._stored_entries()

    def _stored_entries(self) -> int:
        return int(self.comm.allreduce(self.A.getInfo()["nz_used"], op=MPI.SUM))

    def _assemble(self) -> None:
        self._assemble_matrix()
        if self.compress:
            if self._stored is None:
                self._compress()  # the copy holds this assembly's values
            elif (stored := self._stored_entries()) != self._stored:  # new entries: the split's patterns are stale
                self._stored = stored
                if self.split is not None:
                    self.split.forget_patterns()
        A, b, u = self.A, self.b, self.u
        with b.localForm() as local:
            local.set(0.0)
        for res, jac in zip(self.residual, self.jacobian):
            fem_petsc.assemble_vector(b, res)
            fem_petsc.apply_lifting(b, [jac], [self.bcs], x0=[u.x.petsc_vec], alpha=-1.0)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(b, self.bcs, u.x.petsc_vec, -1.0)
        b.scale(-1.0)
        if self.split is not None:
            return  # it scales the system it solves (see PotentialSplit)
        # Equilibrate rows by their largest entry: a species at the floor has rows ~1e-12 of the
        # others, and where it sits next to a loaded cell its diagonal is far below its coupling.
        indptr, _, values = A.getValuesCSR()
        row_max = np.maximum.reduceat(np.abs(values), indptr[:-1]) if len(values) else np.ones(0)
        row_max[(np.diff(indptr) == 0) | (row_max == 0.0)] = 1.0
        # a subnormal row maximum (strong fields) would overflow 1/row_max: the smallest normal
        # float keeps the scale finite; a non-finite entry is left to fail the step (below)
        row_max = np.maximum(row_max, np.finfo(float).tiny)
        self.scale.array[:] = 1.0 / row_max
        # Then columns: a nearly absent species' unknown enters every row only through terms
        # ~c. Row scaling alone left condition numbers of ~1e17 where a strongly upwinded
        # stratum corneum separates the gel from the tissue; both together, ~1e9.
        _, columns, values = A.getValuesCSR()
        with np.errstate(invalid="ignore"):  # inf * 0 where the matrix is not finite: NaN, failing the step
            values = np.abs(values) * np.repeat(self.scale.array, np.diff(indptr))  # each about 1 at most
        col_max = np.zeros(A.getSize()[1])
        np.maximum.at(col_max, columns, values)
        self.comm.Allreduce(MPI.IN_PLACE, col_max, op=MPI.MAX)
        lo, hi = A.getOwnershipRangeColumn()
        owned = col_max[lo:hi]
        self.column_scale.array[:] = 1.0 / np.where(owned == 0.0, 1.0, np.maximum(owned, np.finfo(float).tiny))
        A.diagonalScale(self.scale, self.column_scale)
        b.pointwiseMult(b, self.scale)

    def _linear_solve(self) -> tuple[int, int]:
        """Solve the assembled system for the (unscaled) update du, and the scalar unknowns' update
        by bordering (GlobalUnknowns): (Krylov iterations, 0 with a direct solver; PETSc's converged
        reason, negative on failure)."""
        x = self.du.x.petsc_vec
        if self.split is not None:
            self.split.setup(self.A)
        else:
            self.ksp.setOperators(self.A)
        iterations, reason = self._apply(self.b, x, scaled=True)
        if self.globals and reason >= 0:
            more, reason = self._border(x)
            iterations += more
        return iterations, reason

    def _apply(self, rhs: PETSc.Vec, x: PETSc.Vec, scaled: bool = False) -> tuple[int, int]:
        """x = J^-1 rhs with the present factorization or preconditioner; `rhs` already row-scaled
        when `scaled` (the residual), unscaled otherwise (a coupling column)."""
        if self.split is not None:
            return self.split.apply(rhs, x)
        if not scaled:
            rhs = rhs.copy()
            rhs.pointwiseMult(rhs, self.scale)
        self.ksp.solve(rhs, x)
        x.pointwiseMult(x, self.column_scale)
        return (self.ksp.getIterationNumber() if self.iterative else 0), self.ksp.getConvergedReason()

    def _border(self, x: PETSc.Vec) -> tuple[int, int]:
        """Eliminate the scalar unknowns (GlobalUnknowns): x becomes du, self.dg their update."""
        columns: list[PETSc.Vec] = []
        rows: list[PETSc.Vec] = []
        diagonal_blocks: list[np.ndarray] = []
        residual: list[np.ndarray] = []
        for unknowns in self.globals:
            B, C, D_block = unknowns.coupling()
            columns += B
            rows += C
            diagonal_blocks.append(np.atleast_2d(D_block))
            residual.append(np.atleast_1d(unknowns.equations()))
        m = len(columns)
        D = np.zeros((m, m))
        k = 0
        for part in diagonal_blocks:
            D[k : k + len(part), k : k + len(part)] = part
            k += len(part)
        iterations, reason = 0, 0
        Y = []
        for column in columns:
            y = x.duplicate()
            its, reason = self._apply(column, y)
            iterations += its
            if reason < 0:
                return iterations, reason
            Y.append(y)
        schur = D - np.array([[row.dot(y) for y in Y] for row in rows]).reshape(m, m)
        rhs = -np.concatenate(residual) - np.array([row.dot(x) for row in rows])
        self.dg = np.linalg.solve(schur, rhs)
        for y, d in zip(Y, self.dg):
            x.axpy(-d, y)
            y.destroy()
        for vec in columns + rows:
            vec.destroy()
        return iterations, reason

    def solve(self) -> NewtonResult:
        krylov = 0
        for iteration in range(1, self.max_iter + 1):
            self._assemble()
            iterations, reason = self._linear_solve()
            krylov += iterations
            if reason < 0:
                why = "linear solver failed"
                if self.iterative:  # e.g. "(DIVERGED_ITS after 200 iterations)"
                    why += f" ({_KSP_REASONS.get(reason, reason)} after {iterations} iterations)"
                return NewtonResult(False, iteration, why, krylov)
            self.du.x.scatter_forward()
            step = self.du.x.array
            # every rank together, or ranks that saw no NaN would go on into collective calls alone
            if self.comm.allreduce(not np.all(np.isfinite(step)), op=MPI.LOR):
                return NewtonResult(False, iteration, "non-finite update", krylov)
            if self.limit_update is not None:
                size = self.limit_update(step)
            else:
                size = np.max(np.abs(step), initial=0.0)
            self.u.x.array[:] += step
            self.u.x.scatter_forward()
            size = self.comm.allreduce(size, op=MPI.MAX)
            size = max([size] + self._update_globals())
            if size < self.tol:
                return NewtonResult(True, iteration, linear_iterations=krylov)
        return NewtonResult(False, self.max_iter, "no convergence", krylov)

    def _update_globals(self) -> list[float]:
        """Apply each scalar block's part of the update; their sizes (the same on every rank)."""
        sizes, k = [], 0
        for block in self.globals:
            sizes.append(block.update(self.dg[k : k + block.size]))
            k += block.size
        return sizes

    def destroy(self) -> None:
        if self.split is not None:
            self.split.destroy()
        else:
            self.ksp.destroy()
        self.A.destroy()
        self.b.destroy()
        self.scale.destroy()
        self.column_scale.destroy()


def _without_zeros(
    matrix: PETSc.Mat, keep_diagonal: bool = False, bsize: int | None = None, row_by_row: bool = False
) -> PETSc.Mat:
    """A new AIJ matrix with `matrix`'s values but not its stored zeros (the diagonal kept if
    `keep_diagonal`), on the same communicator and layout.

    `row_by_row` filters in two passes over the rows (count, then copy) instead of on one CSR copy
    of the whole matrix: for the Jacobian of the first assembly, whose whole copy with its masks was
    the run's peak of memory on a 3D patch (1.51 GiB at 302 k unknowns, where the solve needs
    1.13), at 1.25x the time. Not for the split's operator, filtered at every Newton iteration:
    row by row it cost 1.24x the time per step."""
    lo, hi = matrix.getOwnershipRange()
    if not row_by_row:
        indptr, columns, values = matrix.getValuesCSR()
        keep = values != 0.0
        if keep_diagonal:
            keep |= columns == np.repeat(np.arange(lo, hi), np.diff(indptr))
        kept_before = np.concatenate([[0], np.cumsum(keep)])  # kept entries before each stored one
        csr = (kept_before[indptr].astype(PETSc.IntType), columns[keep], values[keep])
        return PETSc.Mat().createAIJ(matrix.getSizes(), bsize=bsize, comm=matrix.getComm(), csr=csr)
    indptr = np.zeros(hi - lo + 1, dtype=PETSc.IntType)
    for i in range(lo, hi):
        columns, values = matrix.getRow(i)
        indptr[i - lo + 1] = np.count_nonzero((values != 0.0) | ((columns == i) & keep_diagonal))
    np.cumsum(indptr, out=indptr)
    kept_columns = np.empty(indptr[-1], dtype=PETSc.IntType)
    kept_values = np.empty(indptr[-1])
    for i in range(lo, hi):
        columns, values = matrix.getRow(i)
        keep = (values != 0.0) | ((columns == i) & keep_diagonal)
        kept_columns[indptr[i - lo] : indptr[i - lo + 1]] = columns[keep]
        kept_values[indptr[i - lo] : indptr[i - lo + 1]] = values[keep]
    csr = (indptr, kept_columns, kept_values)
    return PETSc.Mat().createAIJ(matrix.getSizes(), bsize=bsize, comm=matrix.getComm(), csr=csr)


def _krylov(ksp: PETSc.KSP, rtol: float, max_iter: int) -> None:
    ksp.setType("gmres")
    ksp.setGMRESRestart(min(max_iter, 100))
    # right preconditioning: the tolerance is on the residual itself, not the preconditioned one
    ksp.setPCSide(PETSc.PC.Side.RIGHT)
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_iter)


class PotentialSplit:
    """psi eliminated exactly, the species in gauge/composition variables, GMRES with AMG (module
    docstring). `solve(A, b, x)` takes the unscaled Jacobian and residual of the mixed space and
    returns the Krylov iterations and PETSc's converged reason."""

    def __init__(self, W, rtol: float, max_iter: int, prefix: str, multigrid: bool = True, reuse: bool = False):
        self.multigrid = multigrid
        #: keep the preconditioner (and the change of variables it was built in) across Newton
        #: iterations and time steps while its Krylov iterations stay within REUSE_GROWTH
        self.reuse = reuse
        #: Krylov iterations of the first solve with the present preconditioner
        self.fresh_iterations = 0
        #: the reduced operator the present preconditioner was built from (None: none yet)
        self.pmat: Any = None
        #: rebuilds of the preconditioner, and solves with it lagged, since the start
        self.rebuilds = self.lagged_solves = 0
        self.comm = comm = W.mesh.comm
        self.ns = ns = W.num_sub_spaces - 1
        self.rtol, self.max_iter, self.prefix = rtol, max_iter, prefix
        imap, bs = W.dofmap.index_map, W.dofmap.index_map_bs
        n_owned, first = imap.size_local * bs, imap.local_range[0] * bs
        # A P1 field's cell-local dof j sits at the cell's vertex j: stacking the species' cell
        # dofs pairs the species of each vertex.
        species = np.stack([W.sub(i).dofmap.list.ravel() for i in range(ns)], axis=1)
        psi = W.sub(ns).dofmap.list.ravel()
        _, rows = np.unique(species[:, 0], return_index=True)
        vertex = species[rows]
        vertex = vertex[vertex[:, 0] < n_owned]
        if np.any(vertex >= n_owned):
            raise RuntimeError("gmres_gamg: the species of one vertex are owned by different ranks")
        self.n_vertices = nv = len(vertex)
        self.is_m = PETSc.IS().createGeneral((vertex.ravel() + first).astype(PETSc.IntType), comm=comm)
        self.is_p = PETSc.IS().createGeneral((np.unique(psi[psi < n_owned]) + first).astype(PETSc.IntType), comm=comm)
        n = nv * ns
        # R: block diagonal, one ns x ns block per vertex (pattern fixed, values per iteration)
        self.R = PETSc.Mat().createAIJ(((n, None), (n, None)), bsize=ns, nnz=ns, comm=comm)
        self.R.setUp()
        self.lo = lo = self.R.getOwnershipRange()[0]
        self._r_indptr = np.arange(0, n * ns + 1, ns, dtype=PETSc.IntType)
        columns = lo + np.repeat(np.arange(nv) * ns, ns * ns) + np.tile(np.arange(ns), n)
        self._r_columns = columns.astype(PETSc.IntType)
        self.z: np.ndarray | None = None
        # PETSc objects, made on the first set-up and reused
        self.A_mm: Any = None
        self.A_mp: Any = None
        self.A_pm: Any = None
        self.product: Any = None
        self.S: Any = None
        self.S_transformed: Any = None
        self.operator: Any = None
        self.ksp: Any = None
        self.is_gauge: Any = None
        self.inv_pp = PETSc.Vec().createMPI((self.is_p.getLocalSize(), None), comm=comm)
        self.d, self.y, self.rhs, self.b_m, self.x_m = (self.R.createVecLeft() for _ in range(5))
        self.b_p, self.t_p, self.x_p = (self.inv_pp.duplicate() for _ in range(3))
        options = PETSc.Options()
        gauge = POTENTIAL_AMG_OPTIONS_3D if W.mesh.topology.dim == 3 else POTENTIAL_AMG_OPTIONS
        for sub, defaults in (("sub_0_", AMG_OPTIONS), ("potential_", gauge)) if multigrid else ():
            for key, value in defaults.items():
                # the user's options win; ours follow this mesh (a 2D and a 3D solver in one process)
                name = prefix + sub + key
                ours = name in _DEFAULTED and options.getString(name, None) == _DEFAULTED[name]
                if ours or not options.hasName(name):
                    options.setValue(name, value)
                    _DEFAULTED[name] = value

    # ------------------------------------------------------------------ set-up
    def _charges(self, A: PETSc.Mat) -> np.ndarray:
        """The gauge vector z, read off the Jacobian.

        Every residual is unchanged when all mu_i shift by z_i t and psi by t (t constant), so
        for each row r: sum_i z_i (A e_i)(r) + (A e_psi)(r) = 0, e_i being the indicator of
        species i's dofs. In a row of species i the other species enter only through reactions
        and sinks, so -(A e_psi)(r) / (A e_i)(r) is z_i in nearly every row (not next to Dirichlet
        dofs, whose columns are zeroed): the value most rows give is taken. (A least-squares fit
        to the psi rows alone failed: in the initial gel all ions are in one ratio.)
        """
        ns = self.ns
        fields = [self.is_m.getIndices().reshape(-1, ns)[:, i] for i in range(ns)] + [self.is_p.getIndices()]
        lo = A.getOwnershipRange()[0]
        images = []
        for dofs in fields:
            e = A.createVecRight()
            e.setValues(dofs, np.ones(len(dofs)))
            e.assemble()
            images.append(A * e)
            e.destroy()
        psi_image = images[ns].array
        candidates = np.arange(-4, 5)
        z = np.zeros(ns)
        for i in range(ns):
            rows = fields[i] - lo
            own = images[i].array[rows]
            ok = own != 0.0
            ratio = -psi_image[rows][ok] / own[ok]
            votes = np.array([np.count_nonzero(np.abs(ratio - n) < 1e-6) for n in candidates])
            votes = self.comm.allreduce(votes, op=MPI.SUM)
            total = self.comm.allreduce(int(np.count_nonzero(ok)), op=MPI.SUM)
            if total == 0 or votes.max() < 0.5 * total:
                raise RuntimeError(f"gmres_gamg: no integer charge fits species {i} ({votes.max()} of {total} rows)")
            z[i] = candidates[np.argmax(votes)]
        for vec in images:
            vec.destroy()
        if not np.any(z):
            raise RuntimeError("gmres_gamg: no species is charged")
        return z

    def _setup(self, A: PETSc.Mat) -> None:
        """The reduced system of A, and a preconditioner for it: a new one, or (reuse) the one
        before while it works (apply judges)."""
        self._reduce(A)
        if self.reuse and self.pmat is not None:
            self._transform(rebuild=False)
            self._operator(near_null_space=False)  # GAMG's hierarchy is the pmat's
            self.ksp.setOperators(self.operator, self.pmat)
            return
        self._rebuild()

    def _rebuild(self) -> None:
        """A new change of variables, reduced operator and preconditioner, from the last S."""
        self._transform(rebuild=True)
        for old in {id(m): m for m in (self.operator, self.pmat) if m is not None}.values():
            old.destroy()  # the old solver keeps its own references until _preconditioner
        self.operator = self.pmat = None
        self._operator(near_null_space=self.multigrid)
        self.pmat = self.operator
        self._preconditioner()
        self.rebuilds += 1

    def _reduce(self, A: PETSc.Mat) -> None:
        """S = A_mm - A_mp diag(A_pp)^-1 A_pm, and the blocks apply needs."""
        self.A_mm = A.createSubMatrix(self.is_m, self.is_m, submat=self.A_mm)
        self.A_mp = A.createSubMatrix(self.is_m, self.is_p, submat=self.A_mp)
        self.A_pm = A.createSubMatrix(self.is_p, self.is_m, submat=self.A_pm)
        diag = A.getDiagonal()
        sub = diag.getSubVector(self.is_p)
        sub.copy(self.inv_pp)
        diag.restoreSubVector(self.is_p, sub)
        diag.destroy()
        self.inv_pp.reciprocal()
        if self.z is None:
            self.z = self._charges(A)
        scaled = self.A_pm.copy()
        scaled.diagonalScale(L=self.inv_pp)
        self.product = self.A_mp.matMult(scaled, result=self.product)
        scaled.destroy()
        # S's pattern is the union of A_mm's and the product's (the Jacobian's zeros are not
        # stored, so neither contains the other), made once
        subset = PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN
        if self.S is None:
            self.S = self.A_mm.copy()
            self.S.axpy(-1.0, self.product, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            return
        self.S.zeroEntries()
        self.S.axpy(1.0, self.A_mm, structure=subset)
        self.S.axpy(-1.0, self.product, structure=subset)

    def forget_patterns(self) -> None:
        """The Jacobian's pattern grew: the blocks and products formed from it are made anew."""
        for name in ("A_mm", "A_mp", "A_pm", "product", "S", "S_transformed"):
            matrix = getattr(self, name)
            if matrix is not None:
                matrix.destroy()
            setattr(self, name, None)

    def _transform(self, rebuild: bool) -> None:
        """S' = D R^T S R D. With `rebuild`, R and D are made anew from S; without, the ones the
        preconditioner was built in are kept (it acts in their variables)."""
        ns, nv, z = self.ns, self.n_vertices, self.z
        assert z is not None  # read off the Jacobian in _reduce
        if rebuild:
            # R per vertex: identity but for column k, which is z (k: the most abundant charged species)
            s_diag = self.S.getDiagonal()
            self.k = k = np.argmax(np.abs(s_diag.array.reshape(-1, ns)) * np.abs(z), axis=1)
            s_diag.destroy()
            blocks = np.broadcast_to(np.eye(ns), (nv, ns, ns)).copy()
            blocks[np.arange(nv), :, k] = z
            self.R.setValuesCSR(self._r_indptr, self._r_columns, blocks.ravel())
            self.R.assemble()
        self.S_transformed = self.S.ptap(self.R, result=self.S_transformed)
        if rebuild:  # symmetric diagonal scaling
            self.S_transformed.getDiagonal(self.d)
            d = np.abs(self.d.array)
            d[d == 0.0] = 1.0
            self.d.array[:] = 1.0 / np.sqrt(d)
        self.S_transformed.diagonalScale(self.d, self.d)

    def _operator(self, near_null_space: bool) -> None:
        """self.operator: S' without its zero entries. (The mixed space's pattern couples every
        pair of dofs of a cell; vertex quadrature on quadrilaterals leaves the diagonal
        neighbours out): GAMG's aggregates on the stored pattern took 200+ iterations where these
        take 16.)"""
        if self.operator is not None and self.operator is not self.pmat:
            self.operator.destroy()
        self.operator = _without_zeros(self.S_transformed, bsize=self.ns)
        if near_null_space:
            self.operator.setNearNullSpace(self._near_null_space())

    def _preconditioner(self) -> None:
        """A new Krylov solver and preconditioner on self.operator."""
        for obj in (self.ksp, self.is_gauge):
            if obj is not None:
                obj.destroy()
        self.is_gauge = PETSc.IS().createGeneral(
            (self.lo + np.arange(self.n_vertices) * self.ns + self.k).astype(PETSc.IntType), comm=self.comm
        )
        # A new solver every rebuild: GAMG set up again in the same KSP (its own reuse) failed
        # now and then where a fresh one took 16 iterations.
        self.ksp = ksp = PETSc.KSP().create(self.comm)
        ksp.setOptionsPrefix(self.prefix)
        _krylov(ksp, self.rtol, self.max_iter)
        ksp.setOperators(self.operator)
        pc = ksp.getPC()
        pc.setReusePreconditioner(self.reuse)  # set up once, on this operator (apply judges)
        if not self.multigrid:
            pc.setType("asm")
            pc.setASMOverlap(1)
            ksp.setFromOptions()
            return
        pc.setType("composite")
        pc.setCompositeType(PETSc.PC.CompositeType.MULTIPLICATIVE)
        pc.addCompositePCType("gamg")
        pc.addCompositePCType("python")
        pc.getCompositePC(1).setPythonContext(_GaugeCorrection(self))
        ksp.setFromOptions()

    def _near_null_space(self) -> PETSc.NullSpace:
        """Each species' constant mu (the diffusion operators' null space; z . them is the gauge
        mode) in the scaled transformed unknowns, y = D^-1 R^-1 e_i."""
        ns, nv, z, k = self.ns, self.n_vertices, self.z, self.k
        assert z is not None  # read off the Jacobian in _setup
        inv_d = 1.0 / self.d.array.reshape(-1, ns)
        vectors = []
        for i in range(ns):
            y = np.zeros((nv, ns))
            y[k != i, i] = 1.0  # mu_i = y_i + z_i y_k where species i is not k
            mine = np.nonzero(k == i)[0]  # where it is: mu_k = z_k y_k, the others cancel
            y[mine] = -z / z[i] if z[i] != 0 else 0.0
            y[mine, i] = 1.0 / z[i] if z[i] != 0 else 1.0
            vec = self.R.createVecRight()
            vec.array[:] = (y * inv_d).ravel()
            vectors.append(vec)
        for i, vec in enumerate(vectors):  # orthonormal, as MatNullSpace wants
            for prev in vectors[:i]:
                vec.axpy(-vec.dot(prev), prev)
            vec.normalize()
        space = PETSc.NullSpace().create(vectors=vectors, comm=self.comm)
        for vec in vectors:
            vec.destroy()
        return space

    # ------------------------------------------------------------------ solve
    def setup(self, A: PETSc.Mat) -> None:
        """Build the reduced operator and its preconditioner from the (unscaled) Jacobian A."""
        self._setup(A)

    def solve(self, A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec) -> tuple[int, int]:
        """setup(A), then apply(b, x)."""
        self._setup(A)
        return self.apply(b, x)

    def apply(self, b: PETSc.Vec, x: PETSc.Vec) -> tuple[int, int]:
        """x = A^-1 b for the A of the last setup (b unscaled): Krylov iterations and PETSc's
        reason. A reused preconditioner gets REUSE_GROWTH times the iterations of its first solve
        (and at least REUSE_SLACK more); past them it is rebuilt and the solve done again (the
        iterations of both counted)."""
        lagged = self.reuse and self.operator is not self.pmat
        if not lagged:
            iterations, reason = self._apply(b, x)
            self.fresh_iterations = iterations
            return iterations, reason
        allowed = min(
            self.max_iter, max(int(REUSE_GROWTH * self.fresh_iterations), self.fresh_iterations + REUSE_SLACK)
        )
        self.ksp.setTolerances(max_it=allowed)
        iterations, reason = self._apply(b, x)
        self.ksp.setTolerances(max_it=self.max_iter)
        self.lagged_solves += 1
        if reason > 0:
            return iterations, reason
        self._rebuild()
        more, reason = self._apply(b, x)
        self.fresh_iterations = more
        return iterations + more, reason

    def _apply(self, b: PETSc.Vec, x: PETSc.Vec) -> tuple[int, int]:
        b_m, b_p = self.b_m, self.b_p
        for is_, vec in ((self.is_m, b_m), (self.is_p, b_p)):
            sub = b.getSubVector(is_)
            sub.copy(vec)
            b.restoreSubVector(is_, sub)
        # reduced right-hand side D R^T (b_m - A_mp diag(A_pp)^-1 b_p)
        t_p, x_m, x_p = self.t_p, self.x_m, self.x_p
        t_p.pointwiseMult(b_p, self.inv_pp)
        self.A_mp.mult(t_p, x_m)
        x_m.aypx(-1.0, b_m)
        self.R.multTranspose(x_m, self.rhs)
        self.rhs.pointwiseMult(self.rhs, self.d)
        self.ksp.solve(self.rhs, self.y)
        # back: du_m = R D y, du_p = diag(A_pp)^-1 (b_p - A_pm du_m)
        self.y.pointwiseMult(self.y, self.d)
        self.R.mult(self.y, x_m)
        self.A_pm.mult(x_m, x_p)
        x_p.aypx(-1.0, b_p)
        x_p.pointwiseMult(x_p, self.inv_pp)
        x.set(0.0)
        x.isaxpy(self.is_m, 1.0, x_m)
        x.isaxpy(self.is_p, 1.0, x_p)
        return self.ksp.getIterationNumber(), self.ksp.getConvergedReason()

    def destroy(self) -> None:
        for obj in [
            self.ksp,
            self.operator,
            None if self.pmat is self.operator else self.pmat,
            self.is_gauge,
            self.A_mm,
            self.A_mp,
            self.A_pm,
            self.product,
            self.S,
            self.S_transformed,
            self.R,
            self.d,
            self.y,
            self.rhs,
            self.is_m,
            self.is_p,
            self.inv_pp,
            self.b_m,
            self.x_m,
            self.b_p,
            self.t_p,
            self.x_p,
        ]:
            if obj is not None:
                obj.destroy()


class _GaugeCorrection:
    """Second stage of the composite preconditioner (a PETSc python PC): AMG on the gauge block
    alone (the conductance Laplacian of the charge rows), applied to the residual the first
    stage leaves. Smoothed aggregation (which the coupled system defeats) suits this block."""

    def __init__(self, split: PotentialSplit):
        self.split = split
        self.ksp: Any = None
        self.block: Any = None

    def setUp(self, pc) -> None:
        split = self.split
        if self.ksp is not None:
            self.ksp.destroy()
            self.block.destroy()
        self.block = split.operator.createSubMatrix(split.is_gauge, split.is_gauge)
        gauge = self.block.createVecRight()
        gauge.array[:] = 1.0 / split.d.array.reshape(-1, split.ns)[np.arange(split.n_vertices), split.k]
        gauge.normalize()
        space = PETSc.NullSpace().create(vectors=[gauge], comm=split.comm)
        self.block.setNearNullSpace(space)
        space.destroy()
        gauge.destroy()
        self.ksp = PETSc.KSP().create(split.comm)
        self.ksp.setOptionsPrefix(split.prefix + "potential_")
        self.ksp.setOperators(self.block)
        self.ksp.setType("preonly")
        self.ksp.getPC().setType("gamg")
        self.ksp.setFromOptions()
        self.r = self.block.createVecLeft()
        self.e = self.block.createVecRight()

    def apply(self, pc, x: PETSc.Vec, y: PETSc.Vec) -> None:
        split = self.split
        sub = x.getSubVector(split.is_gauge)
        sub.copy(self.r)
        x.restoreSubVector(split.is_gauge, sub)
        self.ksp.solve(self.r, self.e)
        y.set(0.0)
        y.isaxpy(split.is_gauge, 1.0, self.e)

    def destroy(self, pc) -> None:
        if self.ksp is not None:
            for obj in (self.ksp, self.block, self.r, self.e):
                obj.destroy()
            self.ksp = None


_KSP_REASONS = {
    value: name for name, value in vars(PETSc.KSP.ConvergedReason).items() if isinstance(value, int) and value < 0
}
