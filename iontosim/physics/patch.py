"""A patch taken off the skin and a fresh one put on (protocol items remove_patch, new_patch).

Taking the patch off ends every exchange between its gel pads (the donor, and a meshed return
pad) and the skin: the skin surface then has no flux across it, while what the skin holds goes
on spreading and being cleared. In the discrete model the pads stay in the mesh, set aside:
what they held leaves the modelled system with the patch (ledger entry `patch_exchange`), and
they are filled with the interstitial fluid's composition, a drug-free placeholder. The porosity
and every species' diffusivity of their row of cells on the skin are multiplied by `DETACHED`,
so what crosses there is that fraction of what an empty gel on the skin would take up.
DETACHED is 1e-8, not zero: a pad cut off entirely would leave its potential's level without
an equation (a null mode of the Jacobian: its LU failed at 1e-12).

A new patch replaces the gels with fresh ones as the scenario describes them (donor_fluid,
return_fluid) at every node above the skin surface. The node on the surface keeps the skin's
state, so no skin is refilled: the new gel's first half-cell touches the skin at its present
composition, which the first step then equilibrates. What the placeholder and the new gel
bring is booked in `patch_exchange` too (negative: put in). Every booking is exact: the pads'
inventory before and after the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.model.regions import DONOR, RETURN_PAD
from iontosim.physics.term import Ledger, LedgerEntry, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

#: factor on a detached pad's porosity and diffusivities (1 when on the skin)
DETACHED = 1e-8


class PatchChanges(Term):
    """Takes the patch's pads off the skin and puts fresh ones on at the protocol's events."""

    name = "patch"
    ENTRY = "patch_exchange"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> PatchChanges | None:
        return cls() if any(step.changes_patch for step in scenario.protocol) else None

    def setup(self, model: Model) -> None:
        self.model = model
        self.pads = [r.tag for r in model.regions if r.name in (DONOR, RETURN_PAD)]
        self.on = True
        #: mol/m^2 per species the changes took out of the donor gel (negative: a new gel's content)
        self.donor_exchanged = np.zeros(model.ns)

    def _coefficients(self, model: Model) -> list:
        from iontosim.physics.transport import NernstPlanck

        return [model.porosity, *model.term(NernstPlanck).diffusivity]

    def _contact_cells(self, model: Model) -> np.ndarray:
        """The pads' cells that touch the skin surface (a vertex at depth 0)."""
        n = len(model.layer_of_cell)
        shallowest = np.abs(model.vertex_depths().reshape(n, -1)).min(axis=1)
        return np.isin(model.layer_of_cell, self.pads) & (shallowest <= 1e-9 * model.scenario.donor.thickness)

    def _attach(self, model: Model, factor: float) -> None:
        """Multiply the porosity and diffusivities of the pads' cells on the skin by `factor`
        (cell-wise fields: no recompile). Only that row of cells: every node keeps a cell of
        ordinary weight, so no row of the Jacobian shrinks to round-off."""
        cells = self._contact_cells(model)
        for field in self._coefficients(model):
            field.x.array[: len(cells)][cells] *= factor
            field.x.scatter_forward()

    def at_event(self, model: Model, event: Any, ledger: Ledger) -> None:
        if event.kind not in ("remove_patch", "new_patch"):
            return
        before = model.amounts()[self.pads]
        if self.on:
            self._attach(model, DETACHED)
            self._refill(model, fresh=False)
            self.on = False
        if event.kind == "new_patch":
            self._attach(model, 1.0 / DETACHED)
            self._refill(model, fresh=True)
            self.on = True
        taken = before - model.amounts()[self.pads]
        self.donor_exchanged += taken[0]
        ledger.book(self.ENTRY, taken.sum(axis=0))

    def _refill(self, model: Model, fresh: bool) -> None:
        """At every pad node above the skin surface: the gels' composition (`fresh`), or the
        interstitial fluid's, a drug-free placeholder for the pads taken off; psi from
        electroneutrality."""
        from iontosim.model.compositions import body_fluid, donor_fluid, initial_region, return_fluid
        from iontosim.physics.electroneutrality import update_potential

        fluids = {1: donor_fluid(model) if fresh else body_fluid(model)}
        if RETURN_PAD in model.region_names():
            fluids[2] = return_fluid(model) if fresh else fluids[1]
        for i in range(model.ns):
            V, _ = model.W.sub(i).collapse()
            x = V.tabulate_dof_coordinates().T
            where = initial_region(model, x)
            above = x[model.depth_axis] < -1e-9 * model.scenario.donor.thickness
            for region, fluid in fluids.items():
                chosen = (where == region) & above
                model.u.x.array[model.maps[i][chosen]] = np.log(fluid[i])
        model.u.x.scatter_forward()
        # psi in the pads' cells from electroneutrality with the new mu (pointwise; the skin's is
        # unchanged): the refilled nodes' level is the fluid's own (0), the surface nodes keep theirs
        entries = np.isin(model.nodal_layer, self.pads)
        start = np.where(model.vertex_depths()[entries] < 0.0, 0.0, model.nodal_psi()[entries])
        update_potential(model, entries, start)

    def ledger(self, model: Model) -> list[LedgerEntry]:
        return [
            LedgerEntry(
                self.ENTRY,
                instantaneous=True,
                description="that left the model with a patch taken off, less what a new patch brought",
            )
        ]

    def state(self) -> dict[str, Any]:
        return {"on": self.on, "donor_exchanged": self.donor_exchanged.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        if state["on"] != self.on:  # the checkpoint was taken with the patch off
            self._attach(self.model, 1.0 if state["on"] else DETACHED)
        self.on = state["on"]
        self.donor_exchanged = state["donor_exchanged"].copy()
