"""Where the current enters the skin on a 2D/3D patch: the depth components of the current density
and of the drug's flux across the top skin layer, cell by cell, integrated over the run; the
largest local current density into the skin surface (the safety check's local peak) and the
shares of current and drug that took the appendage channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.physics.term import Ledger, Step, Term

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
        local = per_cell[surface, 0] / volume[surface]
        k = int(np.argmax(np.abs(local))) if len(local) else -1
        best = (
            (abs(local[k]), local[k], model.cell_lateral_coordinates[surface][k].tolist())
            if k >= 0
            else (-1.0, 0.0, [])
        )
        _, value, where = max(model.comm.allgather(best), key=lambda c: c[0])
        return {"integrals": sums, "peak": value, "where": where}

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        crossed = self.crossed(model)
        self.crossing += step.length * crossed["integrals"]
        if abs(crossed["peak"]) > abs(self.peak["value"]):
            self.peak.update(value=crossed["peak"], time=step.t_end, position=crossed["where"])

    def facts(self, model: Model) -> dict[str, Any]:
        """The patch's record: where the current entered the skin most densely and how much current
        and drug went through appendages (time integrals over the run)."""
        facts = {
            "kind": self.geometry.kind,
            "peak_local_current_density": self.peak["value"],
            "peak_time": self.peak["time"],
            "peak_position": list(self.peak["position"]),
            "anode_area": model.anode_area,
            "return_area": model.return_area,
        }
        if "appendages" in model.region_names():
            current, current_app, drug, drug_app = self.crossing
            facts["appendage_current_fraction"] = current_app / current if current else float("nan")
            facts["appendage_drug_fraction"] = drug_app / drug if drug else float("nan")
        return {"patch": facts}

    def state(self) -> dict[str, Any]:
        return {"crossing": self.crossing.copy(), "peak": dict(self.peak)}

    def restore(self, state: dict[str, Any]) -> None:
        self.crossing[:] = state["crossing"]
        self.peak.update(state["peak"])
