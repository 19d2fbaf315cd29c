"""One run: build the model, step through the protocol, collect what a run reports.

The time loop knows no physical term by name: it sets each step's current, solves, integrates the
terms' ledger entries, and records the series the terms declare. The mass balance of every
species and the charge balance are sums over the ledger (physics/term.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from iontosim import interruption
from iontosim._fenics import MPI
from iontosim.model import Model
from iontosim.output.probes import depth_profile
from iontosim.output.record import LayerSpan, Profile, RunRecord
from iontosim.physics.ionization import WeakElectrolytes
from iontosim.physics.term import LEDGER_SIGN, PER_AREA, Series, Step, Term
from iontosim.solver.newton import NewtonSolver
from iontosim.solver.protocol import build_schedule
from iontosim.solver.stepping import BDF2_STARTUP, ErrorController, LocalError, StepController, bdf2_weights

#: what a checkpoint's state holds changes with this number (4: protocol events; 5: plasma series
#: of the species with a systemic model only, the balance's rows kept as imbalance and amount moved;
#: 6: the step history of error control and BDF2, what each ledger entry booked in the last step;
#: 7: a patch's local current densities per step, not only their largest so far; 8: the same,
#: kept per measure)
CHECKPOINT_VERSION = 8
_IMBALANCE, _MOVED = "_imbalance/", "_moved/"  # rows of the mass balance until the run ends


class SimulationError(RuntimeError):
    """The solver could not continue (time step below its minimum)."""


class DeviceLimit(SimulationError):
    """No state satisfies the equations because the device is at a limit (an Ag/AgCl anode out of
    chloride), not because the solver failed: no other discretization can help."""


def simulate(
    scenario,
    comm: MPI.Comm,
    progress: Callable[[float, float, dict], None] | None = None,
    skin_mesh=None,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: float = 600.0,
    resume: dict | None = None,
    fields: Callable[[Model, float], None] | None = None,
    extra_terms: Iterable[Term] = (),
) -> RunRecord:
    """Run `scenario` on `comm`; every rank returns the same record (profiles complete on rank 0).

    numerics.flux "auto" runs the fitted flux and, if its Newton solves fail, redoes the run with
    the lumped flux and says so in the record's warnings. With a return_electrode, the column under
    it is solved too (the same current, the opposite polarity) and kept as record.return_record.

    Restart: `checkpoint(state)` is called on every rank after an accepted step at most every
    `checkpoint_every` seconds of wall time, with this rank's state of the run; `resume` continues
    from such a state (same scenario, same number of ranks) and gives the uninterrupted answer.
    Scenarios whose return electrode is a column of its own (1D) are not checkpointed.

    `fields(model, t)` is called on every rank at each of outputs.profile_times (field output).
    `extra_terms` are terms of the caller's, added to the scenario's own (physics/term.py).
    """
    from iontosim.mesh.of_scenario import on_mesh, scenario_mesh
    from iontosim.scenario.membrane import modelled_scenario

    scenario, notes = modelled_scenario(scenario)  # a Franz cell's membrane, without blood flow
    if skin_mesh is None and on_mesh(scenario):  # the scenario's own patch, never a column in its place
        skin_mesh = scenario_mesh(scenario, comm)
    # On a patch whose mesh holds the return electrode, one model solves both electrodes;
    # otherwise the return electrode's pad is a column of its own.
    return_column = scenario.return_electrode is not None and not _meshes_return(skin_mesh)
    if return_column:
        checkpoint = None
    run = {
        "comm": comm,
        "progress": progress,
        "skin_mesh": skin_mesh,
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "fields": fields,
        "extra_terms": tuple(extra_terms),
        "warnings": notes,
    }
    record = _simulate_column(scenario, resume=resume, **run)
    if return_column:
        record.return_record = _simulate_column(_return_column(scenario), comm=comm, progress=progress)
    if scenario.setup.passive_control:
        passive = _passive_control(scenario)
        record.passive_record = _simulate_column(passive, comm=comm, skin_mesh=skin_mesh, warnings=notes)
    return record


def _passive_control(scenario):
    """The same experiment without current: every current step a rest of its duration."""
    protocol = [
        step.model_copy(
            update={"kind": "rest", "current": None, "current_density": 0.0, "pulse": None, "reverse_every": None}
        )
        if step.kind == "current"
        else step
        for step in scenario.protocol
    ]
    return scenario.model_copy(update={"name": f"{scenario.name} (passive control)", "protocol": protocol})


def _meshes_return(skin_mesh) -> bool:
    from iontosim.mesh.skin_mesh import RETURN

    return skin_mesh is not None and RETURN in skin_mesh.boundaries and not skin_mesh.geometry.laterally_uniform


def _return_column(scenario):
    """The scenario of the column under the return electrode: its pad, the opposite polarity, the
    same total current over its own area."""
    pad = scenario.return_electrode
    opposite = "cathode" if scenario.donor.polarity == "anode" else "anode"
    scale = scenario.donor.area / pad.area
    protocol = [step.model_copy(update={"current_density": step.current_density * scale}) for step in scenario.protocol]
    return scenario.model_copy(
        update={
            "name": f"{scenario.name} (return electrode)",
            "return_electrode": None,
            "protocol": protocol,
            "donor": pad.model_copy(update={"polarity": opposite}),
        }
    )


def _simulate_column(scenario, resume: dict | None = None, **run) -> RunRecord:
    """One column (or patch), with the `auto` flux's fallback; a resumed run takes the flux it was
    checkpointed with, and falls back as the uninterrupted run would have."""
    run.setdefault("warnings", [])
    if resume is not None:
        first = resume["flux"]
        run["warnings"] = resume["warnings"]
    else:
        first = "fitted" if scenario.numerics.flux == "auto" else scenario.numerics.flux
    loop = TimeLoop(_with_flux(scenario, first), **run)
    # the transport term takes the lumped flux where the cells have no fitted one: nothing to fall
    # back from, and said when the fitted flux was asked for (a resumed run's checkpoint says it)
    if resume is None and scenario.numerics.flux == "fitted" and loop.model.flux_used != "fitted":
        loop.warnings.append(
            "numerics.flux: fitted needs simplices or axis-aligned boxes; on this mesh the flux is the "
            "first-order lumped one: check the answers on a finer mesh"
        )
    try:
        return loop.run(resume)
    except DeviceLimit:
        raise
    except SimulationError as err:
        if not (loop.model.flux_used == "fitted" and scenario.numerics.flux == "auto"):
            raise
        warning = (
            f"fitted flux failed ({err}); these results use the lumped flux, "
            "first order in the cell size: refine the stratum corneum to check them"
        )
        return TimeLoop(_with_flux(scenario, "lumped"), **(run | {"warnings": run["warnings"] + [warning]})).run(None)


def _with_flux(scenario, flux: str):
    return scenario.model_copy(update={"numerics": scenario.numerics.model_copy(update={"flux": flux})})


class TimeLoop:
    """One run of one column or patch through the protocol; `warnings` (e.g. why this flux) end up
    in the record after the protocol's notes."""

    def __init__(
        self,
        scenario,
        comm: MPI.Comm,
        progress=None,
        skin_mesh=None,
        checkpoint=None,
        checkpoint_every: float = 600.0,
        warnings: list[str] | None = None,
        fields=None,
        extra_terms: tuple[Term, ...] = (),
    ):
        self.scenario, self.comm = scenario, comm
        self.progress, self.checkpoint, self.checkpoint_every = progress, checkpoint, checkpoint_every
        self.fields, self.warnings = fields, list(warnings or [])
        self.model = model = Model(scenario, comm, skin_mesh, extra_terms=extra_terms)
        bcs = model.boundary_conditions()
        model.initial_state()
        num = scenario.numerics
        self.globals = model.global_unknowns()
        self.newton = NewtonSolver(
            model.residual,
            model.jacobian,
            model.u,
            bcs,
            linear_solver=num.linear_solver,
            tol=num.newton_tol,
            max_iter=num.newton_max_iter,
            limit_update=model.limit_update,
            direct_solver_limit=num.direct_solver_limit,
            krylov_rtol=num.krylov_rtol,
            krylov_max_iter=num.krylov_max_iter,
            global_unknowns=self.globals,
            reuse_preconditioner=num.reuse_preconditioner,
        )
        self.effort = dict(
            linear_solver=self.newton.linear_solver,
            unknowns=self.newton.unknowns,
            ranks=comm.size,
            time_steps=0,
            rejected_steps=0,
            newton_iterations=0,
            krylov_iterations=0,
        )
        self.schedule = build_schedule(
            scenario.protocol, scenario.donor.polarity, num.min_resolved_pulse_period, scenario.sampling_times()
        )
        self.profile_times = [float(t) for t in scenario.outputs.profile_times]
        self.stops = self.schedule.breakpoints(self.profile_times)
        self.control = self._step_control(num)
        self.ledger = model.ledger()
        self.declared = self._declared()
        self.units = {key: series.unit for key, series in self.declared.items()}
        self.rows: dict[str, list[float]] = {}
        self.profiles: list[Profile | None] = []
        self.t, self.stop_index, self.next_event = 0.0, 1, 0
        #: BDF2: the length [s] of the step before the present one; None at the start and after
        #: a sudden change, where the next step is backward Euler
        self.previous_step: float | None = None
        #: accepted steps since then: BDF2 waits BDF2_STARTUP of them (both step rules restart
        #: from the small numerics.dt_initial), which damps the switch-on layer
        self.steps_since_restart = 0
        self.weights = (1.0, 1.0, 0.0)

    def _step_control(self, num) -> StepController:
        if num.step_control == "iterations":
            return StepController(num.dt_initial, num.max_step(self.schedule.end), growth=num.dt_growth)
        estimate = LocalError(num.step_tolerance, order=2 if num.time_scheme == "bdf2" else 1)
        return ErrorController(num.dt_initial, num.max_step(self.schedule.end), estimate=estimate, order=estimate.order)

    @property
    def _estimate(self) -> LocalError | None:
        return self.control.estimate if isinstance(self.control, ErrorController) else None

    # ------------------------------------------------------------------ what is recorded
    def _declared(self) -> dict[str, Series]:
        """Every series the run records, with its unit, description and sign convention: the loop's
        own, the terms', the ledger's."""
        m = self.model
        declared = {
            "time": Series("s", "time since the start of the protocol at each accepted time step"),
            "current_density": Series(
                "A/m^2",
                "applied current density over the donor electrode's area in the time step that ended at this time",
                "positive when the donor electrode is the anode (current flows into the skin under it)",
            ),
            "charge_balance_error": Series(
                "1",
                "|current leaving the model through every ledger entry| over the applied current: a round-off "
                "estimate of the charge balance (0 without current)",
            ),
        }
        for term in m.terms:
            for key, series in term.series(m).items():
                if not isinstance(series, Series):  # a bare unit
                    series = Series(series, f"{key}, recorded by the term {term.name!r}")
                declared[key] = series
        for entry in self.ledger.entries:
            if entry.recorded and (entry.rates is not None or entry.instantaneous):
                what = entry.description or f"taken out of the model by the term's ledger entry {entry.name!r}"
                for n in m.names:
                    declared[f"{entry.name}/{n}"] = Series(
                        "mol/m^2", f"{n} {what}, cumulative since the start, {PER_AREA}", LEDGER_SIGN
                    )
        for region in m.regions[1:]:
            for n in m.names:
                declared[f"layer_amount/{region.name}/{n}"] = Series(
                    "mol/m^2", f"{n} held in {region.name} (all its forms, dissolved and bound), {PER_AREA}"
                )
        for n in m.names:
            declared[f"mass_balance_error/{n}"] = Series(
                "1",
                f"|what the model holds of {n} - what it held at the start + every ledger amount| relative to the "
                "largest amount that entered, left or moved between regions in the run: a round-off estimate of "
                "the mass balance",
            )
        return declared

    def _record(self, step: Step | None) -> None:
        m, ledger = self.model, self.ledger
        row: dict[str, float] = {"time": self.t, "current_density": step.current if step is not None else 0.0}
        for term in m.terms:
            row |= term.values(m, step, ledger)
        current = step.current if step is not None else 0.0
        row["charge_balance_error"] = abs(ledger.current_out()) / abs(current) if current != 0 else 0.0
        for name, amounts in ledger.cumulative.items():
            if f"{name}/{m.names[0]}" in self.units:
                row |= {f"{name}/{n}": amounts[k] for k, n in enumerate(m.names)}
        for j, region in enumerate(m.regions[1:], start=1):
            row |= {f"layer_amount/{region.name}/{n}": m.inventory[j, k] for k, n in enumerate(m.names)}
        row |= self._mass_balance()
        for key, value in row.items():
            self.rows.setdefault(key, []).append(value)

    def _mass_balance(self) -> dict[str, float]:
        """Per species, the imbalance |stored - stored at start + every ledger entry's amount| and
        what moved so far (in, out, or between regions: a return pad's uptake), both in mol/m^2.
        Kept apart until the run ends (_balance_errors)."""
        m, ledger = self.model, self.ledger
        total, total0 = m.inventory.sum(axis=0), self.inventory0.sum(axis=0)
        lost = total - total0 + ledger.removed()
        moved = np.max(np.abs(m.inventory - self.inventory0), axis=0)
        scale = np.maximum.reduce([ledger.largest_removed(), moved, 1e-12 * np.abs(total0), np.full(m.ns, 1e-300)])
        return {f"{_IMBALANCE}{n}": abs(lost[k]) for k, n in enumerate(m.names)} | {
            f"{_MOVED}{n}": scale[k] for k, n in enumerate(m.names)
        }

    def _balance_errors(self) -> dict[str, np.ndarray]:
        """The mass-balance error of every species at every time: its imbalance relative to the
        largest amount that moved in the whole run. Relative to what had moved by then, the first
        steps' roundoff (1e-19 mol/m^2 against 1e-15 moved at t = 1 ms) would read as 1e-4."""
        errors = {}
        for n in self.model.names:
            lost = np.asarray(self.rows.pop(f"{_IMBALANCE}{n}"), dtype=float)
            moved = np.asarray(self.rows.pop(f"{_MOVED}{n}"), dtype=float)
            errors[f"mass_balance_error/{n}"] = lost / np.max(moved, initial=1e-300)
        return errors

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """This rank's state of the run: enough to continue it exactly (see simulate)."""
        return {
            "version": CHECKPOINT_VERSION,
            "flux": self.scenario.numerics.flux,
            "warnings": list(self.warnings),
            "u": self.model.u.x.array.copy(),
            "t": self.t,
            "stop_index": self.stop_index,
            "next_event": self.next_event,
            "dt": self.control.dt,
            "step_history": list(self._estimate.history) if self._estimate is not None else [],
            "step_scale": self._estimate.scale.copy() if self._estimate is not None else None,
            "previous_step": self.previous_step,
            "steps_since_restart": self.steps_since_restart,
            "u_before": self.model.u_before.x.array.copy() if self.model.bdf2 else None,
            "inventory0": self.inventory0.copy(),
            "ledger": self.ledger.state(),
            "terms": {term.name: term.state() for term in self.model.terms},
            "rows": {k: list(v) for k, v in self.rows.items()},
            "profiles": list(self.profiles),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        m = self.model
        m.u.x.array[:] = state["u"]
        m.u.x.scatter_forward()
        m.inventory = m.amounts()
        self.inventory0 = state["inventory0"].copy()
        self.ledger.restore(state["ledger"])
        for term in m.terms:
            term.restore(state["terms"][term.name])
        self.rows = {k: list(v) for k, v in state["rows"].items()}
        self.profiles = list(state["profiles"])
        self.t, self.stop_index, self.control.dt = state["t"], state["stop_index"], state["dt"]
        if self._estimate is not None:
            self._estimate.history = list(state["step_history"])
            self._estimate.scale = state["step_scale"].copy()
        self.previous_step = state.get("previous_step")
        self.steps_since_restart = state.get("steps_since_restart", 0)
        if m.bdf2:
            m.u_before.x.array[:] = state["u_before"]
        self.next_event = state["next_event"]

    def _begin(self) -> None:
        m = self.model
        m.inventory = m.amounts()
        self.inventory0 = m.inventory.copy()
        for term in m.terms:
            term.start(m, self.ledger)
        if (estimate := self._estimate) is not None:
            estimate.scale = m.inventory.sum(axis=0)
            estimate.keep(self.t, m.inventory)
        self._record(None)
        self._events()
        self._at_output_time()

    def _events(self) -> None:
        """Every protocol event due now (a patch taken off or put on), in protocol order; the
        amounts they move are in the ledger before the next step."""
        events = self.schedule.events
        m = self.model
        while self.next_event < len(events) and events[self.next_event].time <= self.t * (1 + 1e-12) + 1e-12:
            for term in m.terms:
                term.at_event(m, events[self.next_event], self.ledger)
            m.inventory = m.amounts()
            if events[self.next_event].kind != "sample_receptor":  # a sample hardly disturbs the cell
                self._restart_steps()
            self.next_event += 1

    def _at_output_time(self) -> None:
        if any(abs(self.t - pt) <= 1e-9 * max(1.0, pt) for pt in self.profile_times):
            self.profiles.append(depth_profile(self.model, self.t))
            if self.fields is not None:
                self.fields(self.model, self.t)

    # ------------------------------------------------------------------ stepping
    def _next_step(self) -> Step:
        target = self.stops[self.stop_index]
        h = min(self.control.dt, target - self.t)
        if target - (self.t + h) < 1e-6 * h:  # do not leave a sliver before a breakpoint
            h = target - self.t
        end = target if abs(target - (self.t + h)) <= 1e-9 * max(1.0, target) else self.t + h
        return Step(self.t, end, h, self.schedule.current_at(self.t, self.t + h))

    def _solve(self, step: Step) -> bool:
        """Solve one step; False (and the state as it was) when Newton did not converge."""
        m = self.model
        m.set_current(step.current)
        m.dt.value = step.length
        for term in m.terms:
            term.before_step(m, step)
        m.u_previous.x.array[:] = m.u.x.array
        if m.bdf2:
            self.weights = bdf2_weights(step.length, self.previous_step)
            for constant, w in zip(m.time_weights, self.weights):
                constant.value = w
        for block in self.globals:
            block.keep()
        result = self.newton.solve()
        self.effort["newton_iterations"] += result.iterations
        self.effort["krylov_iterations"] += result.linear_iterations
        if result.converged and self._accurate(step):
            self.control.accepted(result.iterations, step.length)
            self.effort["time_steps"] += 1
            return True
        self.effort["rejected_steps"] += 1
        m.u.x.array[:] = m.u_previous.x.array
        for block in self.globals:
            block.revert()
        if not result.converged and not self.control.rejected(step.length):
            self._give_up(step, result.reason)
        elif result.converged and self.control.dt < self.control.dt_min:
            self._give_up(step, "local error above numerics.step_tolerance")
        return False

    def _accurate(self, step: Step) -> bool:
        """With error control: whether the step's local error is within the tolerance (and the
        next step's length from it); always with the iterations rule."""
        control = self.control
        if not isinstance(control, ErrorController) or control.estimate is None:
            return True
        amounts = self.model.amounts()
        order = 2 if self.weights[2] != 0.0 else 1  # the start-up steps of BDF2 are backward Euler
        keep = control.judge(control.estimate.error(step.t_end, amounts, order), step.length, order)
        if keep:
            control.estimate.keep(step.t_end, amounts)
        return keep

    def _give_up(self, step: Step, reason: str) -> None:
        for term in self.model.terms:
            why = term.explain_failure(self.model, step)
            if why:
                raise DeviceLimit(f"at t = {self.t / 3600:.4g} h {why}")
        hint = (
            "; numerics.flux: lumped (or auto) is the robust choice"
            if self.scenario.numerics.flux == "fitted"
            else "; try finer cells in the stratum corneum or a smaller numerics.dt_initial"
        )
        raise SimulationError(f"time step fell below {self.control.dt_min:g} s at t = {self.t:.6g} s ({reason}){hint}")

    def _accept(self, step: Step) -> None:
        m = self.model
        self.t = step.t_end
        m.inventory = m.amounts()
        self.ledger.integrate(step.length, self.weights)
        if m.bdf2:
            m.u_before.x.array[:] = m.u_previous.x.array
            self.steps_since_restart += 1
            self.previous_step = step.length if self.steps_since_restart >= BDF2_STARTUP else None
        for term in m.terms:
            term.after_step(m, step, self.ledger)
        self._record(step)
        self._events()
        self._at_output_time()
        if self.t >= self.stops[self.stop_index] * (1 - 1e-12):
            self.stop_index = min(self.stop_index + 1, len(self.stops) - 1)
            if self.schedule.current_at(self.t, self.t + 1e-9) != step.current:
                self._restart_steps()

    def _restart_steps(self) -> None:
        """After a sudden change (current switched, patch taken off): steps start again from
        numerics.dt_initial, and the error estimate extrapolates from the present state only."""
        self.control.restart()
        self.previous_step = None
        self.steps_since_restart = 0
        if (estimate := self._estimate) is not None:
            estimate.restart(self.t, self.model.inventory)

    def run(self, resume: dict | None = None) -> RunRecord:
        if resume is None:
            self._begin()
        else:
            self._restore(resume)
        t_end = self.schedule.end
        last_checkpoint = time.monotonic()
        while self.t < t_end * (1 - 1e-12):
            step = self._next_step()
            if not self._solve(step):
                continue
            self._accept(step)
            if self.progress is not None:
                self.progress(self.t, t_end, self.effort)
            if self.checkpoint is not None and self.t < t_end * (1 - 1e-12):
                due = self.comm.allreduce(time.monotonic() - last_checkpoint >= self.checkpoint_every, op=MPI.LOR)
                if due:  # every rank together: the writer gathers
                    self.checkpoint(self.state())
                    last_checkpoint = time.monotonic()
            self._stop_if_asked()
        self.newton.destroy()
        return self._record_of_run()

    def _stop_if_asked(self) -> None:
        """Stop (every rank at this step) when a signal asked to (interruption.py), keeping the state
        in a checkpoint where the run keeps them."""
        signum = self.comm.allreduce(interruption.requested() or 0, op=MPI.MAX)
        if not signum:
            return
        if self.checkpoint is not None:
            self.checkpoint(self.state())
        self.newton.destroy()
        raise interruption.Interrupted(signum, self.t, kept=self.checkpoint is not None)

    def _record_of_run(self) -> RunRecord:
        m, sc = self.model, self.scenario
        spans = [
            LayerSpan(region.name, float(a), float(b))
            for region, a, b in zip(m.regions, m.column.interfaces[:-1], m.column.interfaces[1:])
        ]
        facts: dict[str, Any] = {}
        for term in m.terms:
            facts |= term.facts(m)
        weak = m.find(WeakElectrolytes)
        balance = self._balance_errors()  # takes the balance's rows out
        series = {k: np.asarray(v) for k, v in self.rows.items() if k != "time"} | balance
        return RunRecord(
            scenario_name=sc.name,
            drug=sc.drug,
            species=list(m.names),
            charges={sp.name: sp.charge for sp in m.species},
            molar_mass={sp.name: sp.molar_mass for sp in m.species},
            area=sc.donor.area,
            layers=spans,
            times=np.asarray(self.rows.pop("time")),
            series=series,
            units=dict(self.units),
            descriptions={key: declared.description for key, declared in self.declared.items()},
            sign_conventions={key: s.sign_convention for key, s in self.declared.items() if s.sign_convention},
            profiles=[p for p in self.profiles if p is not None],
            protocol_end=self.schedule.end,
            protocol=sc.protocol_text(),
            patch=facts.get("patch"),
            solver=self.effort,
            current_on_intervals=self.schedule.on_intervals(),
            applied_charge=self.schedule.charge(),
            flux_discretization=m.flux_used,
            warnings=list(self.schedule.notes) + self.warnings,
            current_density_limit=sc.safety.max_current_density,
            voltage_limit=sc.safety.device_voltage_limit,
            stated_dose=sc.safety.stated_dose,
            skin_pH_range=tuple(sc.safety.skin_pH_range),
            weak_electrolytes=[m.names[i] for i in weak.weak] if weak is not None else [],
        )
