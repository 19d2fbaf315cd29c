"""Where the current enters the skin on a 2D/3D patch: the depth components of the current density
and of the drug's flux across the top skin layer, cell by cell, integrated over the run; the
largest local current density into the skin surface, as the mean over a stated lateral length
(the safety check's measure, scenario.safety.local_averaging_length) and in single cells (for
information: it grows with refinement at an electrode edge or a duct); and the shares of
current and drug that took the appendage channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.physics.term import Ledger, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

fem = dolfinx.fem

#: one step's largest local current density: (end time [s], value [A/m^2], position [m])
Reading = tuple[float, float, list[float]]


class SurfaceCurrent(Term):
    """The patch's current-crossing bookkeeping (module docstring); on meshes of 2 or 3 dimensions."""

    name = "surface_current"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> SurfaceCurrent | None:
        return cls() if model.geometry is not None and model.geometry.dim > 1 else None

    def setup(self, model: Model) -> None:
        assert model.geometry is not None  # switched on for patches only
        self.geometry = model.geometry
        self.crossing = np.zeros(
            4
        )  # time integrals: current and drug flux across the top layer, all and via appendages
        # per accepted step, for the single cell ("peak") and the window ("mean"): end time [s], the
        # largest local current density [A/m^2] and its position [m]; the run's maxima are chosen
        # from them at the end
        self.history: dict[str, list[Reading]] = {"peak": [], "mean": []}
        self.averaging_length = model.scenario.safety.local_averaging_length
        self._cell_volumes: np.ndarray | None = None

    def build(self, model: Model) -> None:
        from iontosim.physics.transport import NernstPlanck

        transport = model.term(NernstPlanck)
        q = ufl.TestFunction(model.dg0)
        self.cell_volume_form = model.compiled(q * ufl.dx)  # per cell, m^3 (2 pi r weighted when axisymmetric)
        crossing = ufl.TestFunction(fem.functionspace(model.mesh, ("DG", 0, (2,))))
        axis, drug = model.depth_axis, model.drug_index
        self.crossing_forms = transport.cell_integrals(
            model, lambda i, J: i[axis] * crossing[0] + J[drug][axis] * crossing[1]
        )
        # the patch's lateral extent [m] per axis, from 0 (the windows' mirror planes)
        x = model.mesh.geometry.x[:, : model.depth_axis]
        self.extent = np.max(model.comm.allgather(x.max(axis=0, initial=0.0)), axis=0)

    def cell_crossing(self, model: Model) -> tuple[np.ndarray, np.ndarray]:
        """Per owned cell: the integrals of the depth components of the current density [A m] and of
        the drug's flux [mol m/s] (rows of two; x 2 pi r on axisymmetric discs), and the cell
        volumes [m^3] they divide into for the cell means. The one definition of the local current
        that the run's peak, the surface-current plot and the appendage shares all use."""
        from iontosim.model import assembled_sum, assembled_vector

        n = len(model.layer_of_cell)
        if self._cell_volumes is None:  # the mesh does not move: once per model
            self._cell_volumes = assembled_vector(self.cell_volume_form)[:n].copy()
        return assembled_sum(self.crossing_forms)[: 2 * n].reshape(n, 2), self._cell_volumes

    def surface_row(self, model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The surface row of cells, on every rank, sorted by position (not by partition: the
        same on any ranks): lateral centres [m] (cells, axes), the integrals of the depth
        component of the current density [A m] and the volumes [m^3] (x 2 pi r on a disc). The
        one gathering of it (the run's peak, the plot)."""
        per_cell, volume = self.cell_crossing(model)
        surface = model.surface_row_cells
        parts = model.comm.allgather(
            (model.cell_lateral_coordinates[surface], per_cell[surface, 0], volume[surface])
        )  # the surface row: small beside the mesh
        lateral = np.concatenate([p[0] for p in parts]).reshape(-1, model.cell_lateral_coordinates.shape[1])
        order = np.lexsort(lateral.T[::-1])  # by x, then y
        current, volumes = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
        return lateral[order], current[order], volumes[order]

    def crossed(self, model: Model) -> dict[str, Any]:
        """Current and drug flux across the top skin layer (depth components, per cell): their
        integrals over the layer under the anode, all and through appendages, per anode area
        [A/m, mol/m/s: divide by the layer's thickness for a flux density], and the largest local
        current density into the skin surface [A/m^2] with where it is (m, lateral coordinates)."""
        per_cell, _ = self.cell_crossing(model)
        under = model.under_donor_cells()
        top, app = model.top_layer_cells, model.appendage_cells
        sums = np.array(
            [
                per_cell[top & under, 0].sum(),
                per_cell[app & under, 0].sum(),
                per_cell[top & under, 1].sum(),
                per_cell[app & under, 1].sum(),
            ]
        )
        sums = model.comm.allreduce(sums, op=MPI.SUM) / model.anode_area
        lateral, current, volumes = self.surface_row(model)
        local = current / volumes
        if not len(local):
            return {"integrals": sums, "peak": 0.0, "where": [], "mean": 0.0, "mean_where": []}
        k = int(np.argmax(np.abs(local)))
        mean, centre = windowed_peak(lateral, current, volumes, self.averaging_length, self.extent)
        return {"integrals": sums, "peak": local[k], "where": lateral[k].tolist(), "mean": mean, "mean_where": centre}

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        crossed = self.crossed(model)
        self.crossing += step.length * crossed["integrals"]
        self.history["peak"].append((step.t_end, float(crossed["peak"]), crossed["where"]))
        self.history["mean"].append((step.t_end, float(crossed["mean"]), crossed["mean_where"]))

    def facts(self, model: Model) -> dict[str, Any]:
        """The patch's record: where the current entered the skin most densely and how much current
        and drug went through appendages (time integrals over the run)."""
        peak_time, peak, peak_position = first_maximum(self.history["peak"])
        mean_time, mean, mean_position = first_maximum(self.history["mean"])
        facts = {
            "kind": self.geometry.kind,
            "peak_local_current_density": peak,
            "peak_time": peak_time,
            "peak_position": list(peak_position),
            "local_current_density": mean,
            "local_time": mean_time,
            "local_position": list(mean_position),
            "local_averaging_length": self.averaging_length,
            # a window as wide as the modelled patch sees only its mean density (a duct's unit cell)
            "local_window_covers_patch": bool(self.averaging_length >= float(np.max(self.extent))),
            "anode_area": model.anode_area,
            "return_area": model.return_area,
        }
        if "appendages" in model.region_names():
            current, current_app, drug, drug_app = self.crossing
            facts["appendage_current_fraction"] = current_app / current if current else float("nan")
            facts["appendage_drug_fraction"] = drug_app / drug if drug else float("nan")
        return {"patch": facts}

    def state(self) -> dict[str, Any]:
        return {"crossing": self.crossing.copy(), "history": {k: list(v) for k, v in self.history.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.crossing[:] = state["crossing"]
        self.history = {k: list(v) for k, v in state["history"].items()}


#: Values within this fraction of the largest magnitude count as reaching it: a plateau's round-off
#: (1e-12 to 1e-8 of it between ranks and solvers) must not decide when or where its maximum is.
PLATEAU_RTOL = 1e-6


def first_maximum(readings: list[Reading]) -> Reading:
    """The reading of the largest magnitude, the first of a plateau (largest_first); (0, 0, [])
    when no step was taken or none carried current: no time or place of a maximum."""
    values = [value for _, value, _ in readings]
    return readings[largest_first(values)] if np.any(values) else (0.0, 0.0, [])


def largest_first(values: list[float] | np.ndarray, rtol: float = PLATEAU_RTOL) -> int:
    """Index of the largest magnitude in `values`; of a plateau (entries within `rtol` of it), the
    first, so the time and place of a maximum that holds for a while are when it was first reached."""
    magnitude = np.abs(np.asarray(values, dtype=float))
    return int(np.argmax(magnitude >= (1.0 - rtol) * np.nanmax(magnitude)))  # a NaN step is skipped


def windowed_peak(
    lateral: np.ndarray, current: np.ndarray, volumes: np.ndarray, length: float, extent: np.ndarray | None = None
) -> tuple[float, list[float]]:
    """The largest (by magnitude) mean current density over a lateral window of width `length` [m]
    (a square of that side when there are two lateral axes), and its centre [m].

    `lateral` (cells, axes) are the surface cells' centres, `current` the integrals of the depth
    component of the current density over each cell [A m, x 2 pi r on a disc] and `volumes` the
    cells' volumes with the same weight, so that sum(current) / sum(volume) over a window is the
    mean current density across the top skin layer there. A cell counts when its centre lies in
    the window (an error of a cell's width at the window's edges, which vanishes under
    refinement). The patch spans [0, extent] along each axis (default: to its last cell centre),
    and both ends are mirror planes (the centre line, the far wall or the next cell of a lattice):
    a window lies inside the patch, or is centred on a mirror plane, where its half inside has the
    whole window's mean; one longer than the patch is the whole patch. Every window whose centre,
    start or end is a cell centre is tried, exactly, with running sums over the cells sorted by
    position (a summed-area table on a block's grid of cells): O(n log n), the same on any ranks.
    """
    if extent is None:
        extent = lateral.max(axis=0, initial=0.0)
    extent = np.broadcast_to(np.asarray(extent, dtype=float), (lateral.shape[1],))
    if lateral.shape[1] == 1:
        return _windowed_peak_1d(lateral[:, 0], current, volumes, length, float(extent[0]))
    return _windowed_peak_2d(lateral, current, volumes, length, extent)


def _best(means: np.ndarray, centres: np.ndarray) -> tuple[float, list[float]]:
    if not means.size:
        return 0.0, []
    k = int(np.argmax(np.abs(means)))
    return float(means[k]), np.atleast_1d(centres[k]).tolist()


def _windows(axis: np.ndarray, length: float, extent: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows along one sorted axis of cell centres: each one's first and past-last index and
    its centre (module docstring of windowed_peak)."""
    tol = 1e-9 * max(extent, length)
    lo = np.concatenate([axis - length / 2, axis, axis - length])
    hi = lo + length
    inside = (lo >= -tol) & (hi <= extent + tol)
    lo, hi = lo[inside], hi[inside]
    half = min(length / 2, extent)  # centred on the mirror planes (the whole patch if longer)
    lo = np.concatenate([lo, [0.0, extent - half]])
    hi = np.concatenate([hi, [half, extent]])
    centres = np.concatenate([0.5 * (lo[:-2] + hi[:-2]), [0.0, extent]])
    first = np.searchsorted(axis, lo - tol, side="left")
    past = np.searchsorted(axis, hi + tol, side="right")
    return first, past, centres


def _windowed_peak_1d(x: np.ndarray, current: np.ndarray, volumes: np.ndarray, length: float, extent: float):
    order = np.lexsort((current, x))  # by position, ties broken by value: rank-independent
    x, current, volumes = x[order], current[order], volumes[order]
    sum_i = np.concatenate([[0.0], np.cumsum(current)])
    sum_v = np.concatenate([[0.0], np.cumsum(volumes)])
    a, b, centres = _windows(x, length, extent)
    volume = sum_v[b] - sum_v[a]
    ok = volume > 0
    return _best((sum_i[b] - sum_i[a])[ok] / volume[ok], centres[ok])


def _windowed_peak_2d(lateral: np.ndarray, current: np.ndarray, volumes: np.ndarray, length: float, extent: np.ndarray):
    xs, ix = np.unique(lateral[:, 0], return_inverse=True)
    ys, iy = np.unique(lateral[:, 1], return_inverse=True)
    if len(xs) * len(ys) > 4 * len(lateral):  # a block's surface is a grid of cells (mesh/skin_mesh.py)
        raise ValueError(f"the surface cells do not form a grid ({len(xs)} x {len(ys)} for {len(lateral)} cells)")
    grid_i = np.zeros((len(xs), len(ys)))
    grid_v = np.zeros((len(xs), len(ys)))
    np.add.at(grid_i, (ix, iy), current)
    np.add.at(grid_v, (ix, iy), volumes)
    table_i = np.zeros((len(xs) + 1, len(ys) + 1))
    table_v = np.zeros_like(table_i)
    table_i[1:, 1:] = grid_i.cumsum(0).cumsum(1)
    table_v[1:, 1:] = grid_v.cumsum(0).cumsum(1)
    (ax, bx, cx), (ay, by, cy) = _windows(xs, length, extent[0]), _windows(ys, length, extent[1])
    A, B = np.meshgrid(ax, ay, indexing="ij"), np.meshgrid(bx, by, indexing="ij")

    def box(table: np.ndarray) -> np.ndarray:
        return table[B[0], B[1]] - table[A[0], B[1]] - table[B[0], A[1]] + table[A[0], A[1]]

    volume = box(table_v)
    ok = volume > 0
    centres = np.stack(np.meshgrid(cx, cy, indexing="ij"), axis=-1)[ok]
    return _best(box(table_i)[ok] / volume[ok], centres)
