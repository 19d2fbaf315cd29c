"""Command line: argument parsing, messages and exit codes only.

Exit status: 0 success, 2 bad input (config, arguments, existing output), 1 the solver failed.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="iontosim: drug transport through layered skin under iontophoresis.")

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "configs" / "lidocaine_epinephrine.yaml"


def _comm():
    from iontosim._fenics import MPI

    return MPI.COMM_WORLD


def _say(comm, text: str, err: bool = False) -> None:
    if comm.rank == 0:
        typer.echo(text, err=err)


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Argument(help="Scenario YAML (default: configs/lidocaine_epinephrine.yaml)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory to create (default: runs/<scenario>-<time>)")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds a finished iontosim run")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    checkpoint_every: Annotated[float, typer.Option(help="Minutes of wall time between restart checkpoints (0: every step)")] = 10.0,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --out from its last checkpoint")] = False,
    max_cells: Annotated[int, typer.Option(help="Refuse 2D/3D meshes with more cells than this")] = 2_000_000,
) -> None:
    """Solve one scenario and write its run directory (config, results.h5, summary.json, plots).

    A scenario with a 2D/3D geometry section is solved on its mesh, and the run directory also
    holds the fields at outputs.profile_times (fields.bp for ParaView) and their pictures."""
    from iontosim.scenario.errors import ScenarioError
    from iontosim.scenario.load import load_scenario

    comm = _comm()
    config = config or DEFAULT_SCENARIO
    try:
        scenario = load_scenario(config)
    except ScenarioError as err:
        _say(comm, f"error: {config}: {err}", err=True)
        raise typer.Exit(2)
    if out is None:
        if resume:
            _say(comm, "error: --resume needs the --out of the interrupted run", err=True)
            raise typer.Exit(2)
        out = Path("runs") / f"{scenario.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if _on_mesh(scenario):
        from iontosim.mesh.of_scenario import mesh_cell_count

        cells = mesh_cell_count(scenario)
        if cells > max_cells:
            _say(comm, f"error: {config}: geometry: the mesh would have {cells} cells, more than --max-cells "
                       f"{max_cells}; lower geometry.resolution or the width", err=True)
            raise typer.Exit(2)
    reuse = _resume_stage(comm, out) if resume else None
    restart = {"checkpoint_every": 60.0 * checkpoint_every, "reuse": reuse}
    try:
        _in_staged_directory(comm, out, overwrite, lambda stage: run_and_write(scenario, comm, stage, progress, restart),
                             reuse=reuse)
    except RunFailed as err:
        _say(comm, f"error: {err}", err=True)
        raise typer.Exit(1)
    _say(comm, f"run directory: {out}")


def _resume_stage(comm, out: Path) -> Path:
    """The staging folder of the interrupted run of `out` (rank 0 looks; every rank hears)."""
    from iontosim.rundir import resumable_stage

    found = resumable_stage(out) if comm.rank == 0 else None
    found = comm.bcast(str(found) if found else None, root=0)
    if found is None:
        _say(comm, f"error: --resume: no interrupted run of {out} with a checkpoint next to it", err=True)
        raise typer.Exit(2)
    return Path(found)


def _in_staged_directory(comm, out: Path, overwrite: bool, body, marker=None, reuse: Path | None = None) -> None:
    """Run body(stage) on every rank with the same staging folder, renamed to `out` at the end.

    Rank 0 decides whether `out` may be written and every rank hears it before any work starts,
    so a refused --out never leaves the other ranks waiting in a collective call.
    """
    from iontosim.rundir import MARKER, OutputExists, check_output, staged_directory

    marker = marker or MARKER
    refusal = None
    if comm.rank == 0:
        try:
            check_output(out, overwrite, marker)
        except OutputExists as err:
            refusal = str(err)
    refusal = comm.bcast(refusal, root=0)
    if refusal is not None:
        _say(comm, f"error: --out: {refusal}", err=True)
        raise typer.Exit(2)
    with ExitStack() as stack:
        stage = None
        if comm.rank == 0:
            try:
                stage = stack.enter_context(staged_directory(out, overwrite, marker, reuse))
            except OSError as err:  # cannot create it (a file in the way, permissions): every rank hears
                stage = f"--out: {err}"
        stage = comm.bcast(stage, root=0)
        if isinstance(stage, str):
            _say(comm, f"error: {stage}", err=True)
            raise typer.Exit(2)
        body(stage)


class RunFailed(Exception):
    pass


def _on_mesh(scenario) -> bool:
    """Whether the scenario is solved on a 2D/3D mesh (a column geometry is the 1D solver's)."""
    return scenario.geometry is not None and scenario.geometry.kind != "column"


class _FieldOutput:
    """Writes the fields at each profile time (fields.bp) and, at the last one, their pictures."""

    def __init__(self, scenario, stage: Path, pictures: bool = True):
        self.stage, self.scenario, self.pictures = stage, scenario, pictures
        self.last = max(scenario.outputs.profile_times, default=None)
        self.writer = None

    def __call__(self, model, t: float) -> None:
        from iontosim.output import fields

        if self.writer is None:
            # a resumed run keeps the fields written before the interruption and starts a file of its own
            name = None
            if model.comm.rank == 0:
                taken = {p.name for p in self.stage.glob("fields*.bp")}
                name = next(n for n in ("fields.bp", *(f"fields.resumed{k}.bp" for k in range(1, 1000)))
                            if n not in taken)
            self.writer = fields.FieldWriter(model, self.stage / model.comm.bcast(name, root=0), format="vtx")
        self.writer.write(t)
        if self.pictures and self.last is not None and abs(t - self.last) <= 1e-9 * max(1.0, self.last):
            fields.plot_fields(model, self.stage / "fields.png", self.scenario.drug)
            positions, values = fields.surface_current_density(model)
            fields.plot_surface_current(positions, values, self.stage / "surface_current.png",
                                        limit=self.scenario.safety.max_current_density, model=model)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_and_write(scenario, comm, stage: Path | None, show_progress: bool, restart: dict | None = None,
                  plots_wanted: bool = True) -> None:
    """Solve `scenario` on `comm` and write its run directory into `stage` (rank 0 writes): the
    body of `iontosim run`, also used by sweeps for each case (without the PNGs if not wanted)."""
    from iontosim.output import metrics, plots, results
    from iontosim.output.safety import safety_report
    from iontosim.rundir import software_versions, write_json, write_yaml
    from iontosim.mesh.skin_mesh import MeshError
    from iontosim.simulation import SimulationError, simulate

    writer = comm.rank == 0  # rank 0 writes the run directory; every rank computes
    restart = restart or {}
    kwargs = {"checkpoint": _checkpoint_writer(scenario, comm, stage),
              "checkpoint_every": restart.get("checkpoint_every", 600.0)}
    if restart.get("reuse") is not None:  # the interrupted run's folder already has its config and versions
        kwargs["resume"] = _load_checkpoint(scenario, comm, stage)
    elif writer:
        write_yaml(stage / "config.resolved.yaml", scenario.resolved_dict())
        write_json(stage / "versions.json", software_versions(comm.size))
    started = time.perf_counter()
    field_output = None
    try:
        if _on_mesh(scenario):
            from iontosim.mesh.of_scenario import scenario_mesh

            kwargs["skin_mesh"] = scenario_mesh(scenario, comm)
            kwargs["fields"] = field_output = _FieldOutput(scenario, stage, plots_wanted)
        record = _with_progress(scenario, comm, show_progress and comm.rank == 0, simulate, **kwargs)
        if field_output is not None:
            field_output.close()
    except (SimulationError, ValueError, MeshError) as err:
        # every rank fails alike; rank 0 owns the staging folder, which is then removed
        raise RunFailed(f"{scenario.name}: {err}") from err
    except Exception:
        if comm.size == 1:
            raise
        # An error on one rank only would leave the others waiting in a collective call forever
        # (a hung batch job): report it and take the whole job down.
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)
    wall = time.perf_counter() - started

    def write() -> None:
        results.write_results(stage / "results.h5", record)
        summary = metrics.summarize(record, scenario.outputs.penetration_threshold)
        summary["wall_time_s"] = wall
        summary["mpi_ranks"] = comm.size
        summary["flux_discretization"] = record.flux_discretization
        summary["safety"] = safety_report(record)
        summary["warnings"] = (list(record.warnings) + summary["safety"]["warnings"]
                               + metrics.domain_warnings(record, summary))
        if record.return_record is not None:
            ret = record.return_record
            results.write_results(stage / "return_electrode.h5", ret)
            ret_summary = metrics.summarize(ret, scenario.outputs.penetration_threshold)
            ret_summary["safety"] = safety_report(ret)
            summary["return_electrode"] = ret_summary
            summary["warnings"] += [f"return electrode: {w}" for w in ret.warnings + ret_summary["safety"]["warnings"]]
        if plots_wanted:
            plots.plot_all(record, stage)
        metrics.write_summary(stage / "summary.json", summary)  # last: its presence marks a finished run
        _print_summary(summary)

    # Rank 0 writes; every rank learns whether it could, so that no rank goes on alone into the
    # next collective call (a sweep's next case) after a write failed (disk full, quota).
    problem = None
    if writer:
        try:
            write()
        except Exception as err:
            if comm.size == 1 and not isinstance(err, OSError):
                raise
            problem = f"writing the run directory failed: {type(err).__name__}: {err}"
    problem = comm.bcast(problem, root=0)
    if problem:
        raise RunFailed(f"{scenario.name}: {problem}")


def _checkpoint_writer(scenario, comm, stage: Path):
    """A checkpoint callback: gathers every rank's state and writes it atomically (rank 0)."""
    import pickle

    from iontosim.rundir import CHECKPOINT

    config = scenario.resolved_dict()

    def write(state: dict) -> None:
        states = comm.gather(state, root=0)
        if comm.rank == 0:
            part = stage / (CHECKPOINT + ".part")
            try:
                with open(part, "wb") as f:
                    pickle.dump({"ranks": comm.size, "config": config, "states": states}, f)
                part.replace(stage / CHECKPOINT)  # a kill mid-write leaves the previous checkpoint whole
            except OSError as err:  # a full disk must not end the run, nor lose the last checkpoint
                typer.echo(f"warning: checkpoint not written ({err}); the run goes on", err=True)

    return write


def _load_checkpoint(scenario, comm, stage: Path) -> dict:
    """This rank's state from the checkpoint of `stage`; the same scenario and rank count are required."""
    import pickle

    from iontosim.rundir import CHECKPOINT
    from iontosim.simulation import CHECKPOINT_VERSION

    problem, data = None, None
    if comm.rank == 0:
        try:
            with open(stage / CHECKPOINT, "rb") as f:
                data = pickle.load(f)
            if data["ranks"] != comm.size:
                problem = f"the checkpoint was written on {data['ranks']} rank(s); resume on as many"
            elif data["states"][0].get("version") != CHECKPOINT_VERSION:
                problem = "the checkpoint was written by another version of iontosim; run again without --resume"
            elif data["config"] != scenario.resolved_dict():
                problem = "the checkpoint is of another scenario (config.resolved.yaml differs)"
        except Exception as err:  # unreadable: say so on every rank rather than stop rank 0 alone
            problem = f"cannot read {stage / CHECKPOINT} ({type(err).__name__}: {err})"
    problem = comm.bcast(problem, root=0)
    if problem:
        _say(comm, f"error: --resume: {problem}", err=True)
        raise typer.Exit(2)
    return comm.scatter(data["states"] if comm.rank == 0 else None, root=0)


def _with_progress(scenario, comm, show: bool, simulate, **kwargs):
    if not show:
        return simulate(scenario, comm, **kwargs)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(f"[bold]{scenario.name}"), BarColumn(),
               TextColumn("{task.fields[t]:>6.1f} / {task.fields[end]:.1f} min"), TimeElapsedColumn()]
    end = scenario.protocol_end()
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("run", total=end, t=0.0, end=end / 60)
        return simulate(scenario, comm, lambda t, _: bar.update(task, completed=t, t=t / 60), **kwargs)


def _print_summary(summary: dict) -> None:
    keys = ["drug_delivered_ug_per_cm2", "drug_delivered_ug", "drug_cleared_ug_per_cm2",
            "mean_drug_transport_number", "penetration_depth_um", "depth_90pct_tissue_dose_um",
            "peak_voltage_V", "skin_resistance_kohm_cm2", "peak_plasma_concentration_ng_per_mL",
            "mass_balance_relative_error", "charge_balance_relative_error", "wall_time_s"]
    patch = summary.get("patch", {})
    for key in ("appendage_current_fraction", "appendage_drug_fraction"):
        if patch.get(key) is not None:
            keys.append(key)
            summary = summary | {key: patch[key]}
    for warning in summary.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    width = max(len(k) for k in keys)
    for k in keys:
        if k in summary:
            v = summary[k]
            typer.echo(f"  {k:<{width}}  {v:.4g}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    if "safety" in summary:
        _print_safety(summary["safety"])
    if "return_electrode" in summary:
        typer.echo("return electrode (its own column, opposite polarity):")
        _print_safety(summary["return_electrode"]["safety"])


def _print_safety(safety: dict) -> None:
    def verdict(ok) -> str:
        return "n/a" if ok is None else ("ok" if ok else "OVER")

    typer.echo("safety:")
    typer.echo(f"  current density  {safety['peak_current_density_mA_per_cm2']:.3g} mA/cm^2 peak, "
               f"limit {safety['current_density_limit_mA_per_cm2']:.3g}: {verdict(safety['current_density_ok'])}")
    stated = safety.get("stated_dose_mA_min")
    dose = f"{safety['charge_mA_min']:.4g} mA.min"
    if stated is not None:
        dose += f", stated {stated:.4g}: {'ok' if safety['dose_matches_stated'] else 'DIFFERS'}"
    typer.echo(f"  charge           {dose}")
    typer.echo(f"  voltage          {safety['peak_voltage_V']:.3g} V peak, device limit "
               f"{safety['device_voltage_limit_V']:.3g}: {verdict(safety['voltage_ok'])}")
    if "local_current_density_ok" in safety:
        where = ", ".join(f"{x:.3g}" for x in safety["peak_local_current_density_position_mm"])
        typer.echo(f"  local peak       {safety['peak_local_current_density_mA_per_cm2']:.3g} mA/cm^2 at ({where}) mm: "
                   f"{verdict(safety['local_current_density_ok'])}")
    if "skin_pH_ok" in safety:
        low, high = safety["skin_pH_range"]
        typer.echo(f"  skin-surface pH  {safety['skin_surface_pH_min']:.2f} to {safety['skin_surface_pH_max']:.2f}, "
                   f"safe {low:g} to {high:g}: {'ok' if safety['skin_pH_ok'] else 'OUTSIDE'}")


@app.command()
def mesh(
    config: Annotated[Path, typer.Argument(help="Scenario YAML with a geometry section")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to create for mesh.xdmf, mesh.h5 and mesh.png")],
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds a finished mesh")] = False,
    max_cells: Annotated[int, typer.Option(help="Refuse meshes with more cells than this")] = 2_000_000,
) -> None:
    """Build the 2D/3D skin mesh of a scenario and write it (XDMF) with a picture of its tags."""
    from iontosim.scenario.errors import ScenarioError
    from iontosim.scenario.load import load_scenario

    comm = _comm()
    try:
        scenario = load_scenario(config)
        if scenario.geometry is None:
            raise ScenarioError("geometry", "is needed to build a mesh (kind, width, anode_width, return_gap, "
                                            "return_width, resolution)")
    except ScenarioError as err:
        _say(comm, f"error: {config}: {err}", err=True)
        raise typer.Exit(2)
    layers = [(layer.name, layer.thickness) for layer in scenario.skin]
    geometry = scenario.geometry.to_geometry()
    # the return electrode's pad is meshed where the patch puts that electrode on the skin
    return_thickness = (scenario.return_electrode.thickness
                        if scenario.return_electrode is not None and geometry.has_return_electrode else 0.0)
    cells = geometry.cell_count(layers, scenario.donor.thickness, return_thickness)
    if cells > max_cells:
        _say(comm, f"error: {config}: geometry: the mesh would have {cells} cells, more than --max-cells "
                   f"{max_cells}; lower geometry.resolution or the width", err=True)
        raise typer.Exit(2)

    def build(stage: Path) -> None:
        from iontosim.mesh.skin_mesh import build_skin_mesh, write_mesh

        try:
            skin = build_skin_mesh(comm, layers, scenario.donor.thickness, geometry, return_thickness)
        except (RuntimeError, ValueError) as err:  # raised alike on every rank
            _say(comm, f"error: {config}: geometry: {err}", err=True)
            raise typer.Exit(2)
        write_mesh(skin, stage)
        cells = comm.allreduce(skin.mesh.topology.index_map(skin.mesh.topology.dim).size_local)
        _say(comm, f"{scenario.geometry.kind} mesh: {cells} cells; regions "
                   + ", ".join(f"{tag} {name}" for tag, name in skin.regions.items())
                   + "; boundaries " + ", ".join(f"{tag} {name}" for tag, name in skin.boundaries.items()))

    _in_staged_directory(comm, out, overwrite, build, marker=("mesh.png", "mesh.xdmf"))
    _say(comm, f"mesh directory: {out}")


@app.command()
def species() -> None:
    """List the built-in species library with each value's source."""
    from iontosim.library.species import LIBRARY

    for sp in LIBRARY.values():
        typer.echo(f"{sp.name} ({sp.role})")
        rows = sp.describe()
        width = max(len(field) for field, _, _ in rows)
        for field, value, src in rows:
            typer.echo(f"    {field:<{width}}  {value:<22}  {src}")
    typer.echo("A scenario adds its own drugs under species_definitions (docs/physics.md).")


from iontosim.validation.command import validate  # noqa: E402 (light: heavy imports inside)

from iontosim.analysis.command import sensitivity  # noqa: E402
from iontosim.sweep.command import sweep  # noqa: E402

app.command()(validate)
app.command("sensitivity")(sensitivity)
app.command("sweep")(sweep)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
