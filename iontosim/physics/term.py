"""What a physical term of the model is, and what it hands to the model that composes it.

A term is the unit of physics (transport, electroneutrality, clearance, an electrode...). One
module owns one term, and the term owns everything about it:

- its coefficients (built in `setup`, from the scenario or from its own constructor arguments);
- its contribution to the residual (`residual`, and `separate_residual` for a part that must be
  compiled on its own, such as the midpoint-quadrature fitted flux);
- what it adds to the shared relations of the model: the mobile forms that carry charge
  (`transported_forms`), what a unit of pore volume holds of each species (`total`, `held`) and
  immobile charge (`immobile_charge`);
- its entries in the mass and charge ledger (`ledger`): what it takes out of the modelled system
  per species, and the current it passes; the model sums them into the balances;
- its output series, each declared with its unit, what it is and its sign convention (`series`,
  `Series`), their values (`values`), and facts for the summary (`facts`);
- what a checkpoint must keep of it (`state`, `restore`);
- scalar unknowns beside the fields (`global_unknowns`): a stirred compartment's composition, an
  electrode potential.

Every hook has a neutral default, so a term writes only what it has. The model calls the hooks in
the order of its term list (iontosim.model.Model), and the time loop (iontosim.simulation) knows
no term by name. Units: SI inside; amounts per area are per m^2 of the donor electrode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from iontosim.model import Model
    from iontosim.solver.newton import GlobalUnknowns


#: what the amounts and fluxes of a run's series are per: the donor electrode's area, and in
#: return_electrode.h5 (the 1D column under the return electrode, solved apart) the return pad's
PER_AREA = "per area of the donor electrode (in return_electrode.h5: of the return pad)"


@dataclass(frozen=True)
class TransportedForm:
    """One mobile form of a species: its concentration c [mol/m^3 of pore fluid] and electrochemical
    potential mu (UFL), its partition coefficient K and charge number z (cell-wise fields or
    numbers), and the index of the species it belongs to (a weak electrolyte has two forms)."""

    concentration: Any
    potential: Any
    partition: Any
    charge: Any
    species: int
    #: other species whose conservation law the form's flux also enters (with moving pH, a
    #: protonated form carries a proton: it enters the H+ balance too)
    also: tuple[int, ...] = ()
    #: its own effective diffusivity [m^2/s] (a cell-wise field), where it is not its species'
    #: (the neutral form's in the stratum corneum's lipids)
    diffusivity: Any = None


#: the sign of every ledger amount (LedgerEntry): what a term takes out of the modelled system
LEDGER_SIGN = "positive: taken out of the modelled system; negative: put into it"


@dataclass(frozen=True)
class Series:
    """An output series as the term that records it declares it: its SI `unit`, a `description`
    of what it is (for a reader of results.h5, where it is the dataset's description), and, where
    its value has a sign, which way is positive (`sign_convention`; empty otherwise)."""

    unit: str
    description: str
    sign_convention: str = ""


@dataclass
class LedgerEntry:
    """An amount a term takes out of the modelled system (negative: puts in), per species.

    `rates()` returns mol/(m^2 s) per (region, species) at the present state, per m^2 of the donor
    electrode; a boundary puts its rate in the region it touches. The time loop integrates them
    over each accepted step as the time scheme integrates the stored amounts (Ledger.integrate),
    so that the balances close to round-off. `current(ledger)`
    [A/m^2 of the donor electrode] is the electric current the entry takes out of the system
    (charge leaving per time); it may read the rates of this step (`ledger.rates_of`). An entry
    may have a current only (charge exchanged with something immobile, e.g. buffers).
    `recorded` entries appear as cumulative series "<name>/<species>" [mol/m^2], described by
    `description` (what the amount is: "taken up by the dermal capillaries"; sign LEDGER_SIGN).
    An `instantaneous` entry has no rate: its term books what it takes at an instant (a patch
    taken off with what is left in it, a receptor sample) with `Ledger.book`.
    """

    name: str
    rates: Callable[[], np.ndarray] | None = None
    current: Callable[[Ledger], float] | None = None
    recorded: bool = True
    instantaneous: bool = False
    description: str = ""


@dataclass
class Ledger:
    """Every entry of every term, integrated over the run: the one place the balances come from."""

    entries: list[LedgerEntry]
    shape: tuple[int, int]  # (regions, species)
    cumulative: dict[str, np.ndarray] = field(default_factory=dict)  # mol/m^2 per species
    last: dict[str, np.ndarray] = field(default_factory=dict)  # mol/(m^2 s) per (region, species)
    booked: dict[str, np.ndarray] = field(default_factory=dict)  # mol/m^2 per (region, species), last step

    def __post_init__(self) -> None:
        names = [e.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ValueError(f"ledger entries must have distinct names, got {names}")
        for entry in self.entries:
            if entry.rates is not None or entry.instantaneous:
                self.cumulative.setdefault(entry.name, np.zeros(self.shape[1]))
                self.last.setdefault(entry.name, np.zeros(self.shape))
                self.booked.setdefault(entry.name, np.zeros(self.shape))

    def book(self, name: str, amounts: np.ndarray) -> None:
        """Add what an instantaneous entry took out at an instant [mol/m^2 per species; negative: put in]."""
        self.cumulative[name] += amounts

    def integrate(self, step: float, weights: tuple[float, float, float] = (1.0, 1.0, 0.0)) -> None:
        """Evaluate every rate at the present state and book what it took over the step.

        Backward Euler books step x rate. Variable-step BDF2 (weights a0, a1, a2 of
        solver/stepping.bdf2_weights, a1 = a0 + a2) stores a0 dM_n - a2 dM_n-1 = step x rate, dM
        being a step's change of the stored amounts; booking (step x rate + a2 x what the entry
        booked in the step before) / a0 keeps every balance closed to round-off."""
        lead, carried = weights[0], weights[2]
        for entry in self.entries:
            if entry.rates is not None:
                rates = self.last[entry.name] = entry.rates()
                booked = step * rates
                if carried:
                    booked = (booked + carried * self.booked[entry.name]) / lead
                self.booked[entry.name] = booked
                self.cumulative[entry.name] += booked.sum(axis=0)

    def rates_of(self, name: str) -> np.ndarray:
        """The rates [mol/(m^2 s), (region, species)] of entry `name` at the end of the last step."""
        return self.last[name]

    def booked_in_step(self, name: str) -> np.ndarray:
        """What entry `name` took over the last step [mol/m^2, (region, species)]."""
        return self.booked[name]

    def removed(self) -> np.ndarray:
        """mol/m^2 of each species taken out of the system so far, all entries together."""
        total = np.zeros(self.shape[1])
        for amount in self.cumulative.values():
            total = total + amount
        return total

    def largest_removed(self) -> np.ndarray:
        """The largest amount any one entry took out, per species (a scale for the balance)."""
        if not self.cumulative:
            return np.zeros(self.shape[1])
        return np.max(np.abs(np.stack(list(self.cumulative.values()))), axis=0)

    def current_out(self) -> float:
        """A/m^2 leaving the system through every entry with a current: zero when charge is conserved."""
        return sum(entry.current(self) for entry in self.entries if entry.current is not None)

    def state(self) -> dict[str, Any]:
        return {
            "cumulative": {k: v.copy() for k, v in self.cumulative.items()},
            "last": {k: v.copy() for k, v in self.last.items()},
            "booked": {k: v.copy() for k, v in self.booked.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        for key, value in state["cumulative"].items():
            self.cumulative[key][:] = value
        for key, value in state["last"].items():
            self.last[key][:] = value
        for key, value in state.get("booked", {}).items():
            self.booked[key][:] = value


@dataclass(frozen=True)
class Step:
    """The time step the loop is on: from t_start to t_end [s] (`length` the step the solve took,
    which t_end may round onto a protocol breakpoint) at current density `current` [A/m^2,
    positive when the donor electrode is the anode]."""

    t_start: float
    t_end: float
    length: float
    current: float


class Term:
    """A physical term (see the module docstring). Subclasses set `name` and override the hooks
    they need; the defaults contribute nothing."""

    #: the term's name: its key in checkpoints and in error messages
    name: str = "term"
    #: kinds of term this one stands in for when a caller adds it (a stirred receptor for the deep
    #: tissue's fixed composition): the model leaves those out
    replaces: tuple[type[Term], ...] = ()

    # ------------------------------------------------------------------ set-up
    def setup(self, model: Model) -> None:
        """Build coefficients (cell-wise fields, constants); called once, before any form is built."""

    def build(self, model: Model) -> None:
        """Build the forms the term evaluates itself (diagnostics), once the model's relations exist."""

    # ------------------------------------------------------------------ shared relations
    def transported_forms(self, model: Model) -> Sequence[TransportedForm]:
        """Mobile forms this term brings (the ionized forms, a weak electrolyte's partner form)."""
        return ()

    def total(self, model: Model, species: int, c: Any, ionized: Sequence[Any]) -> Any:
        """All dissolved forms of `species` per pore volume, from the one before this term's
        (starting with the ionized form's concentration c); `ionized` every species' ionized form
        at the same state."""
        return c

    def adjust_forms(self, model: Model, forms: list[TransportedForm]) -> list[TransportedForm]:
        """The mobile forms, changed where this term says more of them (which equations beside
        their own species' a form's flux enters: a protonated form carries a proton)."""
        return forms

    def held(self, model: Model, species: int, amount: Any, c: Sequence[Any]) -> Any:
        """What a unit of pore volume holds of `species`, from `amount` (the total, and what terms
        before this one added: bound drug, protons on buffers); `c` the ionized forms."""
        return amount

    def immobile_charge(self, model: Model, c: Sequence[Any]) -> Any:
        """Charge density [mol/m^3 of pore fluid] of what does not move: fixed charge, buffers, bound ions."""
        return None

    def nodal_charge(self, model: Model, ionized: np.ndarray) -> np.ndarray | None:
        """The immobile charge [mol/m^3] at every (owned cell, vertex) from the nodal ionized forms
        (species, entries), where it follows the local state (a moving pH); None otherwise."""
        return None

    # ------------------------------------------------------------------ equations
    def residual(self, model: Model) -> Any:
        """The term's part of the residual (vertex quadrature, tested with model.tests), or None."""
        return None

    def separate_residual(self, model: Model) -> Any:
        """A part compiled as a form of its own (another quadrature), or None."""
        return None

    def boundary_conditions(self, model: Model) -> list:
        """Dirichlet conditions (dolfinx DirichletBC) this term imposes."""
        return []

    def global_unknowns(self, model: Model) -> GlobalUnknowns | None:
        """Scalar unknowns with their equations, solved together with the fields (solver/newton.py)."""
        return None

    def initial_state(self, model: Model) -> None:
        """Set this term's part of the initial state (after the fields have theirs)."""

    # ------------------------------------------------------------------ time loop
    def before_step(self, model: Model, step: Step) -> None:
        """Update what is explicit in a step (the current, a lagged flow) before it is solved."""

    def after_step(self, model: Model, step: Step, ledger: Ledger) -> None:
        """Advance what the term integrates itself (ODEs, bookkeeping) after an accepted step; the
        ledger already holds the step's rates."""

    def start(self, model: Model, ledger: Ledger) -> None:
        """Note what the run starts from (initial amounts), before the first step."""

    def at_event(self, model: Model, event: Any, ledger: Ledger) -> None:
        """Act on a protocol event at the present time (solver/protocol.Event: a patch taken off or
        put on), booking what it moves in the term's instantaneous ledger entries."""

    def explain_failure(self, model: Model, step: Step) -> str:
        """Why no state can satisfy the equations in `step`, when the term knows (a device limit,
        not the solver's): '' otherwise. Asked when the time step cannot be cut further."""
        return ""

    # ------------------------------------------------------------------ bookkeeping and output
    def ledger(self, model: Model) -> list[LedgerEntry]:
        """The term's entries in the mass and charge ledger."""
        return []

    def series(self, model: Model) -> dict[str, Series | str]:
        """Output series this term records: key -> Series (its SI unit, description and sign
        convention); a bare unit string is accepted (the series is then described by its term's name)."""
        return {}

    def values(self, model: Model, step: Step | None, ledger: Ledger) -> dict[str, float]:
        """The value of each of its series at the present state (`step` None at t = 0)."""
        return {}

    def facts(self, model: Model) -> dict[str, Any]:
        """Scalars for the run's record (e.g. a patch's peak local current), at the end of the run."""
        return {}

    def state(self) -> dict[str, Any]:
        """What a checkpoint must keep of this term to continue the run exactly."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` returned."""
