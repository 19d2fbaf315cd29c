"""One run: build the model, step through the protocol, collect what a run reports (MODEL.md section 7)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from iontosim._fenics import MPI, dolfinx
from iontosim.model import ColumnModel
from iontosim.output.record import LayerSpan, Profile, RunRecord
from iontosim.physics import electrodes, electroosmosis, water
from iontosim.physics.constants import FARADAY
from iontosim.physics.pharmacokinetics import OneCompartment
from iontosim.solver.newton import NewtonSolver
from iontosim.solver.protocol import build_schedule
from iontosim.solver.stepping import StepController

fem = dolfinx.fem


class SimulationError(RuntimeError):
    """The solver could not continue (time step below its minimum)."""


class ChlorideExhausted(SimulationError):
    """The Ag/AgCl anode has used up the gel's chloride: a limit of the device, not of the solver."""


def _chloride_exhausted(diag: Diagnostics, cl: int | None, donor0: np.ndarray, current: float) -> str:
    """Why the run cannot go on, when the anode has taken nearly all the gel's Cl- ('' otherwise)."""
    if cl is None or current <= 0.0:
        return ""
    left = diag.layer_amounts()[0, cl]
    if left > 1e-3 * donor0[cl]:
        return ""
    return (f"the Ag/AgCl anode has used up the gel's chloride ({left / donor0[cl]:.1e} of it left): "
            "a real device stops or electrolyses water here; give the gel more chloride "
            "(donor.contents) or the protocol less charge")


class Diagnostics:
    """Integrated quantities of the current state, reduced over all ranks."""

    def __init__(self, model: ColumnModel):
        self.model = model
        self.comm = model.comm
        self.n_layers = len(model.layers)

    @staticmethod
    def _assembled(form) -> np.ndarray:
        vec = fem.assemble_vector(form)
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        return vec.array

    def _per_cell(self, form) -> np.ndarray:
        n = len(self.model.layer_of_cell)
        return self._assembled(form)[: n * self.model.ns].reshape(n, self.model.ns)

    def _by_layer(self, per_cell: np.ndarray) -> np.ndarray:
        """Sums per layer, per area of the anode (on the column the area is 1)."""
        out = np.zeros((self.n_layers, per_cell.shape[1]))
        np.add.at(out, self.model.layer_of_cell, per_cell)
        return self.comm.allreduce(out, op=MPI.SUM) / self.model.anode_area

    def layer_amounts(self) -> np.ndarray:
        """mol/m^2 per (layer, species)."""
        return self._by_layer(self._per_cell(self.model.amount_form))

    def sink_rates(self) -> np.ndarray:
        """mol/m^2/s removed by capillaries per (layer, species)."""
        if self.model.sink_form is None:
            return np.zeros((self.n_layers, self.model.ns))
        return self._by_layer(self._per_cell(self.model.sink_form))

    def reaction_rates(self) -> np.ndarray:
        """mol/m^2/s consumed by reactions (water recombination) per species, whole column."""
        if self.model.reaction_form is None:
            return np.zeros(self.model.ns)
        return self._by_layer(self._per_cell(self.model.reaction_form)).sum(axis=0)

    def protons_held(self) -> float:
        """mol/m^2 of protons carried by weak electrolytes in the whole column."""
        if self.model.proton_form is None:
            return 0.0
        return float(self._by_layer(self._per_cell(self.model.proton_form)).sum())

    def deep_outflow_rates(self) -> np.ndarray:
        """mol/m^2/s leaving through the deep boundary per species: minus the residual at its Dirichlet dofs."""
        residual = sum(self._assembled(form) for form in self.model.residual)
        n_owned = self.model.W.dofmap.index_map.size_local * self.model.W.dofmap.index_map_bs
        out = np.zeros(self.model.ns)
        for i, dofs in enumerate(self.model.deep_dofs):
            owned = dofs[dofs < n_owned]
            out[i] = -residual[owned].sum()
        return self.comm.allreduce(out, op=MPI.SUM) / self.model.anode_area

    def electroosmotic_drives(self) -> list[float]:
        """int_l X dphi/dx dx per charged layer [mol/m^3 V]."""
        m = self.model
        n = len(m.layer_of_cell)
        per_layer = np.zeros(self.n_layers)
        np.add.at(per_layer, m.layer_of_cell, self._assembled(m.drive_form)[:n])
        per_layer = self.comm.allreduce(per_layer, op=MPI.SUM) * m.thermal_voltage() / m.anode_area
        return [per_layer[k] for k, layer in enumerate(m.layers) if layer.kappa_over_mu > 0]

    def point_values(self, ion: int | None):
        """Values at marked points: mu of the electrode's ion at the electrode and at depth, psi just
        above the skin surface and at depth, and the H+ concentration just above the skin surface."""
        m = self.model
        depth = m.vertex_depths()
        lay = m.nodal_layer
        mu, K, z, X = m.nodal_fields()
        psi = m.u.x.array[m.psi_dofs]
        top, bottom = m.column.interfaces[0], m.column.interfaces[-1]
        tol = 1e-9 * (bottom - top)

        def pick(mask, values):
            v = values[mask][0] if mask.any() else -np.inf
            return self.comm.allreduce(v, op=MPI.MAX)

        axis = m.vertex_lateral() <= 1e-12  # on a patch: the anode's centre line
        mu_top = pick(np.isclose(depth, top, atol=tol) & axis, mu[ion]) if ion is not None else np.nan
        mu_bottom = pick(np.isclose(depth, bottom, atol=tol) & axis, mu[ion]) if ion is not None else np.nan
        surface = np.isclose(depth, 0.0, atol=tol) & (lay == 0) & axis
        psi_surface = pick(surface, psi)
        psi_bottom = pick(np.isclose(depth, bottom, atol=tol) & axis, psi)
        h = m.names.index("H+") if "H+" in m.names else None
        c_h = pick(surface, K[h] * np.exp(mu[h] - z[h] * psi)) if h is not None else np.nan
        return mu_top, mu_bottom, psi_surface, psi_bottom, c_h

    def profile(self, time: float) -> Profile | None:
        """Depth profiles gathered on rank 0 (None on other ranks)."""
        m = self.model
        on_axis = m.vertex_lateral() <= 1e-12  # the profile under the anode's centre line
        depth = m.vertex_depths()[on_axis]
        lay = m.nodal_layer[on_axis]
        psi = m.u.x.array[m.psi_dofs][on_axis]
        c = m.nodal_totals()[:, on_axis]
        held = c * m.nodal_retardation[:, on_axis]  # free plus bound, per pore volume
        parts = self.comm.gather((depth, lay, c, held, psi), root=0)
        if self.comm.rank != 0:
            return None
        depth, lay, psi = (np.concatenate([p[k] for p in parts]) for k in (0, 1, 4))
        c, held = (np.concatenate([p[k] for p in parts], axis=1) for k in (2, 3))
        porosity = np.array([layer.porosity for layer in m.layers])[lay]
        order = np.lexsort((lay, depth))
        depth, lay, psi, porosity = depth[order], lay[order], psi[order], porosity[order]
        c, held = c[:, order], held[:, order]
        keep = np.ones(len(depth), dtype=bool)
        keep[1:] = ~((np.abs(np.diff(depth)) <= 1e-15 * max(1.0, abs(depth[-1]))) & (np.diff(lay) == 0))
        depth, c, held, psi, porosity = depth[keep], c[:, keep], held[:, keep], psi[keep], porosity[keep]
        return Profile(
            time=time, depth=depth,
            concentration={n: c[i] for i, n in enumerate(m.names)},
            tissue_concentration={n: porosity * held[i] for i, n in enumerate(m.names)},
            potential=psi * m.thermal_voltage())


def simulate(scenario, comm: MPI.Comm, progress: Callable[[float, float], None] | None = None,
             skin_mesh=None, checkpoint: Callable[[dict], None] | None = None, checkpoint_every: float = 600.0,
             resume: dict | None = None) -> RunRecord:
    """Run `scenario` on `comm`; every rank returns the same record (profiles complete on rank 0).

    numerics.flux "auto" runs the fitted flux and, if its Newton solves fail, redoes the run with
    the lumped flux and says so in the record's warnings. With a return_electrode, the column under
    it is solved too (the same current, the opposite polarity) and kept as record.return_record.

    Restart: `checkpoint(state)` is called on every rank after an accepted step at most every
    `checkpoint_every` seconds of wall time, with this rank's state of the run; `resume` continues
    from such a state (same scenario, same number of ranks) and gives the uninterrupted answer.
    Scenarios with a return electrode are not checkpointed.
    """
    if scenario.return_electrode is not None:
        checkpoint = None
    if skin_mesh is not None and not (skin_mesh.geometry.kind == "column" or skin_mesh.geometry.laterally_uniform):
        raise ValueError(f"a {skin_mesh.geometry.kind} mesh with a return electrode is not solved yet: "
                         "only laterally uniform patches (the anode over the whole width) and columns are")
    record = _simulate_column(scenario, comm, progress, skin_mesh, checkpoint, checkpoint_every, resume)
    if scenario.return_electrode is not None:
        record.return_record = _simulate_column(_return_column(scenario), comm, progress)
    return record


def _return_column(scenario):
    """The scenario of the column under the return electrode: its pad, the opposite polarity, the
    same total current over its own area."""
    pad = scenario.return_electrode
    opposite = "cathode" if scenario.donor.polarity == "anode" else "anode"
    scale = scenario.donor.area / pad.area
    protocol = [step.model_copy(update={"current_density": step.current_density * scale}) for step in scenario.protocol]
    return scenario.model_copy(update={
        "name": f"{scenario.name} (return electrode)", "return_electrode": None, "protocol": protocol,
        "donor": pad.model_copy(update={"polarity": opposite})})


def _simulate_column(scenario, comm: MPI.Comm, progress, skin_mesh=None, checkpoint=None,
                     checkpoint_every: float = 600.0, resume: dict | None = None) -> RunRecord:
    """One column (or patch), with the `auto` flux's fallback; a resumed run takes the flux it was
    checkpointed with, and falls back as the uninterrupted run would have."""
    run = {"comm": comm, "progress": progress, "skin_mesh": skin_mesh, "checkpoint": checkpoint,
           "checkpoint_every": checkpoint_every}
    if resume is not None:
        first = resume["flux"]
        run["warnings"] = resume["warnings"]
    else:
        first = "fitted" if scenario.numerics.flux == "auto" else scenario.numerics.flux
    try:
        return _simulate(_with_flux(scenario, first), resume=resume, **run)
    except ChlorideExhausted:
        raise
    except SimulationError as err:
        if not (first == "fitted" and scenario.numerics.flux == "auto"):
            raise
        warning = (f"fitted flux failed ({err}); these results use the lumped flux, "
                   "first order in the cell size: refine the stratum corneum to check them")
        return _simulate(_with_flux(scenario, "lumped"), **(run | {"warnings": [warning]}))


def _with_flux(scenario, flux: str):
    return scenario.model_copy(update={"numerics": scenario.numerics.model_copy(update={"flux": flux})})


def _simulate(scenario, comm: MPI.Comm, progress, skin_mesh=None, checkpoint=None, checkpoint_every: float = 600.0,
              resume: dict | None = None, warnings: list[str] | None = None) -> RunRecord:
    """One run of one column; `warnings` (e.g. why this flux) end up in the record after the
    protocol's notes."""
    model = ColumnModel(scenario, comm, skin_mesh)
    bcs = model.boundary_conditions()
    model.initial_state()
    num = scenario.numerics
    newton = NewtonSolver(model.residual, model.jacobian, model.u, bcs, linear_solver=num.linear_solver,
                          tol=num.newton_tol, max_iter=num.newton_max_iter, limit_update=model.limit_update)
    diag = Diagnostics(model)
    schedule = build_schedule(scenario.protocol, scenario.donor.polarity, num.min_resolved_pulse_period)
    t_end = schedule.end
    profile_times = [float(t) for t in scenario.outputs.profile_times]
    stops = schedule.breakpoints(profile_times)
    control = StepController(num.dt_initial, num.dt_max, growth=num.dt_growth)
    names, ns = model.names, model.ns
    skin_names = [layer.name for layer in model.layers[1:]]
    vt = model.thermal_voltage()
    pk = {name: OneCompartment(p.volume_of_distribution, p.elimination_half_life)
          for name, p in scenario.systemic.items() if name in names}

    amounts0 = diag.layer_amounts()
    protons_before = diag.protons_held()
    # protonated fraction per (layer, species): which part of a cleared or outflowing amount carries a proton
    protonated = np.array([[model.protonated_fraction(k, layer) for k in range(ns)] for layer in model.layers])
    donor0 = amounts0[0].copy()
    total0 = amounts0.sum(axis=0)
    electrode_removed = np.zeros(ns)
    cleared = np.zeros(ns)
    outflow = np.zeros(ns)
    reacted = np.zeros(ns)
    cl = names.index("Cl-") if "Cl-" in names else None
    kind = scenario.donor.electrode
    # the electrode follows its ion's electrochemical potential: V = (mu_e(gel) - mu_e(deep)) / z_e
    e_ion = names.index(electrodes.POTENTIAL_ION[kind])
    e_charge = model.layers[0].charge[e_ion]

    rows: dict[str, list[float]] = {}

    def record(t: float, i_now: float, flux: np.ndarray, amounts: np.ndarray, out_rate: np.ndarray,
               proton_uptake: float):
        mu_top, mu_bottom, psi_s, psi_b, c_h = diag.point_values(e_ion)
        voltage = (mu_top - mu_bottom) / e_charge * vt
        delivered = donor0 - amounts[0] - electrode_removed
        total = amounts.sum(axis=0)
        add = rows.setdefault
        add("time", []).append(t)
        add("current_density", []).append(i_now)
        add("voltage", []).append(voltage)
        if "H+" in names:
            add("skin_surface_pH", []).append(float(water.pH(c_h)))
        add("skin_resistance", []).append((psi_s - psi_b) * vt / i_now if i_now != 0 else np.nan)
        bottom = model.layers[-1]
        i_out = FARADAY * sum(bottom.charge_per_total(k) * out_rate[k] for k in range(ns))
        # Each layer's buffer holds its pH: protons that weak electrolytes release on entering a
        # more basic layer go to the buffer, and that current does not reach the deep boundary.
        add("buffer_proton_uptake", []).append(proton_uptake)
        i_buffer = FARADAY * proton_uptake
        add("charge_balance_error", []).append(abs(i_out + i_buffer - i_now) / abs(i_now) if i_now != 0 else 0.0)
        for k, n in enumerate(names):
            add(f"surface_flux/{n}", []).append(flux[k])
            add(f"delivered/{n}", []).append(delivered[k])
            add(f"donor_amount/{n}", []).append(amounts[0, k])
            add(f"cleared/{n}", []).append(cleared[k])
            add(f"deep_outflow/{n}", []).append(outflow[k])
            conc = pk[n].concentration if n in pk else 0.0
            add(f"plasma_concentration/{n}", []).append(conc)
            for j, ln in enumerate(skin_names):
                add(f"layer_amount/{ln}/{n}", []).append(amounts[j + 1, k])
            lost = total[k] - total0[k] + electrode_removed[k] + cleared[k] + outflow[k] + reacted[k]
            scale = max(abs(delivered[k]), cleared[k], abs(outflow[k]), 1e-12 * abs(total0[k]), 1e-300)
            add(f"mass_balance_error/{n}", []).append(abs(lost) / scale)

    def state() -> dict:
        """This rank's state of the run: enough to continue it exactly (see simulate)."""
        return {"flux": num.flux, "warnings": list(warnings or []), "u": model.u.x.array.copy(), "t": t,
                "stop_index": stop_index, "dt": control.dt, "donor0": donor0, "total0": total0,
                "electrode_removed": electrode_removed.copy(), "cleared": cleared.copy(),
                "outflow": outflow.copy(), "reacted": reacted.copy(), "protons_before": protons_before,
                "previous_delivered": previous_delivered.copy(), "pk": {n: c.amount for n, c in pk.items()},
                "rows": {k: list(v) for k, v in rows.items()}, "profiles": list(profiles)}

    if resume is None:
        record(0.0, 0.0, np.zeros(ns), amounts0, np.zeros(ns), 0.0)
        profiles = [diag.profile(0.0)] if 0.0 in profile_times else []
        t, stop_index, previous_delivered = 0.0, 1, np.zeros(ns)
    else:
        model.u.x.array[:] = resume["u"]
        model.u.x.scatter_forward()
        for name, array in (("donor0", donor0), ("total0", total0), ("electrode_removed", electrode_removed),
                            ("cleared", cleared), ("outflow", outflow), ("reacted", reacted)):
            array[:] = resume[name]
        for n, amount in resume["pk"].items():
            pk[n].amount = amount
        rows.update({k: list(v) for k, v in resume["rows"].items()})
        profiles = list(resume["profiles"])
        t, stop_index, control.dt = resume["t"], resume["stop_index"], resume["dt"]
        previous_delivered, protons_before = resume["previous_delivered"].copy(), resume["protons_before"]
    last_checkpoint = time.monotonic()
    while t < t_end * (1 - 1e-12):
        target = stops[stop_index]
        h = min(control.dt, target - t)
        if target - (t + h) < 1e-6 * h:  # do not leave a sliver before a breakpoint
            h = target - t
        i_now = schedule.current_at(t, t + h)
        model.current_density.value = i_now
        model.dt.value = h
        if model.has_flow:
            drives = diag.electroosmotic_drives()
            coefficients = [layer.kappa_over_mu for layer in model.layers if layer.kappa_over_mu > 0]
            thick = [layer.thickness for layer in model.layers if layer.kappa_over_mu > 0]
            model.velocity.value[model.depth_axis] = electroosmosis.column_velocity(drives, thick, coefficients)
        model.u_previous.x.array[:] = model.u.x.array
        result = newton.solve()
        if not result.converged:
            model.u.x.array[:] = model.u_previous.x.array
            if not control.rejected(h):
                exhausted = _chloride_exhausted(diag, cl if kind == "Ag/AgCl" else None, donor0, i_now)
                if exhausted:
                    raise ChlorideExhausted(f"at t = {t / 3600:.4g} h {exhausted}")
                hint = ("; numerics.flux: lumped (or auto) is the robust choice" if num.flux == "fitted"
                        else "; try finer cells in the stratum corneum or a smaller numerics.dt_initial")
                raise SimulationError(
                    f"time step fell below {control.dt_min:g} s at t = {t:.6g} s ({result.reason}){hint}")
            continue
        t = target if abs(target - (t + h)) <= 1e-9 * max(1.0, target) else t + h
        control.accepted(result.iterations, h)
        amounts = diag.layer_amounts()
        sinks = diag.sink_rates()
        out_rate = diag.deep_outflow_rates()
        for n, rate in electrodes.removal_rates(kind, i_now).items():
            electrode_removed[names.index(n)] += h * rate
        reacted += h * diag.reaction_rates()
        cleared += h * sinks.sum(axis=0)
        outflow += h * out_rate
        for n, comp in pk.items():
            comp.advance(scenario.donor.area * sinks[:, names.index(n)].sum(), h)
        delivered = donor0 - amounts[0] - electrode_removed
        protons_now = diag.protons_held()
        proton_uptake = (-(protons_now - protons_before) / h - float(np.dot(protonated[-1], out_rate))
                         - float((protonated * sinks).sum()))
        protons_before = protons_now
        record(t, i_now, (delivered - previous_delivered) / h, amounts, out_rate, proton_uptake)
        previous_delivered = delivered
        if any(abs(t - pt) <= 1e-9 * max(1.0, pt) for pt in profile_times):
            profiles.append(diag.profile(t))
        if t >= target * (1 - 1e-12):
            stop_index = min(stop_index + 1, len(stops) - 1)
            switched = schedule.current_at(t, t + 1e-9) != i_now
            if switched:
                control.restart()
        if progress is not None:
            progress(t, t_end)
        if checkpoint is not None and t < t_end * (1 - 1e-12):
            due = comm.allreduce(time.monotonic() - last_checkpoint >= checkpoint_every, op=MPI.LOR)
            if due:  # every rank together: the writer gathers
                checkpoint(state())
                last_checkpoint = time.monotonic()
    newton.destroy()

    spans = [LayerSpan(layer.name, float(a), float(b))
             for layer, a, b in zip(model.layers, model.column.interfaces[:-1], model.column.interfaces[1:])]
    return RunRecord(
        scenario_name=scenario.name, drug=scenario.drug, species=list(names),
        charges={sp.name: sp.charge for sp in model.species},
        molar_mass={sp.name: sp.molar_mass for sp in model.species},
        area=scenario.donor.area, layers=spans,
        times=np.asarray(rows.pop("time")), series={k: np.asarray(v) for k, v in rows.items()},
        profiles=[p for p in profiles if p is not None], protocol_end=t_end,
        current_on_intervals=schedule.on_intervals(), applied_charge=schedule.charge(),
        flux_discretization=model.flux_used, warnings=list(schedule.notes) + list(warnings or []),
        current_density_limit=scenario.safety.max_current_density,
        voltage_limit=scenario.safety.device_voltage_limit, stated_dose=scenario.safety.stated_dose,
        skin_pH_range=tuple(scenario.safety.skin_pH_range), weak_electrolytes=[names[i] for i in model.weak])
