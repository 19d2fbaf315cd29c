"""`iontosim sweep`: run a sweep's cases, gather the table, draw the report, or write Slurm scripts.

Exit status: 0 every case done; 1 some case failed (each has its error.json) or could not be run;
2 bad input (the sweep file, its base scenario, arguments, an --out holding another sweep).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pragma: no cover
    from .directory import SweepDirectory


def _say(world, text: str, err: bool = False) -> None:
    if world.rank == 0:
        typer.echo(text, err=err)


def _refuse(world, text: str) -> None:
    _say(world, f"error: {text}", err=True)
    raise typer.Exit(2)


def sweep(
    sweep_file: Annotated[
        Path, typer.Argument(help="Sweep YAML: base scenario, parameters with units, design, outputs")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Sweep directory: created, or resumed when it holds this sweep")
    ],
    report: Annotated[
        bool, typer.Option(help="Gather the finished cases into the table and draw the report (runs no case)")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Processes without mpirun (default: the available cores)")] = None,
    ranks_per_case: Annotated[
        int, typer.Option(help="MPI ranks per case under mpirun/srun (the ranks are split into groups)")
    ] = 1,
    emit_slurm: Annotated[
        bool, typer.Option(help="Write DIR/slurm/sweep.sbatch (a job array) and gather.sbatch, run nothing")
    ] = False,
    array_index: Annotated[int | None, typer.Option(help="Run only the slice of this Slurm array task")] = None,
    cases_per_task: Annotated[int, typer.Option(help="Cases per Slurm array task")] = 1,
    slurm_time: Annotated[
        str, typer.Option(help="--emit-slurm: time limit of each array task (HH:MM:SS)")
    ] = "01:00:00",
    slurm_option: Annotated[
        list[str] | None, typer.Option(help="--emit-slurm: another #SBATCH line, e.g. 'partition=short' (repeatable)")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option(help="Run the failed cases again (by default they keep their error.json)")
    ] = False,
    case_plots: Annotated[
        bool, typer.Option(help="Draw each case's profiles/delivery/voltage PNGs, as iontosim run does")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress")] = True,
    max_cases: Annotated[
        int | None, typer.Option(help="Refuse a design with more cases than this (default: 100000)")
    ] = None,
) -> None:
    """Run the cases of a sweep (each into DIR/cases/<id>/, as `iontosim run` writes), gather their
    summaries into DIR/summaries.h5 and .csv, and with --report draw the outputs against each
    parameter and the Sobol indices. Rerunning the same command resumes: finished cases are kept.

    Locally the cases run on a process pool of the available cores; under `mpirun -n N` (or srun)
    on groups of --ranks-per-case ranks; on Slurm, --emit-slurm writes a job-array script whose
    tasks run their slice with --array-index."""
    from mpi4py import MPI

    from .directory import SweepDirectory
    from .spec import MAX_CASES, SweepError, read_sweep

    world = MPI.COMM_WORLD
    if max_cases is not None and max_cases < 1:
        _refuse(world, f"--max-cases: must be at least 1, got {max_cases}")
    try:
        plan = read_sweep(sweep_file, MAX_CASES if max_cases is None else max_cases)
    except SweepError as err:
        _refuse(world, f"{sweep_file}: {err}")
    options = _Options(
        sweep_file,
        out,
        report,
        workers,
        ranks_per_case,
        emit_slurm,
        array_index,
        cases_per_task,
        slurm_time,
        slurm_option or [],
        retry_failed,
        case_plots,
        progress,
    )
    _check_options(world, plan, options)
    cases = _open_directory(world, plan, options)
    if emit_slurm:
        _emit_slurm(world, plan, options, len(cases))
    elif report:
        if world.rank == 0:
            _gather_and_tell(plan, SweepDirectory(out), cases, draw=True)
    else:
        _run(world, plan, options, cases)


@dataclass(frozen=True)
class _Options:
    sweep_file: Path
    out: Path
    report: bool
    workers: int | None
    ranks_per_case: int
    emit_slurm: bool
    array_index: int | None
    cases_per_task: int
    slurm_time: str
    slurm_option: list[str]
    retry_failed: bool
    case_plots: bool
    progress: bool


def _check_options(world, plan, o: _Options) -> None:
    """Every option's bounds, and the combinations that make no sense, before anything runs."""
    from .design import case_count
    from .engines import array_slice
    from .slurm import array_tasks

    workers = o.workers if o.workers is not None else 1
    for name, value in (
        ("--ranks-per-case", o.ranks_per_case),
        ("--cases-per-task", o.cases_per_task),
        ("--workers", workers),
    ):
        if value < 1:
            _refuse(world, f"{name}: must be at least 1, got {value}")
    if o.array_index is not None and o.array_index < 0:
        _refuse(world, f"--array-index: must not be negative, got {o.array_index}")
    if o.emit_slurm and (o.array_index is not None or o.report):
        _refuse(world, "--emit-slurm writes the scripts; give it without --array-index and --report")
    running = not (o.emit_slurm or o.report)
    if running and world.size % o.ranks_per_case:
        _refuse(
            world,
            f"--ranks-per-case: {o.ranks_per_case} does not divide the {world.size} MPI rank(s)"
            + ("; start the sweep under mpirun -n <a multiple of it>" if world.size == 1 else ""),
        )
    if running and world.size > 1 and o.workers is not None:
        _refuse(
            world,
            "--workers: under mpirun the ranks run the cases (see --ranks-per-case); give --workers without mpirun",
        )
    count = case_count(plan)
    if o.array_index is not None and not array_slice(count, o.array_index, o.cases_per_task):
        _refuse(
            world,
            f"--array-index: {o.array_index} is past the last task "
            f"({array_tasks(count, o.cases_per_task) - 1}) of {count} cases at --cases-per-task "
            f"{o.cases_per_task}",
        )


def _open_directory(world, plan, o: _Options) -> list:
    """The sweep's cases, from its directory (created when new, unless only reporting); every rank."""
    from .directory import SweepDirectory
    from .spec import SweepError

    cases, problem = None, None
    if world.rank == 0:
        try:
            cases = SweepDirectory(o.out).open(plan, create=not o.report)
        except SweepError as err:
            problem = str(err)
        except OSError as err:
            problem = f"--out: {err}"
        except (KeyError, TypeError, ValueError) as err:  # a damaged sweep.json: say so on every rank
            problem = (
                f"--out: {o.out / 'sweep.json'} is damaged ({type(err).__name__}: {err}); move it away to start again"
            )
    cases, problem = world.bcast((cases, problem), root=0)
    if problem:
        _refuse(world, problem)
    return cases


def _emit_slurm(world, plan, o: _Options, count: int) -> None:
    from .slurm import MAX_ARRAY_SIZE, array_tasks, write_slurm_scripts

    if world.rank != 0:
        return
    tasks = array_tasks(count, o.cases_per_task)
    array, gather_script = write_slurm_scripts(
        o.out, o.sweep_file, plan.name, count, o.cases_per_task, o.ranks_per_case, o.slurm_time, o.slurm_option
    )
    plural = "s" if tasks > 1 else ""
    typer.echo(
        f"{plan.name}: {count} cases in {tasks} array task{plural} of {o.cases_per_task}, "
        f"{o.ranks_per_case} rank(s) each"
    )
    typer.echo(
        f"job array: {array}\ngathering: {gather_script}\nsubmit: jobid=$(sbatch --parsable {array}) "
        f"&& sbatch --dependency=afterany:$jobid {gather_script}"
    )
    if tasks > MAX_ARRAY_SIZE:
        typer.echo(
            f"warning: {tasks} array tasks is more than Slurm's default MaxArraySize ({MAX_ARRAY_SIZE}); "
            "raise --cases-per-task",
            err=True,
        )


def _run(world, plan, o: _Options, cases: list) -> None:
    """Run the pending cases of this process's selection, then gather (or count a task's slice).
    The sweep directory is locked: shared by the tasks of one Slurm array, exclusive otherwise."""
    from iontosim.api import on_root
    from iontosim.rundir import OutputError

    from .directory import SweepDirectory
    from .engines import array_slice

    selection = cases
    if o.array_index is not None:
        selection = [cases[i] for i in array_slice(len(cases), o.array_index, o.cases_per_task)]
    directory = SweepDirectory(o.out)
    try:
        on_root(world, lambda: directory.lock(shared=o.array_index is not None))
    except OutputError as err:
        _refuse(world, f"--out: {err}")
    try:
        lost = _run_pending(world, plan, o, directory, selection)
    finally:
        if world.rank == 0:
            directory.unlock()
    failed = 0
    if world.rank == 0:
        from .directory import FAILED

        if o.array_index is None:
            failed = _gather_and_tell(plan, directory, cases, draw=False).count(FAILED)
        else:
            done, failed = directory.counts(selection)
            typer.echo(
                f"{plan.name} [task {o.array_index}]: cases {selection[0].id} to {selection[-1].id}: "
                f"{done} done, {failed} failed"
            )
        if lost:
            typer.echo(f"error: {lost}", err=True)
    if world.bcast(failed, root=0) or lost:
        raise typer.Exit(1)


def _run_pending(world, plan, o: _Options, directory: SweepDirectory, selection: list) -> str | None:
    """Run the cases of `selection` not yet done; the engine's complaint (cases not run), if any."""
    from iontosim import interruption
    from iontosim.workers import available_cores

    from .directory import DONE, FAILED, PENDING
    from .engines import EngineError, run_in_groups, run_in_pool
    from .progress import SweepProgress

    states = None
    if world.rank == 0:
        if o.retry_failed:
            for case in selection:
                directory.forget_failure(case.id)
        states = directory.states(selection)
    states = world.bcast(states, root=0)
    jobs = [
        (c.id, plan.case_mapping(c.values), {p.column: p.in_unit(c.values[p.path]) for p in plan.parameters})
        for c in selection
        if states[c.id] == PENDING
    ]
    label = plan.name if o.array_index is None else f"{plan.name} [task {o.array_index}]"
    done, failed = (sum(s == kind for s in states.values()) for kind in (DONE, FAILED))
    interruption.install()
    with SweepProgress(len(selection), done, failed, show=o.progress and world.rank == 0, label=label) as bar:
        try:
            # workers get the directory as an absolute path: nothing depends on where they start
            root = str(directory.root.resolve())
            if world.size > 1:
                run_in_groups(
                    world, root, jobs, o.ranks_per_case, bar, lambda: directory.counts(selection), o.case_plots
                )
            else:
                run_in_pool(root, jobs, o.workers or available_cores(), bar, o.case_plots)
        except EngineError as err:
            return str(err)
        except interruption.Interrupted as stop:
            _say(
                world,
                f"interrupted; the finished cases are kept in {o.out}: rerun the same command to run the "
                "others (the ones under way start again)",
                err=True,
            )
            raise typer.Exit(stop.exit_status) from None
    return None


def _gather_and_tell(plan, directory, cases, draw: bool):
    from .directory import DONE, FAILED, PENDING
    from .gather import SOBOL_CSV, TABLE_CSV, TABLE_H5, gather

    table = gather(plan, directory, cases)
    typer.echo(
        f"{plan.name}: {len(cases)} cases: {table.count(DONE)} done, {table.count(FAILED)} failed, "
        f"{table.count(PENDING)} not run yet"
    )
    for i in [i for i, s in enumerate(table.status) if s == FAILED][:5]:
        typer.echo(
            f"  failed {table.cases[i]}: {table.errors[i]} ({directory.case_dir(table.cases[i]) / 'error.json'})"
        )
    for key, ids in table.missing.items():
        typer.echo(
            f"warning: {key} is not in the summary.json of {len(ids)} case(s) ({', '.join(ids[:3])}"
            f"{', ...' if len(ids) > 3 else ''}); check the output's name",
            err=True,
        )
    typer.echo(f"table: {directory.root / TABLE_H5} and {TABLE_CSV}")
    if table.sobol:
        typer.echo(
            f"Sobol indices ({directory.root / SOBOL_CSV}), S1 / ST with "
            f"{100 * table.sobol[0].conf_level:g}% half-widths:"
        )
        width = max(len(p) for p in table.sobol[0].parameters)
        for s in table.sobol:
            used = (
                ""
                if s.base_samples_used == s.base_samples
                else f" ({s.base_samples_used} of {s.base_samples} base samples: blocks with failed cases left out)"
            )
            typer.echo(f"  {s.output}{used}")
            for j, name in enumerate(s.parameters):
                typer.echo(
                    f"    {name:<{width}}  S1 {s.S1[j]:6.3f} +- {s.S1_conf[j]:.3f}   "
                    f"ST {s.ST[j]:6.3f} +- {s.ST_conf[j]:.3f}"
                )
    elif plan.spec.design.kind == "sobol":
        typer.echo("Sobol indices: not yet (too few whole Saltelli blocks, or an output that does not vary)")
    if draw:
        from .report import write_report

        for path in write_report(plan, table, directory.root):
            typer.echo(f"report: {path}")
    return table
