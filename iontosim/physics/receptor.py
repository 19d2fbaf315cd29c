"""A well-stirred receptor compartment under the deep boundary (a Franz diffusion cell's receptor).

The receptor is a solution of `depth` = volume / membrane area, uniform by stirring, at ground
potential. Its composition is a set of scalar unknowns g_i = ln(c_i / (mol/m^3)) beside the fields,
one per species. The skin's deepest nodes are tied to it: mu_i there equals g_i (the
electrochemical potential is continuous into the free solution, K = 1, psi = 0), and each g_i has
one equation, the receptor's mass balance with backward Euler,

    depth A (c_i - c_i_prev) / dt + F_i(u; phi_i) = 0,

F_i(u; phi_i) being the residual summed over the tied nodes of species i (phi_i their indicator):
minus the discrete flux that leaves the skin there. What enters the receptor is therefore exactly
what left the skin, to the solver's tolerance. The receptor's content is a ledger entry
(`permeated`, the cumulative amount per area that Franz-cell studies report).

Sampling with volume replacement (setup.receptor.sampling): at each sampling time a fraction
f = v / V of the receptor is withdrawn and replaced by fresh receptor fluid,
c -> (1 - f) c + f c_fresh. What the samples took (net of the fresh fluid) is the series
`receptor_sampled/<species>`; `permeated` still counts everything that crossed the membrane,
which is what studies report once they correct their concentrations for the samples taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim._fenics import PETSc, dolfinx
from iontosim.mesh.column import DEEP
from iontosim.physics.constants import FARADAY
from iontosim.physics.deep_tissue import InterstitialBoundary
from iontosim.physics.term import Ledger, LedgerEntry, Series, Step, Term
from iontosim.solver.newton import GlobalUnknowns

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

fem = dolfinx.fem


class StirredReceptor(Term, GlobalUnknowns):
    """The receptor of a Franz cell (module docstring): `depth` [m] = volume / membrane area;
    `composition` [mol/m^3] per species, the interstitial fluid's where not given."""

    name = "receptor"
    replaces = (InterstitialBoundary,)
    MAX_RISE, MAX_DROP = 10.0, 5.0  # the fields' limits on a Newton update of ln(c)

    def __init__(
        self,
        depth: float,
        composition: dict[str, float] | None = None,
        sample_fraction: float = 0.0,
        fluid: Any = None,
    ):
        if not depth > 0:
            raise ValueError(f"receptor depth (volume per membrane area) must be positive, got {depth!r} m")
        if not 0.0 <= sample_fraction < 1.0:
            raise ValueError(f"a sample is a fraction of the receptor in [0, 1), got {sample_fraction!r}")
        self.depth = depth
        self.composition = dict(composition or {})
        self.sample_fraction = sample_fraction
        self.fluid = fluid  # a scenario Fluid, balanced at set-up into `composition`
        self._forms: dict[str, Any] | None = None

    @classmethod
    def switched_on(cls, scenario, model: Model) -> StirredReceptor | None:
        """The receptor of a Franz cell's set-up (scenario.setup.receptor)."""
        receptor = scenario.setup.receptor
        if scenario.setup.kind != "franz_cell" or receptor is None:
            return None
        fraction = receptor.sampling.volume / receptor.volume if receptor.sampling is not None else 0.0
        return cls(receptor.volume / scenario.donor.area, sample_fraction=fraction, fluid=receptor.contents)

    # ------------------------------------------------------------------ set-up
    def setup(self, model: Model) -> None:
        from iontosim.model.compositions import balanced, body_fluid

        if self.fluid is not None:  # a free solution at the deepest layer's pH: its ionized forms
            ionized = balanced(model, self.fluid.concentrations, self.fluid.balance_with, model.deepest)
            self.composition = dict(zip(model.names, ionized))
        self.model = model
        self.size = model.ns
        bottom = model.regions[model.deepest]
        start = body_fluid(model) * 1.0  # the pore fluid of the deepest layer, ionized forms
        c0 = np.array([self.composition.get(n, start[i] / bottom.partition[i]) for i, n in enumerate(model.names)])
        self.g = np.log(c0)
        self.g_previous = self.g.copy()
        self.c_start = c0.copy()
        # With a moving pH the receptor is buffered: its H+ and OH- stay as they were (a large
        # buffer takes every proton that arrives), and the weak electrolytes keep its pH's ratio.
        self.pinned = [model.index("H+"), model.index("OH-")] if model.moving_pH else []
        self.sampled = np.zeros(model.ns)  # mol/m^2 the samples took, net of the fresh fluid

    def boundary_conditions(self, model: Model) -> list:
        fdim = model.mesh.topology.dim - 1
        deep = model.column.facet_tags.find(DEEP)
        self.tied_values, self.tied, bcs = [], [], []
        for i in range(model.ns):
            Vi, _ = model.W.sub(i).collapse()
            dofs = fem.locate_dofs_topological((model.W.sub(i), Vi), fdim, deep)
            value = fem.Function(Vi)
            value.x.array[:] = self.g[i]
            self.tied_values.append(value)
            self.tied.append(dofs[0])
            bcs.append(fem.dirichletbc(value, dofs, model.W.sub(i)))
        self.area = model.area(model.ds(DEEP))
        # what the receptor holds per unit of its ionized forms' concentration: both forms of a weak
        # electrolyte, at the deepest layer's pH (the receptor is taken to share it)
        self.capacity = self.depth * self.area * (1.0 + model.partner_ratio[model.deepest])
        return bcs

    def global_unknowns(self, model: Model) -> GlobalUnknowns:
        return self

    def _build(self) -> dict[str, Any]:
        """Forms, built once the model's residual exists: per species, those of its tied nodes
        (Model.tied_node_forms)."""
        if self._forms is None:
            per_species = [self.model.tied_node_forms(dofs) for dofs in self.tied]
            self._forms = {key: [forms[key] for forms in per_species] for key in ("flux", "gradient", "column")}
            self._forms["tied"] = np.concatenate(self.tied)
        return self._forms

    # ------------------------------------------------------------------ the scalar unknowns
    def _leaving(self) -> np.ndarray:
        """F_i(u; phi_i): the residual summed over the tied nodes of each species."""
        return np.array([self.model.summed(parts) for parts in self._build()["flux"]])

    def equations(self) -> np.ndarray:
        storage = self.capacity * (np.exp(self.g) - np.exp(self.g_previous)) / float(self.model.dt.value)
        out = storage + self._leaving()
        out[self.pinned] = (self.g - np.log(self.c_start))[self.pinned]
        return out

    def coupling(self) -> tuple[list[PETSc.Vec], list[PETSc.Vec], np.ndarray]:
        forms = self._build()
        rows = [self.model.petsc_vector(parts) for parts in forms["gradient"]]
        columns = []
        owned = self.model.W.dofmap.index_map.size_local * self.model.W.dofmap.index_map_bs
        for i, parts in enumerate(forms["column"]):
            vec = self.model.petsc_vector(parts)
            tied = forms["tied"]
            vec.array[tied[tied < owned]] = 0.0  # every tied row is u + du = g + dg ...
            mine = self.tied[i]
            vec.array[mine[mine < owned]] = -1.0  # ... of its own species
            columns.append(vec)
        D = np.diag(self.capacity * np.exp(self.g) / float(self.model.dt.value))
        for i in self.pinned:
            rows[i].set(0.0)
            D[i, i] = 1.0
        return columns, rows, D

    def update(self, delta: np.ndarray) -> float:
        damped = np.where(
            delta > 0.0, np.minimum(np.log1p(np.maximum(delta, 0.0)), self.MAX_RISE), np.maximum(delta, -self.MAX_DROP)
        )
        self.g = self.g + damped
        for value, g in zip(self.tied_values, self.g):
            value.x.array[:] = g
        return float(np.max(np.abs(damped), initial=0.0))

    def keep(self) -> None:
        self.g_previous = self.g.copy()

    def revert(self) -> None:
        self.update(self.g_previous - self.g)

    # ------------------------------------------------------------------ bookkeeping
    def concentrations(self) -> np.ndarray:
        """mol/m^3 of each species in the receptor (both forms of a weak electrolyte)."""
        return np.exp(self.g) * (1.0 + self.model.partner_ratio[self.model.deepest])

    def permeated(self) -> np.ndarray:
        """mol per m^2 of the donor electrode of each species the receptor gained since the start."""
        return self.capacity / self.model.anode_area * (np.exp(self.g) - self.c_start)

    def ledger(self, model: Model) -> list[LedgerEntry]:
        # both forms of a weak electrolyte arrive: their mean charge at the receptor's pH
        charges = model.row_charges()[model.deepest]

        def rates() -> np.ndarray:
            gained = self.capacity / model.anode_area * (np.exp(self.g) - np.exp(self.g_previous))
            rate = gained / float(model.dt.value)
            if self.pinned:  # what arrived of H+ (and protons on weak electrolytes) went to the buffer
                rate[self.pinned] = -self._leaving()[self.pinned] / model.anode_area
            return model.region_rates(model.deepest, rate)

        def current(ledger: Ledger) -> float:  # the receptor is a free solution: its ions carry their own charge
            return FARADAY * float((ledger.rates_of("permeated").sum(axis=0) * charges).sum())

        return [
            LedgerEntry(
                "permeated",
                rates=rates,
                current=current,
                description="that crossed the membrane into the stirred receptor (what Franz-cell studies report)",
            )
        ]

    def at_event(self, model: Model, event: Any, ledger: Ledger) -> None:
        if event.kind != "sample_receptor" or self.sample_fraction == 0.0:
            return
        f = self.sample_fraction
        c = np.exp(self.g)
        refreshed = (1.0 - f) * c + f * self.c_start
        self.sampled += self.capacity / model.anode_area * (c - refreshed)
        self.g = np.log(refreshed)
        self.g_previous = self.g.copy()
        for value, g in zip(self.tied_values, self.g):
            value.x.array[:] = g

    def series(self, model: Model) -> dict[str, Series | str]:
        out: dict[str, Series | str] = {
            f"receptor_concentration/{n}": Series("mol/m^3", f"concentration of {n} (all its forms) in the receptor")
            for n in model.names
        }
        if self.sample_fraction > 0.0:
            out |= {
                f"receptor_sampled/{n}": Series(
                    "mol/m^2",
                    f"{n} the receptor samples took since the start, net of the fresh fluid that replaced them, per "
                    "area of the donor electrode",
                    "positive: taken out of the receptor",
                )
                for n in model.names
            }
        return out

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        out = {f"receptor_concentration/{n}": float(c) for n, c in zip(model.names, self.concentrations())}
        if self.sample_fraction > 0.0:
            out |= {f"receptor_sampled/{n}": float(a) for n, a in zip(model.names, self.sampled)}
        return out

    def state(self) -> dict[str, Any]:
        return {"g": self.g.copy(), "g_previous": self.g_previous.copy(), "sampled": self.sampled.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        self.g_previous = state["g_previous"].copy()
        self.update(state["g"] - self.g)
        self.sampled = state["sampled"].copy()
