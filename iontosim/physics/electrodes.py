"""Electrode reactions as boundary fluxes, and what the electrodes report.

With the current density i [A/m^2] positive for an anode (current flowing into the skin):
- Ag/AgCl: anode Ag + Cl- -> AgCl + e- takes one Cl- out of the gel per electron; as a cathode
  it puts Cl- back. The skin pH is left alone.
- inert (platinum, carbon, stainless steel): water is electrolysed, anode 2 H2O -> O2 + 4 H+ + 4 e-,
  cathode 2 H2O + 2 e- -> H2 + 2 OH-: one H+ or OH- per electron enters the gel (Faraday's law:
  H+/OH- generation rate i/F), and the gel's pH drifts.
Every other species is blocked, so the drug competes with every other ion for the current.

On a 2D/3D patch an electrode may be a metal of one potential over its face
(geometry.electrodes: equipotential, Ag/AgCl only). Its potential is then a scalar unknown (MetalPotential):
the electrochemical potential of the electrode's ion, mu = ln c + z psi, takes one value g on every
node of the face, the reaction takes as much of the ion as the local field brings, and g's
equation is that the face passes the imposed total current. The current then distributes itself
and crowds at the edges as the physics says. With "uniform_current" (and always for inert
electrodes, and on the 1D column, where the two are the same) the reaction runs at the same
current density everywhere on the face. Under the shipped gels the two agree to 1e-9: the skin's
resistance dominates and the gel spreads the current evenly, so the crowding at the anode's edge is
the gel's edge over the skin, in both.

The donor electrode's term also reports what a delivery is judged by: the voltage (the electrode
follows its ion's electrochemical potential, V = (mu_e(gel) - mu_e(deep)) / z_e x RT/F), the skin's
resistance, and the drug that left the gel across the skin surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.physics.constants import FARADAY
from iontosim.physics.stirring import REPLENISHED
from iontosim.physics.term import PER_AREA, Ledger, LedgerEntry, Series, Step, Term
from iontosim.solver.newton import GlobalUnknowns

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

KINDS = ("Ag/AgCl", "inert")
#: the species each electrode's reaction needs in the scenario
NEEDS = {"Ag/AgCl": ("Cl-",), "inert": ("H+", "OH-")}
#: the ion whose electrochemical potential the electrode follows (its reversible potential)
POTENTIAL_ION = {"Ag/AgCl": "Cl-", "inert": "H+"}
#: an Ag/AgCl anode counts as out of chloride below this fraction of its gel's at its face
CHLORIDE_EXHAUSTED = 1e-3


def removal_rates(kind: str, current_density: float) -> dict[str, float]:
    """mol/m^2/s of each species the reaction takes out of the gel (negative: puts in)."""
    if kind == "Ag/AgCl":
        return {"Cl-": current_density / FARADAY}
    if kind == "inert":
        return {"H+": -max(current_density, 0.0) / FARADAY, "OH-": -max(-current_density, 0.0) / FARADAY}
    raise ValueError(f"unknown electrode {kind!r}; known: {', '.join(KINDS)}")


def boundary_terms(kind: str, current_density, tests: dict, ds):
    """Residual terms of the electrode: the outward normal flux of each reacting species times its test function."""
    from iontosim._fenics import ufl  # here, so that scenario validation does not load DOLFINx

    if kind == "Ag/AgCl":
        return current_density / FARADAY * tests["Cl-"] * ds
    if kind == "inert":
        anodic = ufl.max_value(current_density, 0.0) / FARADAY
        cathodic = ufl.max_value(-current_density, 0.0) / FARADAY
        return -anodic * tests["H+"] * ds - cathodic * tests["OH-"] * ds
    raise ValueError(f"unknown electrode {kind!r}; known: {', '.join(KINDS)}")


def equipotential(scenario, kind: str, dim: int) -> bool:
    """Whether an electrode of `kind` is one potential over its face (module docstring)."""
    choice = scenario.geometry.electrodes if scenario.geometry is not None else "uniform_current"
    return dim > 1 and choice == "equipotential" and kind == "Ag/AgCl"  # the scenario refuses inert ones


class MetalPotential(GlobalUnknowns):
    """The metal of an equipotential electrode (module docstring): the scalar unknown g, the
    electrochemical potential (thermal units) of the electrode's ion on every node of its face,
    tied there as the stirred receptor ties its composition (physics/receptor.py); its equation

        F_ion(u; phi) + r A = 0,

    F_ion(u; phi) being the residual summed over the tied nodes (minus what the field brings to
    the face) and r A the amount the reaction takes per second at the imposed mean current
    density (removal_rates) over the face's area A. On a laterally uniform face this is the
    uniform-current solution exactly."""

    size = 1

    def __init__(self, electrode: _Electrode):
        self.electrode = electrode
        self.g = np.zeros(1)
        self.g_previous = np.zeros(1)
        self._forms: dict[str, Any] | None = None

    def _locate(self, model: Model) -> None:
        """The face's nodes of the electrode's ion, the Function that ties them, the face's area."""
        from iontosim._fenics import dolfinx

        if getattr(self, "model", None) is model:
            return
        fem = dolfinx.fem
        self.model = model
        e = self.electrode
        fdim = model.mesh.topology.dim - 1
        face = model.column.facet_tags.find(e.tag)
        Vi, _ = model.W.sub(e.ion).collapse()
        self.dofs = fem.locate_dofs_topological((model.W.sub(e.ion), Vi), fdim, face)
        self.value = fem.Function(Vi)
        self.tied = self.dofs[0]
        self.area = model.area(model.ds(e.tag))

    def boundary_conditions(self, model: Model) -> list:
        from iontosim._fenics import dolfinx

        self._locate(model)
        return [dolfinx.fem.dirichletbc(self.value, self.dofs, model.W.sub(self.electrode.ion))]

    def start(self, model: Model) -> None:
        """g from the initial state: the ion's mu on the face (uniform in a fresh gel)."""
        from iontosim._fenics import MPI

        self._locate(model)
        owned = self.tied[self.tied < model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs]
        local = model.u.x.array[owned]
        total = model.comm.allreduce(float(local.sum()), op=MPI.SUM)
        count = model.comm.allreduce(len(local), op=MPI.SUM)
        self.set(np.array([total / max(count, 1)]))
        self.g_previous = self.g.copy()

    def set(self, g: np.ndarray) -> None:
        self.g = np.asarray(g, dtype=float).copy()
        self.value.x.array[:] = self.g[0]

    def _build(self) -> dict[str, Any]:
        if self._forms is None:
            self._forms = self.model.tied_node_forms(self.tied)
        return self._forms

    def _taken(self) -> float:
        """mol/s (per model depth in planar patches) the reaction takes of the ion at the imposed current."""
        e, m = self.electrode, self.model
        rate = removal_rates(e.kind, float(e.density(m).value)).get(m.names[e.ion], 0.0)
        return rate * self.area

    def equations(self) -> np.ndarray:
        return np.array([self.model.summed(self._build()["flux"]) + self._taken()])

    def coupling(self):
        forms, m = self._build(), self.model
        row, column = m.petsc_vector(forms["gradient"]), m.petsc_vector(forms["column"])
        owned = m.W.dofmap.index_map.size_local * m.W.dofmap.index_map_bs
        column.array[self.tied[self.tied < owned]] = -1.0  # every tied row is u + du = g + dg
        return [column], [row], np.zeros((1, 1))

    def update(self, delta: np.ndarray) -> float:
        self.set(self.g + delta)  # a potential: not damped (solver/newton.py)
        return float(np.max(np.abs(delta), initial=0.0))

    def keep(self) -> None:
        self.g_previous = self.g.copy()

    def revert(self) -> None:
        self.set(self.g_previous)


class _Electrode(Term):
    """What both electrodes share: a reaction on a tagged face at a current density, and the
    amounts it takes out of the gel (ledger entry `name`, per anode area). On a patch the face may
    be one metal potential (MetalPotential)."""

    tag: int
    entry: str
    metal: MetalPotential | None = None

    def _setup_electrode(self, model: Model, kind: str) -> None:
        self.kind = kind
        self.ion = model.index(POTENTIAL_ION[kind])
        self.ion_charge = float(model.species[self.ion].charge)
        self.charges = np.array([float(sp.charge) for sp in model.species])
        self.metal = MetalPotential(self) if equipotential(model.scenario, kind, model.mesh.topology.dim) else None

    def density(self, model: Model) -> Any:
        """The current density on this electrode's face (a Constant): the mean over the face of an
        equipotential one."""
        raise NotImplementedError

    def residual(self, model: Model) -> Any:
        if self.metal is not None:
            return None  # the metal's tie takes what reaches the face (MetalPotential)
        return boundary_terms(self.kind, self.density(model), model.tests_by_name, model.ds(self.tag))

    def boundary_conditions(self, model: Model) -> list:
        return self.metal.boundary_conditions(model) if self.metal is not None else []

    def global_unknowns(self, model: Model) -> GlobalUnknowns | None:
        return self.metal

    def initial_state(self, model: Model) -> None:
        if self.metal is not None:
            self.metal.start(model)

    def _metal_state(self) -> dict[str, Any]:
        return {"g": self.metal.g.copy(), "g_previous": self.metal.g_previous.copy()} if self.metal else {}

    def _restore_metal(self, state: dict[str, Any]) -> None:
        if self.metal is not None and "g" in state:
            self.metal.set(state["g"])
            self.metal.g_previous = state["g_previous"].copy()

    def _removal(self, model: Model) -> np.ndarray:
        """mol/(m^2 s) per species taken out of the gel, per anode area."""
        out = np.zeros(model.ns)
        for name, rate in removal_rates(self.kind, float(self.density(model).value)).items():
            out[model.index(name)] = rate
        return out

    def ledger(self, model: Model) -> list[LedgerEntry]:
        def rates() -> np.ndarray:
            return model.region_rates(self.region(model), self._removal(model) * self.area_ratio(model))

        def current(ledger: Ledger) -> float:
            return FARADAY * float((ledger.rates_of(self.entry).sum(axis=0) * self.charges).sum())

        return [LedgerEntry(self.entry, rates=rates, current=current, recorded=False)]

    def region(self, model: Model) -> int:
        return 0

    def area_ratio(self, model: Model) -> float:
        return 1.0

    def build(self, model: Model) -> None:
        # the mean electrochemical potential of the electrode's ion over its face (2D/3D)
        self.potential_form = (
            model.compiled(model.mu[self.ion] * model.ds(self.tag)) if model.mesh.topology.dim > 1 else None
        )

    def mean_potential(self, model: Model) -> float:
        """Mean mu of the electrode's ion over its face (a patch's electrode follows it)."""
        from iontosim._fenics import MPI, dolfinx

        total = model.comm.allreduce(dolfinx.fem.assemble_scalar(self.potential_form), op=MPI.SUM)
        return total / self.face_area(model)

    def face_area(self, model: Model) -> float:
        return model.anode_area

    def chloride_left(self, model: Model, fluid: np.ndarray) -> float:
        """The lowest Cl- at this electrode's face, as a fraction of its gel's at the start."""
        from iontosim.output.probes import lowest_on_face

        cl = model.index("Cl-")
        return lowest_on_face(model, self.tag, cl) / fluid[cl]

    def _exhausted(self, model: Model, anodic: bool, fluid: np.ndarray, where: str) -> str:
        """Why the run cannot go on when this electrode is an Ag/AgCl anode out of chloride ('' if not).
        The anode takes Cl- at i/F; once diffusion and migration cannot bring that much to its
        face, no state satisfies the electrode reaction."""
        if self.kind != "Ag/AgCl" or not anodic:
            return ""
        left = self.chloride_left(model, fluid)
        if left > CHLORIDE_EXHAUSTED:
            return ""
        return (
            f"the Ag/AgCl anode has used up the chloride at its face ({left:.1e} of the gel's left): "
            f"a real device stops or electrolyses water here; give the gel more chloride "
            f"({where}) or the protocol less charge"
        )


class DonorElectrode(_Electrode):
    """The donor electrode over its gel: its reaction at the applied current, the voltage, the
    skin's resistance, and the drug delivered across the skin surface (the gel's loss less what
    the electrode itself took)."""

    name = "donor_electrode"
    entry = "electrode_removed"

    def setup(self, model: Model) -> None:
        from iontosim.mesh.column import ELECTRODE

        self.tag = ELECTRODE
        self._setup_electrode(model, model.scenario.donor.electrode)
        self.donor0 = np.zeros(model.ns)
        self.previous_delivered = np.zeros(model.ns)
        self.flux = np.zeros(model.ns)

    def density(self, model: Model) -> Any:
        return model.current_density

    def start(self, model: Model, ledger: Ledger) -> None:
        self.donor0 = model.inventory[0].copy()

    def delivered(self, model: Model, ledger: Ledger) -> np.ndarray:
        """mol/m^2 of each species that left the gel across the skin surface (what patch changes
        took off or brought is not: physics/patch.py)."""
        from iontosim.physics.patch import PatchChanges

        patch = model.find(PatchChanges)
        exchanged = patch.donor_exchanged if patch is not None else 0.0
        # a fixed reservoir's top-ups (physics/stirring.py; negative amounts: put in) left too
        topped_up = ledger.cumulative.get(REPLENISHED, 0.0)
        return self.donor0 - model.inventory[0] - ledger.cumulative[self.entry] - exchanged - topped_up

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        delivered = self.delivered(model, ledger)
        self.flux = (delivered - self.previous_delivered) / step.length
        self.previous_delivered = delivered

    def voltage(self, model: Model) -> float:
        """V of the donor electrode against the deep tissue (or the meshed return electrode)."""
        mu_bottom = model.probed_field(model.probe(model.column.interfaces[-1]), self.ion)
        if model.mesh.topology.dim == 1:
            mu_top = model.probed_field(model.probe(model.column.interfaces[0]), self.ion)
            return (mu_top - mu_bottom) / self.ion_charge * model.thermal_voltage()
        mu_anode = self.mean_potential(model)
        ret = model.find(ReturnElectrode)
        if ret is not None:
            return (mu_anode / self.ion_charge - ret.mean_potential(model) / ret.ion_charge) * model.thermal_voltage()
        return (mu_anode - mu_bottom) / self.ion_charge * model.thermal_voltage()

    def skin_resistance(self, model: Model, step: Step | None) -> float:
        """ohm m^2: the potential drop across the skin over the current (NaN without current)."""
        if step is None or step.current == 0:
            return np.nan
        psi_s = model.probed_field(model.probe(0.0, gel_side=True), model.ns)
        psi_b = model.probed_field(model.probe(model.column.interfaces[-1]), model.ns)
        return (psi_s - psi_b) * model.thermal_voltage() / step.current

    def series(self, model: Model) -> dict[str, Series | str]:
        out: dict[str, Series | str] = {
            "voltage": Series(
                "V",
                "voltage of the donor electrode: the potential its electrode reaction follows, against the deep "
                "tissue (on a patch with a meshed return electrode, against that electrode)",
                "donor electrode minus deep tissue (or return electrode): positive when the donor is the anode",
            ),
            "skin_resistance": Series(
                "ohm m^2",
                "the skin's resistance: the potential drop from the skin surface (gel side) to the deep boundary "
                "over the current density; NaN while no current flows",
            ),
        }
        for n in model.names:
            out[f"surface_flux/{n}"] = Series(
                "mol/m^2/s",
                f"flux of {n} (all its forms) across the skin surface under the donor electrode, the mean over the "
                f"time step that ended at this time, {PER_AREA}",
                "positive into the skin",
            )
            out[f"delivered/{n}"] = Series(
                "mol/m^2",
                f"{n} that left the donor gel across the skin surface since the start (what the gel lost, less what "
                f"its electrode reaction took, patch changes and reservoir top-ups), {PER_AREA}",
                "positive into the skin",
            )
            out[f"donor_amount/{n}"] = Series("mol/m^2", f"{n} the donor gel holds (all its forms), {PER_AREA}")
        return out

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        out = {"voltage": self.voltage(model), "skin_resistance": self.skin_resistance(model, step)}
        delivered = self.delivered(model, ledger)
        for k, n in enumerate(model.names):
            out[f"surface_flux/{n}"] = self.flux[k] if step is not None else 0.0
            out[f"delivered/{n}"] = delivered[k]
            out[f"donor_amount/{n}"] = model.inventory[0, k]
        return out

    def explain_failure(self, model: Model, step: Step) -> str:
        from iontosim.model.compositions import donor_fluid

        return self._exhausted(model, step.current > 0.0, donor_fluid(model), "donor.contents")

    def state(self) -> dict[str, Any]:
        return {
            "donor0": self.donor0.copy(),
            "previous_delivered": self.previous_delivered.copy(),
            "flux": self.flux.copy(),
        } | self._metal_state()

    def restore(self, state: dict[str, Any]) -> None:
        self.donor0, self.previous_delivered, self.flux = (
            state[k].copy() for k in ("donor0", "previous_delivered", "flux")
        )
        self._restore_metal(state)


class ReturnElectrode(_Electrode):
    """The return electrode of a 2D/3D patch, meshed beside the donor electrode: it takes the same
    current back over its own area (its density scaled by the area ratio)."""

    name = "return_electrode"
    entry = "return_removed"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> ReturnElectrode | None:
        if not model.has_return:
            return None
        if scenario.return_electrode is None:
            raise ValueError("the mesh has a return electrode: the scenario needs a return_electrode section")
        return cls()

    def setup(self, model: Model) -> None:
        from iontosim._fenics import dolfinx
        from iontosim.mesh.skin_mesh import RETURN

        self.tag = RETURN
        self._setup_electrode(model, model.scenario.return_electrode.electrode)
        self.current_density = dolfinx.fem.Constant(model.mesh, 0.0)

    def density(self, model: Model) -> Any:
        return self.current_density

    def before_step(self, model: Model, step: Step) -> None:
        self.current_density.value = -step.current * model.anode_area / model.return_area

    def region(self, model: Model) -> int:
        return model.region_index("return_electrode") if "return_electrode" in model.region_names() else 0

    def area_ratio(self, model: Model) -> float:
        return model.return_area / model.anode_area

    def face_area(self, model: Model) -> float:
        return model.return_area

    def explain_failure(self, model: Model, step: Step) -> str:
        from iontosim.model.compositions import return_fluid

        return self._exhausted(model, step.current < 0.0, return_fluid(model), "return_electrode.contents")

    def state(self) -> dict[str, Any]:
        return self._metal_state()

    def restore(self, state: dict[str, Any]) -> None:
        self._restore_metal(state)
