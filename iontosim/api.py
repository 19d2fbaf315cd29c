"""One way to run a scenario, for every caller: the command line, sweeps, validation, sensitivity
analyses and notebooks.

    iontosim.scenarios()                                   # the shipped scenarios' names
    scenario = iontosim.load("fentanyl_ionsys", **{"protocol[0].current": "150 uA"})
    result = iontosim.run(scenario)                        # in memory, on one process
    result = iontosim.run(scenario, out="runs/f", comm=MPI.COMM_WORLD)   # and its run directory

`run` honours the scenario's geometry (a 2D/3D patch is solved on its mesh) and always computes
the same summary, safety section included. Errors: ScenarioError (bad input), OutputExists and
OutputKept (the run directory), ResumeError, RunFailed (the solver or the device gave up), and
Interrupted (a signal stopped the run; its state may be kept for --resume). Every rank of `comm`
raises the same one.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iontosim.rundir import RunDirectory

if TYPE_CHECKING:  # pragma: no cover
    from mpi4py.MPI import Comm

    from iontosim.output.fields import FieldPicture
    from iontosim.physics.term import Term
    from iontosim.result import Result
    from iontosim.scenario.schema import Scenario


class RunFailed(RuntimeError):
    """The solver could not go on, or the device reached a limit (the message says which)."""


class ResumeError(ValueError):
    """--resume cannot continue: no interrupted run, or a checkpoint of another scenario or rank count."""


#: refuse 2D/3D meshes with more cells than this unless told otherwise (max_cells)
MAX_CELLS = 2_000_000


# ---------------------------------------------------------------------------- scenarios
def scenarios() -> list[str]:
    """Names of the shipped scenarios (`iontosim scenarios` describes them)."""
    from iontosim.scenario import catalogue

    return catalogue.names()


def load(scenario: str | Path, /, **overrides: Any) -> Scenario:
    """A shipped scenario by name, or a scenario file by path, with `overrides` by parameter path
    ("protocol[0].current": "150 uA", "skin[stratum_corneum].thickness": "15 um"), each value a
    quantity with its unit as in a scenario file. Raises ScenarioError naming the field."""
    from iontosim.scenario import catalogue
    from iontosim.scenario.load import read_scenario_file, scenario_from_dict
    from iontosim.scenario.parameters import with_parameter

    data = read_scenario_file(catalogue.locate(scenario))
    for path, value in overrides.items():
        data = with_parameter(data, path, value, why="set by iontosim.load", create=True)
    return scenario_from_dict(data)


# ---------------------------------------------------------------------------- running
def run(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    comm: Comm | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    plots: bool = True,
    checkpoint_every: float = 600.0,
    extra_terms: Iterable[Term] = (),
    on_output: Callable[[Any, float], None] | None = None,
    max_cells: int = MAX_CELLS,
    notes: Callable[[str], None] | None = None,
) -> Result:
    """Solve `scenario` (a Scenario, a shipped name or a file) on `comm` (default: this process
    alone) and return its Result; with `out`, also write its run directory there (staged, locked,
    never replacing anything but a finished run given `overwrite`), with restart checkpoints every
    `checkpoint_every` seconds of wall time; `resume` continues the interrupted run of `out`.

    `progress` shows a progress bar on rank 0; `plots` draws the run directory's pictures;
    `extra_terms` are physical terms of the caller's (physics/term.py); `on_output(model, t)` is
    called on every rank at each of outputs.profile_times; `notes(text)` hears what the user should
    know before the run (rank 0)."""
    from iontosim._fenics import MPI, check_jit_cache
    from iontosim.mesh.of_scenario import check_size

    comm = comm if comm is not None else MPI.COMM_SELF
    check_jit_cache()
    if isinstance(scenario, (str, Path)):
        scenario = load(scenario)
    check_size(scenario, max_cells)
    options: dict[str, Any] = {
        "progress": progress,
        "plots": plots,
        "checkpoint_every": checkpoint_every,
        "extra_terms": tuple(extra_terms),
        "on_output": on_output,
    }
    if out is None:
        if resume:
            raise ResumeError("--resume needs the --out of the interrupted run")
        return solve(scenario, comm, None, **options)
    return _in_run_directory(scenario, Path(out), comm, overwrite, resume, notes, options)


def _in_run_directory(
    scenario: Scenario,
    out: Path,
    comm: Comm,
    overwrite: bool,
    resume: bool,
    notes: Callable[[str], None] | None,
    options: dict[str, Any],
) -> Result:
    """Run into a staged, locked run directory (rundir.RunDirectory on rank 0)."""
    from iontosim import interruption
    from iontosim.rundir import resumable_stage

    reuse = None
    if resume:
        found = on_root(comm, lambda: resumable_stage(out))
        if found is None:
            raise ResumeError(f"no interrupted run of {out} with a checkpoint next to it")
        reuse = found
    directory = RunDirectory(out, overwrite, reuse=reuse)
    with staged(comm, directory) as stage:
        if comm.rank == 0 and notes is not None:
            for note in directory.notes:
                notes(note)
        state = _resumed_state(scenario, comm, stage) if resume else None
        try:
            result = solve(scenario, comm, stage, resume_state=state, fresh=reuse is None, **options)
        except interruption.Interrupted as stop:
            stop.checkpoint = stage
            raise
        on_root(comm, directory.commit)
    result.directory = out
    return result


@contextmanager
def staged(comm: Comm, directory: RunDirectory) -> Iterator[Path]:
    """The staging folder of `directory`, opened and closed on rank 0, known on every rank."""
    stage = on_root(comm, lambda: directory.__enter__().stage)
    try:
        yield stage
    finally:
        if comm.rank == 0:
            directory.__exit__(*sys.exc_info())


def on_root(comm: Comm, work: Callable[[], Any]) -> Any:
    """`work()` on rank 0 only; every rank gets its value, or raises its exception (so that no rank
    goes on alone into a collective call after rank 0 failed)."""
    value, error = None, None
    if comm.rank == 0:
        try:
            value = work()
        except Exception as err:  # noqa: BLE001 - handed to every rank, raised there
            error = err
    value, error = comm.bcast((value, error), root=0)
    if error is not None:
        raise error
    return value


def solve(
    scenario: Scenario,
    comm: Comm,
    stage: Path | None,
    *,
    progress: bool = False,
    plots: bool = True,
    checkpoint_every: float = 600.0,
    extra_terms: tuple = (),
    on_output=None,
    resume_state: dict | None = None,
    fresh: bool = True,
) -> Result:
    """Solve `scenario` on `comm` and, with a `stage` folder, write the run directory's content
    into it (rank 0 writes): the body of every run, also used for each case of a sweep."""
    from iontosim import interruption
    from iontosim.mesh.skin_mesh import MeshError
    from iontosim.output.metrics import run_summary
    from iontosim.rundir import software_versions, write_json, write_yaml
    from iontosim.simulation import SimulationError, simulate

    if stage is not None and fresh:

        def start_directory() -> None:
            write_yaml(stage / "config.resolved.yaml", scenario.resolved_dict())
            write_json(stage / "versions.json", software_versions(comm.size))

        on_root(comm, start_directory)
    fields = _FieldOutput(scenario, stage, on_output)
    kwargs: dict[str, Any] = {"fields": fields, "extra_terms": extra_terms, "resume": resume_state}
    if stage is not None:
        kwargs |= {"checkpoint": _checkpoint_writer(scenario, comm, stage), "checkpoint_every": checkpoint_every}
    started = time.perf_counter()
    try:
        with _progress_bar(scenario, comm, progress) as bar:
            record = simulate(scenario, comm, progress=bar, **kwargs)
        fields.close()
    except (SimulationError, ValueError, MeshError) as err:
        fields.close()
        raise RunFailed(f"{scenario.name}: {err}") from err
    except interruption.Interrupted:  # every rank at the same step: the fields files close whole, for --resume
        fields.close()
        raise
    wall = time.perf_counter() - started
    record.profiles = comm.bcast(record.profiles if comm.rank == 0 else None, root=0)  # every rank alike
    from iontosim.result import Result

    result = Result(
        scenario,
        record,
        run_summary(record, scenario.outputs, wall, comm.size),
        picture=comm.bcast(fields.picture, root=0),
    )
    if stage is not None:
        on_root(comm, lambda: write_directory(result, stage, plots))
    return result


def write_directory(result: Result, folder: Path, plots: bool = True) -> None:
    """The run directory's files from a result (one process): results.h5 and its CSV tables
    (timeseries.csv, profiles.csv; the return electrode's and the passive control's prefixed with
    their name), the pictures, summary.json last (its presence marks a finished run)."""
    from iontosim.output import fields, metrics, plot_all, results, tables

    try:
        record = result.record
        results.write_results(folder / "results.h5", record)
        tables.write_tables(folder, record)
        for name, other in (("return_electrode", record.return_record), ("passive_control", record.passive_record)):
            if other is not None:
                results.write_results(folder / f"{name}.h5", other)
                tables.write_tables(folder, other, prefix=f"{name}_")
        if plots:
            try:
                plot_all(record, folder, result.summary)
                if result.picture is not None:
                    fields.write_pictures(result.picture, folder)
            except (ValueError, ArithmeticError) as err:  # a picture must not lose the solved results
                warning = f"pictures not drawn: {err}"
                result.summary.setdefault("warnings", []).append(warning)
                print(f"warning: {warning}", file=sys.stderr)
        metrics.write_summary(folder / "summary.json", result.summary)
    except OSError as err:
        raise OSError(f"writing the run directory failed: {err}") from err


def save(result: Result, directory: str | Path, overwrite: bool = False) -> Path:
    """Write `result` as a run directory (Result.save)."""
    from iontosim._fenics import MPI
    from iontosim.rundir import software_versions, write_json, write_yaml

    out = Path(directory)

    def write() -> None:
        with RunDirectory(out, overwrite) as staged:
            assert staged.stage is not None
            write_yaml(staged.stage / "config.resolved.yaml", result.scenario.resolved_dict())
            write_json(staged.stage / "versions.json", software_versions(result.summary.get("mpi_ranks", 1)))
            write_directory(result, staged.stage)
            staged.commit()

    on_root(MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else MPI.COMM_SELF, write)
    result.directory = out
    return out


class _FieldOutput:
    """At each of outputs.profile_times: the fields files of a patch (fields.bp and fields.xdmf with
    its fields.h5, when writing a run directory), the caller's `on_output`, and the pictures' data
    (Result.picture) at the last profile time the current is on (the end of a current phase, when
    it is a profile time), else at the last: after the current stops, the current density is zero
    everywhere."""

    #: the formats of the fields files (output.fields.FieldWriter) with their suffixes: VTX for
    #: ParaView's ADIOS2 reader, XDMF for any ParaView (and other readers of XDMF)
    FORMATS = (("vtx", ".bp"), ("xdmf", ".xdmf"))

    def __init__(self, scenario: Scenario, stage: Path | None, on_output=None):
        self.scenario, self.stage, self.on_output = scenario, stage, on_output
        self.last, self.current_on = _picture_time(scenario)
        self.writers: list[Any] = []  # output.fields.FieldWriter of each format, made at the first profile time
        self.picture: FieldPicture | None = None

    def __call__(self, model, t: float) -> None:
        if self.on_output is not None:
            self.on_output(model, t)
        if model.mesh.topology.dim == 1:
            return
        from iontosim.output import fields

        if self.stage is not None:
            if not self.writers:
                stem = _fields_file_name(model.comm, self.stage)
                self.writers = [fields.FieldWriter(model, self.stage / (stem + s), format=f) for f, s in self.FORMATS]
            for k, writer in enumerate(self.writers):  # the fields once, for every format
                writer.write(t, refresh=k == 0)
        if self.last is not None and abs(t - self.last) <= 1e-9 * max(1.0, self.last):
            self.picture = fields.capture(model, self.scenario.drug, t, current_on=self.current_on)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []


def _picture_time(scenario: Scenario) -> tuple[float | None, bool]:
    """The profile time [s] the field pictures show, and whether the current is on then."""
    from iontosim.solver.protocol import build_schedule

    times = sorted(float(t) for t in scenario.outputs.profile_times)
    if not times:
        return None, False
    schedule = build_schedule(scenario.protocol, scenario.donor.polarity, scenario.numerics.min_resolved_pulse_period)
    on = schedule.on_intervals()
    during = [t for t in times if any(a < t <= b * (1 + 1e-12) for a, b in on)]
    return (during[-1], True) if during else (times[-1], False)


def _fields_file_name(comm: Comm, stage: Path) -> str:
    """The fields files' name without suffix: fields (fields.bp, fields.xdmf), or a new one beside
    the fields an interrupted run wrote before it was resumed (fields.resumed1.bp, ...)."""
    name = None
    if comm.rank == 0:
        taken = {p.name[: -len(suffix)] for _, suffix in _FieldOutput.FORMATS for p in stage.glob(f"fields*{suffix}")}
        name = next(n for n in ("fields", *(f"fields.resumed{k}" for k in range(1, 1000))) if n not in taken)
    return comm.bcast(name, root=0)


class _progress_bar:
    """A progress bar on rank 0 when asked (output/terminal.py), else nothing."""

    def __init__(self, scenario: Scenario, comm: Comm, show: bool):
        self.bar = None
        if show and comm.rank == 0:
            from iontosim.output.terminal import RunProgress

            self.bar = RunProgress(scenario)

    def __enter__(self):
        return self.bar.__enter__() if self.bar is not None else None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# ---------------------------------------------------------------------------- checkpoints
def _checkpoint_writer(scenario: Scenario, comm: Comm, stage: Path):
    """A checkpoint callback: gathers every rank's state and writes it atomically (rank 0)."""
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
                print(f"warning: checkpoint not written ({err}); the run goes on", file=sys.stderr)

    return write


def _resumed_state(scenario: Scenario, comm: Comm, stage: Path) -> dict:
    """This rank's state from the checkpoint of `stage`; the same scenario and rank count are required."""
    from iontosim.rundir import CHECKPOINT
    from iontosim.simulation import CHECKPOINT_VERSION

    def read() -> list:
        try:
            with open(stage / CHECKPOINT, "rb") as f:
                data = pickle.load(f)
        except Exception as err:  # noqa: BLE001 - unreadable: one message on every rank
            raise ResumeError(f"cannot read {stage / CHECKPOINT} ({type(err).__name__}: {err})") from None
        if data["ranks"] != comm.size:
            raise ResumeError(f"the checkpoint was written on {data['ranks']} rank(s); resume on as many")
        if data["states"][0].get("version") != CHECKPOINT_VERSION:
            raise ResumeError("the checkpoint was written by another version of iontosim; run again without --resume")
        if data["config"] != scenario.resolved_dict():
            raise ResumeError("the checkpoint is of another scenario (config.resolved.yaml differs)")
        return data["states"]

    problem, states = None, None
    if comm.rank == 0:
        try:
            states = read()
        except ResumeError as err:
            problem = err
    problem = comm.bcast(problem, root=0)
    if problem is not None:
        raise problem
    return comm.scatter(states, root=0)
