"""One run: build the model, step through the protocol, collect what a run reports (MODEL.md section 7)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from iontosim._fenics import MPI, dolfinx
from iontosim.mesh.column import ELECTRODE
from iontosim.mesh.skin_mesh import RETURN
from iontosim.model import ColumnModel, assembled_vector
from iontosim.output.record import LayerSpan, Profile, RunRecord
from iontosim.physics import electrodes, electroosmosis, water
from iontosim.physics.constants import FARADAY
from iontosim.physics.pharmacokinetics import OneCompartment
from iontosim.solver.newton import NewtonSolver
from iontosim.solver.protocol import build_schedule
from iontosim.solver.stepping import StepController

fem = dolfinx.fem


#: what a checkpoint's state holds changes with this number (a patch's bookkeeping came with 2)
CHECKPOINT_VERSION = 2


class SimulationError(RuntimeError):
    """The solver could not continue (time step below its minimum)."""


class ChlorideExhausted(SimulationError):
    """The Ag/AgCl anode has used up the gel's chloride: a limit of the device, not of the solver."""


def _chloride_exhausted(diag: Diagnostics, cl: int | None, current: float) -> str:
    """Why the run cannot go on, when the Cl- at the face of an Ag/AgCl anode is nearly gone ('' otherwise):
    the donor's electrode when it is the anode, a meshed return pad's when that is (cathodal delivery).
    The anode takes Cl- at i/F; once diffusion and migration cannot bring that much to its face,
    no state satisfies the electrode reaction."""
    m = diag.model
    faces = []
    if m.scenario.donor.electrode == "Ag/AgCl" and current > 0.0:
        faces.append((ELECTRODE, m.donor_fluid(), "donor.contents"))
    if m.has_return and m.scenario.return_electrode.electrode == "Ag/AgCl" and current < 0.0:
        faces.append((RETURN, m.return_fluid(), "return_electrode.contents"))
    if cl is None:
        return ""
    for tag, fluid, where in faces:
        left = diag.lowest_on_face(tag, cl) / fluid[cl]
        if left <= 1e-3:
            return (f"the Ag/AgCl anode has used up the chloride at its face ({left:.1e} of the gel's left): "
                    f"a real device stops or electrolyses water here; give the gel more chloride "
                    f"({where}) or the protocol less charge")
    return ""


class Diagnostics:
    """Integrated quantities of the current state, reduced over all ranks."""

    def __init__(self, model: ColumnModel):
        self.model = model
        self.comm = model.comm
        self.n_layers = len(model.layers)

    def _per_cell(self, form) -> np.ndarray:
        n = len(self.model.layer_of_cell)
        return assembled_vector(form)[: n * self.model.ns].reshape(n, self.model.ns)

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
        residual = sum(assembled_vector(form) for form in self.model.residual)
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
        np.add.at(per_layer, m.layer_of_cell, assembled_vector(m.drive_form)[:n])
        per_layer = self.comm.allreduce(per_layer, op=MPI.SUM) * m.thermal_voltage() / m.anode_area
        return [per_layer[k] for k, layer in enumerate(m.layers) if layer.kappa_over_mu > 0]

    def electrode_potentials(self) -> tuple[float, float]:
        """Mean electrochemical potential of each electrode's ion over the anode and the return faces."""
        m = self.model
        total = [self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM) if form is not None else np.nan
                 for form in (m.anode_potential_form, m.return_potential_form)]
        return total[0] / m.anode_area, (total[1] / m.return_area if m.has_return else np.nan)

    def crossing(self) -> dict:
        """Current and drug flux across the top skin layer (depth components, per cell): their
        integrals over the layer under the anode, all and through appendages, per anode area
        [A/m, mol/m/s: divide by the layer's thickness for a flux density], and the largest local
        current density into the skin surface [A/m^2] with where it is (m, lateral coordinates)."""
        m = self.model
        per_cell, volume = m.cell_crossing()
        under = m.cell_lateral_coordinates.max(axis=1, initial=0.0) <= m.geometry.edges[0] * (1 + 1e-9) \
            if not m.geometry.laterally_uniform else np.ones(len(volume), dtype=bool)
        top = m.top_layer_cells
        app = m.appendage_cells
        sums = np.array([per_cell[top & under, 0].sum(), per_cell[app & under, 0].sum(),
                         per_cell[top & under, 1].sum(), per_cell[app & under, 1].sum()])
        sums = self.comm.allreduce(sums, op=MPI.SUM) / m.anode_area
        surface = m.surface_row_cells
        local = per_cell[surface, 0] / volume[surface]
        k = int(np.argmax(np.abs(local))) if len(local) else -1
        best = (abs(local[k]), local[k], m.cell_lateral_coordinates[surface][k].tolist()) if k >= 0 else (-1.0, 0.0, [])
        candidates = self.comm.allgather(best)
        _, value, where = max(candidates, key=lambda c: c[0])
        return {"integrals": sums, "peak": value, "where": where}

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

    def lowest_on_face(self, tag: int, species: int) -> float:
        """Lowest total concentration [mol/m^3] of `species` at the vertices of the facets tagged `tag`."""
        m = self.model
        mesh = m.mesh
        fdim = mesh.topology.dim - 1
        mesh.topology.create_connectivity(fdim, 0)
        vertices = dolfinx.mesh.compute_incident_entities(mesh.topology, m.column.facet_tags.find(tag), fdim, 0)
        V, dofs = m.W.sub(species).collapse()
        on = dolfinx.fem.locate_dofs_topological(V, 0, vertices)
        totals = dolfinx.fem.Function(V)
        totals.x.array[:] = np.inf
        c = m.nodal_totals()[species]
        local = V.dofmap.list[: len(m.layer_of_cell)].ravel()
        np.minimum.at(totals.x.array, local, c)  # a vertex's value: the lowest over its cells
        lowest = float(np.min(totals.x.array[on], initial=np.inf))
        return self.comm.allreduce(lowest, op=MPI.MIN)

    def return_surface_h(self) -> float:
        """H+ concentration [mol/m^3] on the skin surface under the middle of a meshed return pad."""
        m = self.model
        _, inner, outer = m.geometry.edges
        pad = m.region_names().index("return_electrode")
        mu, K, z, _ = m.nodal_fields()
        psi = m.u.x.array[m.psi_dofs]
        h = m.names.index("H+")
        on = (np.abs(m.vertex_depths()) <= 1e-9 * m.layers[1].thickness) & (m.nodal_layer == pad)
        distance = np.abs(m._vertex_x - (inner + outer) / 2)
        k = int(np.argmin(np.where(on, distance, np.inf))) if on.any() else -1
        mine = (distance[k], float(K[h][k] * np.exp(mu[h][k] - z[h][k] * psi[k]))) if k >= 0 else (np.inf, np.nan)
        return min(self.comm.allgather(mine))[1]

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
        order = np.lexsort((m.region_tops()[lay], depth))  # at an interface, the upper region first
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


def _patch_facts(model: ColumnModel, crossing: np.ndarray, peak: dict) -> dict | None:
    """What a 2D/3D patch adds to the record: where the current entered the skin most densely and
    how much current and drug went through appendages (time integrals over the run)."""
    if model.geometry is None or model.geometry.dim == 1:
        return None
    facts = {"kind": model.geometry.kind, "peak_local_current_density": peak["value"],
             "peak_time": peak["time"], "peak_position": list(peak["position"]),
             "anode_area": model.anode_area, "return_area": model.return_area}
    if "appendages" in model.region_names():
        current, current_app, drug, drug_app = crossing
        facts["appendage_current_fraction"] = current_app / current if current else float("nan")
        facts["appendage_drug_fraction"] = drug_app / drug if drug else float("nan")
    return facts


def simulate(scenario, comm: MPI.Comm, progress: Callable[[float, float], None] | None = None,
             skin_mesh=None, checkpoint: Callable[[dict], None] | None = None, checkpoint_every: float = 600.0,
             resume: dict | None = None, fields: Callable[[ColumnModel, float], None] | None = None) -> RunRecord:
    """Run `scenario` on `comm`; every rank returns the same record (profiles complete on rank 0).

    numerics.flux "auto" runs the fitted flux and, if its Newton solves fail, redoes the run with
    the lumped flux and says so in the record's warnings. With a return_electrode, the column under
    it is solved too (the same current, the opposite polarity) and kept as record.return_record.

    Restart: `checkpoint(state)` is called on every rank after an accepted step at most every
    `checkpoint_every` seconds of wall time, with this rank's state of the run; `resume` continues
    from such a state (same scenario, same number of ranks) and gives the uninterrupted answer.
    Scenarios whose return electrode is a column of its own (1D) are not checkpointed.

    `fields(model, t)` is called on every rank at each of outputs.profile_times (field output).
    """
    # On a patch whose mesh holds the return electrode, one model solves both electrodes;
    # otherwise the return electrode's pad is a column of its own.
    return_column = scenario.return_electrode is not None and not _meshes_return(skin_mesh)
    if return_column:
        checkpoint = None
    record = _simulate_column(scenario, comm, progress, skin_mesh, checkpoint, checkpoint_every, resume, fields)
    if return_column:
        record.return_record = _simulate_column(_return_column(scenario), comm, progress)
    return record


def _meshes_return(skin_mesh) -> bool:
    from iontosim.mesh.skin_mesh import RETURN

    return (skin_mesh is not None and RETURN in skin_mesh.boundaries
            and not skin_mesh.geometry.laterally_uniform)


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
                     checkpoint_every: float = 600.0, resume: dict | None = None, fields=None) -> RunRecord:
    """One column (or patch), with the `auto` flux's fallback; a resumed run takes the flux it was
    checkpointed with, and falls back as the uninterrupted run would have."""
    run = {"comm": comm, "progress": progress, "skin_mesh": skin_mesh, "checkpoint": checkpoint,
           "checkpoint_every": checkpoint_every, "fields": fields}
    if resume is not None:
        first = resume["flux"]
        run["warnings"] = resume["warnings"]
    else:
        first = "fitted" if scenario.numerics.flux == "auto" else scenario.numerics.flux
        if skin_mesh is not None and skin_mesh.mesh.topology.dim > 1:
            first = "lumped"  # the fitted flux is 1D (model.py): nothing to fall back from
            if scenario.numerics.flux == "fitted" or any(layer.cells for layer in scenario.skin):
                run["warnings"] = [
                    "skin[].cells and numerics.flux are the 1D column's: on this mesh the stratum corneum has "
                    "geometry.surface_cells x resolution cells across it and the flux is the first-order lumped "
                    "one; check the answers at a higher geometry.resolution"]
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
              resume: dict | None = None, warnings: list[str] | None = None, fields=None) -> RunRecord:
    """One run of one column or patch; `warnings` (e.g. why this flux) end up in the record after
    the protocol's notes."""
    model = ColumnModel(scenario, comm, skin_mesh)
    bcs = model.boundary_conditions()
    model.initial_state()
    num = scenario.numerics
    newton = NewtonSolver(model.residual, model.jacobian, model.u, bcs, linear_solver=num.linear_solver,
                          tol=num.newton_tol, max_iter=num.newton_max_iter, limit_update=model.limit_update,
                          direct_solver_limit=num.direct_solver_limit, krylov_rtol=num.krylov_rtol,
                          krylov_max_iter=num.krylov_max_iter)
    effort = dict(linear_solver=newton.linear_solver, unknowns=int(newton.A.getSize()[0]), ranks=comm.size,
                  time_steps=0, rejected_steps=0, newton_iterations=0, krylov_iterations=0)
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
    return_removed = np.zeros(ns)  # by a meshed return electrode, per anode area
    crossing = np.zeros(4)  # time integrals: current and drug flux across the top layer, all and via appendages
    peak = {"value": 0.0, "time": 0.0, "position": []}  # largest local current density into the skin
    cleared = np.zeros(ns)
    outflow = np.zeros(ns)
    reacted = np.zeros(ns)
    cl = names.index("Cl-") if "Cl-" in names else None
    kind = scenario.donor.electrode
    # the electrode follows its ion's electrochemical potential: V = (mu_e(gel) - mu_e(deep)) / z_e
    e_ion = names.index(electrodes.POTENTIAL_ION[kind])
    e_charge = model.layers[0].charge[e_ion]
    if model.has_return:
        return_kind = scenario.return_electrode.electrode
        r_charge = model.layers[0].charge[names.index(electrodes.POTENTIAL_ION[return_kind])]

    rows: dict[str, list[float]] = {}

    def record(t: float, i_now: float, flux: np.ndarray, amounts: np.ndarray, out_rate: np.ndarray,
               proton_uptake: float):
        mu_top, mu_bottom, psi_s, psi_b, c_h = diag.point_values(e_ion)
        voltage = (mu_top - mu_bottom) / e_charge * vt
        if model.mesh.topology.dim > 1:  # each electrode at the mean potential over its face
            mu_anode, mu_return = diag.electrode_potentials()
            voltage = ((mu_anode / e_charge - mu_return / r_charge) if model.has_return
                       else (mu_anode - mu_bottom) / e_charge) * vt
        delivered = donor0 - amounts[0] - electrode_removed
        total = amounts.sum(axis=0)
        add = rows.setdefault
        add("time", []).append(t)
        add("current_density", []).append(i_now)
        add("voltage", []).append(voltage)
        if "H+" in names:
            add("skin_surface_pH", []).append(float(water.pH(c_h)))
            if model.has_return and "return_electrode" in model.region_names():
                add("return_skin_surface_pH", []).append(float(water.pH(diag.return_surface_h())))
        add("skin_resistance", []).append((psi_s - psi_b) * vt / i_now if i_now != 0 else np.nan)
        bottom = model.layers[model.deepest]
        i_out = FARADAY * sum(bottom.charge_per_total(k) * out_rate[k] for k in range(ns))
        if model.has_return:  # the current a meshed return electrode takes back
            i_out += i_now
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
            lost = (total[k] - total0[k] + electrode_removed[k] + return_removed[k] + cleared[k]
                    + outflow[k] + reacted[k])
            # judged against what moved: in, out, or between regions (a return pad's uptake)
            moved = float(np.max(np.abs(amounts[:, k] - amounts0[:, k])))
            scale = max(abs(delivered[k]), cleared[k], abs(outflow[k]), moved, 1e-12 * abs(total0[k]), 1e-300)
            add(f"mass_balance_error/{n}", []).append(abs(lost) / scale)

    def state() -> dict:
        """This rank's state of the run: enough to continue it exactly (see simulate)."""
        return {"version": CHECKPOINT_VERSION, "flux": num.flux, "warnings": list(warnings or []), "u": model.u.x.array.copy(), "t": t,
                "stop_index": stop_index, "dt": control.dt, "donor0": donor0, "total0": total0, "amounts0": amounts0,
                "electrode_removed": electrode_removed.copy(), "return_removed": return_removed.copy(),
                "crossing": crossing.copy(), "peak": dict(peak), "cleared": cleared.copy(),
                "outflow": outflow.copy(), "reacted": reacted.copy(), "protons_before": protons_before,
                "previous_delivered": previous_delivered.copy(), "pk": {n: c.amount for n, c in pk.items()},
                "rows": {k: list(v) for k, v in rows.items()}, "profiles": list(profiles)}

    if resume is None:
        record(0.0, 0.0, np.zeros(ns), amounts0, np.zeros(ns), 0.0)
        profiles = [diag.profile(0.0)] if 0.0 in profile_times else []
        if fields is not None and 0.0 in profile_times:
            fields(model, 0.0)
        t, stop_index, previous_delivered = 0.0, 1, np.zeros(ns)
    else:
        model.u.x.array[:] = resume["u"]
        model.u.x.scatter_forward()
        for name, array in (("donor0", donor0), ("total0", total0), ("amounts0", amounts0),
                            ("electrode_removed", electrode_removed),
                            ("return_removed", return_removed), ("crossing", crossing),
                            ("cleared", cleared), ("outflow", outflow), ("reacted", reacted)):
            array[:] = resume[name]
        peak.update(resume["peak"])
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
        model.set_current(i_now)
        model.dt.value = h
        if model.darcy is not None:
            model.darcy.update()
        elif model.has_flow:
            drives = diag.electroosmotic_drives()
            coefficients = [layer.kappa_over_mu for layer in model.layers if layer.kappa_over_mu > 0]
            thick = [layer.thickness for layer in model.layers if layer.kappa_over_mu > 0]
            model.velocity.value[model.depth_axis] = electroosmosis.column_velocity(drives, thick, coefficients)
        model.u_previous.x.array[:] = model.u.x.array
        result = newton.solve()
        effort["newton_iterations"] += result.iterations
        effort["krylov_iterations"] += result.linear_iterations
        if not result.converged:
            effort["rejected_steps"] += 1
            model.u.x.array[:] = model.u_previous.x.array
            if not control.rejected(h):
                exhausted = _chloride_exhausted(diag, cl, i_now)
                if exhausted:
                    raise ChlorideExhausted(f"at t = {t / 3600:.4g} h {exhausted}")
                hint = ("; numerics.flux: lumped (or auto) is the robust choice" if num.flux == "fitted"
                        else "; try finer cells in the stratum corneum or a smaller numerics.dt_initial")
                raise SimulationError(
                    f"time step fell below {control.dt_min:g} s at t = {t:.6g} s ({result.reason}){hint}")
            continue
        t = target if abs(target - (t + h)) <= 1e-9 * max(1.0, target) else t + h
        control.accepted(result.iterations, h)
        effort["time_steps"] += 1
        amounts = diag.layer_amounts()
        sinks = diag.sink_rates()
        out_rate = diag.deep_outflow_rates()
        for n, rate in electrodes.removal_rates(kind, i_now).items():
            electrode_removed[names.index(n)] += h * rate
        if model.has_return:
            i_return = float(model.return_current_density.value)
            for n, rate in electrodes.removal_rates(return_kind, i_return).items():
                return_removed[names.index(n)] += h * rate * model.return_area / model.anode_area
        if model.geometry is not None and model.geometry.dim > 1:
            crossed = diag.crossing()
            crossing += h * crossed["integrals"]
            if abs(crossed["peak"]) > abs(peak["value"]):
                peak.update(value=crossed["peak"], time=t, position=crossed["where"])
        reacted += h * diag.reaction_rates()
        cleared += h * sinks.sum(axis=0)
        outflow += h * out_rate
        for n, comp in pk.items():
            comp.advance(scenario.donor.area * sinks[:, names.index(n)].sum(), h)
        delivered = donor0 - amounts[0] - electrode_removed
        protons_now = diag.protons_held()
        proton_uptake = (-(protons_now - protons_before) / h - float(np.dot(protonated[model.deepest], out_rate))
                         - float((protonated * sinks).sum()))
        protons_before = protons_now
        record(t, i_now, (delivered - previous_delivered) / h, amounts, out_rate, proton_uptake)
        previous_delivered = delivered
        if any(abs(t - pt) <= 1e-9 * max(1.0, pt) for pt in profile_times):
            profiles.append(diag.profile(t))
            if fields is not None:
                fields(model, t)
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
        patch=_patch_facts(model, crossing, peak), solver=effort,
        current_on_intervals=schedule.on_intervals(), applied_charge=schedule.charge(),
        flux_discretization=model.flux_used, warnings=list(schedule.notes) + list(warnings or []),
        current_density_limit=scenario.safety.max_current_density,
        voltage_limit=scenario.safety.device_voltage_limit, stated_dose=scenario.safety.stated_dose,
        skin_pH_range=tuple(scenario.safety.skin_pH_range), weak_electrolytes=[names[i] for i in model.weak])
