"""The deep boundary: below the modelled skin the tissue holds the interstitial fluid's composition
at ground potential (psi = 0), a fixed reservoir. Whatever crosses it leaves the model; ledger
entry `deep_outflow`, with the current it carries.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from iontosim._fenics import MPI, dolfinx
from iontosim.mesh.column import DEEP
from iontosim.physics.constants import FARADAY
from iontosim.physics.term import Ledger, LedgerEntry, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

fem = dolfinx.fem


class InterstitialBoundary(Term):
    """Dirichlet conditions mu_i = ln(c_i / K_i) of the interstitial fluid on the deep facets."""

    name = "deep_tissue"

    def boundary_conditions(self, model: Model) -> list:
        from iontosim.model.compositions import body_fluid

        fdim = model.mesh.topology.dim - 1
        deep = model.column.facet_tags.find(DEEP)
        body = body_fluid(model)
        bottom = model.regions[model.deepest]
        bcs = []
        self.deep_dofs = []  # per species: the Dirichlet dofs in the mixed numbering
        for i in range(model.ns):
            Vi, _ = model.W.sub(i).collapse()
            dofs = fem.locate_dofs_topological((model.W.sub(i), Vi), fdim, deep)
            g = fem.Function(Vi)
            g.x.array[:] = math.log(body[i] / bottom.partition[i])
            bcs.append(fem.dirichletbc(g, dofs, model.W.sub(i)))
            self.deep_dofs.append(dofs[0])
        return bcs

    def outflow(self, model: Model) -> np.ndarray:
        """mol/(m^2 s) of each species leaving through the deep boundary: minus the residual at its
        Dirichlet dofs (the discrete conservation law's flux there)."""
        from iontosim.model import assembled_sum

        residual = assembled_sum(model.residual)
        n_owned = model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs
        out = np.zeros(model.ns)
        for i, dofs in enumerate(self.deep_dofs):
            owned = dofs[dofs < n_owned]
            out[i] = -residual[owned].sum()
        return model.comm.allreduce(out, op=MPI.SUM) / model.anode_area

    def ledger(self, model: Model) -> list[LedgerEntry]:
        def current(ledger: Ledger) -> float:
            charge = model.row_charges()[model.deepest]
            out = ledger.rates_of("deep_outflow")[model.deepest]
            return FARADAY * sum(charge[k] * out[k] for k in range(model.ns))

        return [
            LedgerEntry(
                "deep_outflow",
                rates=lambda: model.region_rates(model.deepest, self.outflow(model)),
                current=current,
                description="that crossed the deep boundary into the tissue below the modelled skin",
            )
        ]
