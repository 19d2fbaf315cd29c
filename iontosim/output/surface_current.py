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

#: windows are centred at this many cells of the largest local current density (the largest mean
#: lies around them; all cells' windows would cost the square of a 3D surface's cell count)
WINDOW_CENTRES = 64

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

fem = dolfinx.fem


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
        self.peak: dict[str, Any] = {"value": 0.0, "time": 0.0, "position": []}
        self.averaged: dict[str, Any] = {"value": 0.0, "time": 0.0, "position": []}
        self.averaging_length = model.scenario.safety.local_averaging_length
        self._cell_volumes: np.ndarray | None = None

    def build(self, model: Model) -> None:
        from iontosim.physics.transport import NernstPlanck

        transport = model.term(NernstPlanck)
        q = ufl.TestFunction(model.dg0)
        self.cell_volume_form = model.compiled(q * ufl.dx)  # per cell, m^3 (2 pi r weighted when axisymmetric)
        crossing = ufl.TestFunction(fem.functionspace(model.mesh, ("DG", 0, (2,))))
        i_depth = transport.current_density_vector(model)[model.depth_axis]
        j_depth = transport.flux_vectors(model)[model.drug_index][model.depth_axis]
        self.crossing_form = model.compiled((i_depth * crossing[0] + j_depth * crossing[1]) * model.dx)

    def cell_crossing(self, model: Model) -> tuple[np.ndarray, np.ndarray]:
        """Per owned cell: the integrals of the depth components of the current density [A m] and of
        the drug's flux [mol m/s] (rows of two; x 2 pi r on axisymmetric discs), and the cell
        volumes [m^3] they divide into for the cell means. The one definition of the local current
        that the run's peak, the surface-current plot and the appendage shares all use."""
        from iontosim.model import assembled_vector

        n = len(model.layer_of_cell)
        if self._cell_volumes is None:  # the mesh does not move: once per model
            self._cell_volumes = assembled_vector(self.cell_volume_form)[:n].copy()
        return assembled_vector(self.crossing_form)[: 2 * n].reshape(n, 2), self._cell_volumes

    def crossed(self, model: Model) -> dict[str, Any]:
        """Current and drug flux across the top skin layer (depth components, per cell): their
        integrals over the layer under the anode, all and through appendages, per anode area
        [A/m, mol/m/s: divide by the layer's thickness for a flux density], and the largest local
        current density into the skin surface [A/m^2] with where it is (m, lateral coordinates)."""
        per_cell, volume = self.cell_crossing(model)
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
        surface = model.surface_row_cells
        parts = model.comm.allgather(
            (model.cell_lateral_coordinates[surface], per_cell[surface, 0], volume[surface])
        )  # the surface row: small beside the mesh
        lateral = np.concatenate([p[0] for p in parts]).reshape(-1, model.cell_lateral_coordinates.shape[1])
        current, volumes = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
        local = current / volumes
        if not len(local):
            return {"integrals": sums, "peak": 0.0, "where": [], "mean": 0.0, "mean_where": []}
        k = int(np.argmax(np.abs(local)))
        mean, centre = windowed_peak(lateral, current, volumes, self.averaging_length)
        return {"integrals": sums, "peak": local[k], "where": lateral[k].tolist(), "mean": mean, "mean_where": centre}

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        crossed = self.crossed(model)
        self.crossing += step.length * crossed["integrals"]
        if abs(crossed["peak"]) > abs(self.peak["value"]):
            self.peak.update(value=crossed["peak"], time=step.t_end, position=crossed["where"])
        if abs(crossed["mean"]) > abs(self.averaged["value"]):
            self.averaged.update(value=crossed["mean"], time=step.t_end, position=crossed["mean_where"])

    def facts(self, model: Model) -> dict[str, Any]:
        """The patch's record: where the current entered the skin most densely and how much current
        and drug went through appendages (time integrals over the run)."""
        facts = {
            "kind": self.geometry.kind,
            "peak_local_current_density": self.peak["value"],
            "peak_time": self.peak["time"],
            "peak_position": list(self.peak["position"]),
            "local_current_density": self.averaged["value"],
            "local_time": self.averaged["time"],
            "local_position": list(self.averaged["position"]),
            "local_averaging_length": self.averaging_length,
            "anode_area": model.anode_area,
            "return_area": model.return_area,
        }
        if "appendages" in model.region_names():
            current, current_app, drug, drug_app = self.crossing
            facts["appendage_current_fraction"] = current_app / current if current else float("nan")
            facts["appendage_drug_fraction"] = drug_app / drug if drug else float("nan")
        return {"patch": facts}

    def state(self) -> dict[str, Any]:
        return {"crossing": self.crossing.copy(), "peak": dict(self.peak), "averaged": dict(self.averaged)}

    def restore(self, state: dict[str, Any]) -> None:
        self.crossing[:] = state["crossing"]
        self.peak.update(state["peak"])
        self.averaged.update(state["averaged"])


def windowed_peak(
    lateral: np.ndarray, current: np.ndarray, volumes: np.ndarray, length: float
) -> tuple[float, list[float]]:
    """The largest (by magnitude) mean current density over a lateral window of width `length` [m]
    (a square of that side when there are two lateral axes), and its centre [m].

    `lateral` (cells, axes) are the surface cells' centres, `current` the integrals of the depth
    component of the current density over each cell [A m, x 2 pi r on a disc] and `volumes` the
    cells' volumes with the same weight, so that sum(current) / sum(volume) over a window is the
    mean current density across the top skin layer there. A cell counts when its centre lies in
    the window (an error of a cell's width at the window's edges, which vanishes under refinement).
    A window reaching past the patch's mirror plane (x = 0, r = 0) is cut there.
    """
    local = np.abs(current / volumes)
    centres = np.argsort(-local, kind="stable")[:WINDOW_CENTRES]
    best, where = 0.0, []
    for c in centres:
        inside = np.all(np.abs(lateral - lateral[c]) <= 0.5 * length, axis=1)
        mean = float(current[inside].sum() / volumes[inside].sum())
        if abs(mean) > abs(best):
            best, where = mean, lateral[c].tolist()
    return best, where
