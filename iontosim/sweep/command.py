"""`iontosim sweep`: run a sweep's cases, gather the table, draw the report, or write Slurm scripts.

Exit status: 0 every case done; 1 some case failed (each has its error.json) or could not be run;
2 bad input (the sweep file, its base scenario, arguments, an --out holding another sweep).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


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
    workers: Annotated[
        int | None, typer.Option(help="Processes without mpirun (default: the available cores)")
    ] = None,
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
        list[str] | None,
        typer.Option(help="--emit-slurm: another #SBATCH line, e.g. 'partition=short' (repeatable)"),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option(help="Run the failed cases again (by default they keep their error.json)")
    ] = False,
    case_plots: Annotated[
        bool, typer.Option(help="Draw each case's profiles/delivery/voltage PNGs, as iontosim run does")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress")] = True,
) -> None:
    """Run the cases of a sweep (each into DIR/cases/<id>/, as `iontosim run` writes), gather their
    summaries into DIR/summaries.h5 and .csv, and with --report draw the outputs against each
    parameter and the Sobol indices. Rerunning the same command resumes: finished cases are kept.

    Locally the cases run on a process pool of the available cores; under `mpirun -n N` (or srun)
    on groups of --ranks-per-case ranks; on Slurm, --emit-slurm writes a job-array script whose
    tasks run their slice with --array-index."""
    from mpi4py import MPI

    from iontosim import interruption

    from .design import case_count
    from .directory import DONE, FAILED, PENDING, SweepDirectory
    from .engines import EngineError, array_slice, available_cores, run_in_groups, run_in_pool
    from .progress import SweepProgress
    from .slurm import MAX_ARRAY_SIZE, array_tasks, write_slurm_scripts
    from .spec import SweepError, read_sweep

    world = MPI.COMM_WORLD
    try:
        plan = read_sweep(sweep_file)
    except SweepError as err:
        _refuse(world, f"{sweep_file}: {err}")
    for name, value in (
        ("--ranks-per-case", ranks_per_case),
        ("--cases-per-task", cases_per_task),
        ("--workers", workers if workers is not None else 1),
    ):
        if value < 1:
            _refuse(world, f"{name}: must be at least 1, got {value}")
    if array_index is not None and array_index < 0:
        _refuse(world, f"--array-index: must not be negative, got {array_index}")
    if emit_slurm and (array_index is not None or report):
        _refuse(world, "--emit-slurm writes the scripts; give it without --array-index and --report")
    running = not (emit_slurm or report)
    if running and world.size % ranks_per_case:
        _refuse(
            world,
            f"--ranks-per-case: {ranks_per_case} does not divide the {world.size} MPI rank(s)"
            + ("; start the sweep under mpirun -n <a multiple of it>" if world.size == 1 else ""),
        )
    if running and world.size > 1 and workers is not None:
        _refuse(
            world,
            "--workers: under mpirun the ranks run the cases (see --ranks-per-case); give --workers without mpirun",
        )

    count = case_count(plan)
    if array_index is not None and not array_slice(count, array_index, cases_per_task):
        _refuse(
            world,
            f"--array-index: {array_index} is past the last task ({array_tasks(count, cases_per_task) - 1}) "
            f"of {count} cases at --cases-per-task {cases_per_task}",
        )

    directory = SweepDirectory(out)
    cases, problem = None, None
    if world.rank == 0:
        try:
            cases = directory.open(plan, create=not report)
        except SweepError as err:
            problem = str(err)
        except OSError as err:
            problem = f"--out: {err}"
        except (KeyError, TypeError, ValueError) as err:  # a damaged sweep.json: say so on every rank
            problem = (
                f"--out: {out / 'sweep.json'} is damaged ({type(err).__name__}: {err}); move it away to start again"
            )
    cases, problem = world.bcast((cases, problem), root=0)
    if problem:
        _refuse(world, problem)

    if emit_slurm:
        tasks = array_tasks(len(cases), cases_per_task)
        if world.rank == 0:
            array, gather_script = write_slurm_scripts(
                out, sweep_file, plan.name, len(cases), cases_per_task, ranks_per_case, slurm_time, slurm_option or []
            )
            plural = "s" if tasks > 1 else ""
            typer.echo(
                f"{plan.name}: {len(cases)} cases in {tasks} array task{plural} of {cases_per_task}, "
                f"{ranks_per_case} rank(s) each"
            )
            typer.echo(
                f"job array: {array}\ngathering: {gather_script}\nsubmit: jobid=$(sbatch --parsable {array}) "
                f"&& sbatch --dependency=afterany:$jobid {gather_script}"
            )
            if tasks > MAX_ARRAY_SIZE:
                typer.echo(
                    f"warning: {tasks} array tasks is more than Slurm's default MaxArraySize "
                    f"({MAX_ARRAY_SIZE}); raise --cases-per-task",
                    err=True,
                )
        return

    selection = cases
    if array_index is not None:
        selection = [cases[i] for i in array_slice(len(cases), array_index, cases_per_task)]

    if report:
        if world.rank == 0:
            _gather_and_tell(plan, directory, cases, draw=True)
        return

    states = None
    if world.rank == 0:
        if retry_failed:
            for case in selection:
                directory.forget_failure(case.id)
        states = directory.states(selection)
    states = world.bcast(states, root=0)
    pending = [c for c in selection if states[c.id] == PENDING]
    jobs = [
        (c.id, plan.case_mapping(c.values), {p.column: p.in_unit(c.values[p.path]) for p in plan.parameters})
        for c in pending
    ]
    label = plan.name if array_index is None else f"{plan.name} [task {array_index}]"
    done_before = sum(s == DONE for s in states.values())
    failed_before = sum(s == FAILED for s in states.values())

    def counts() -> tuple[int, int]:
        now = directory.states(selection).values()
        return sum(s == DONE for s in now), sum(s == FAILED for s in now)

    lost = None
    interruption.install()
    with SweepProgress(
        len(selection), done_before, failed_before, show=progress and world.rank == 0, label=label
    ) as bar:
        try:
            # workers get the directory as an absolute path: nothing depends on where they start
            root = str(directory.root.resolve())
            if world.size > 1:
                run_in_groups(world, root, jobs, ranks_per_case, bar, counts, case_plots)
            else:
                run_in_pool(root, jobs, workers or available_cores(), bar, case_plots)
        except EngineError as err:
            lost = str(err)
        except interruption.Interrupted as stop:
            _say(
                world,
                f"interrupted; the finished cases are kept in {out}: rerun the same command to run the "
                "others (the ones under way start again)",
                err=True,
            )
            raise typer.Exit(stop.exit_status) from None

    failed = 0
    if world.rank == 0:
        if array_index is None:
            table = _gather_and_tell(plan, directory, cases, draw=False)
            failed = table.count(FAILED)
        else:
            done, failed = counts()
            typer.echo(f"{label}: cases {selection[0].id} to {selection[-1].id}: {done} done, {failed} failed")
        if lost:
            typer.echo(f"error: {lost}", err=True)
    failed = world.bcast(failed, root=0)
    if failed or lost:
        raise typer.Exit(1)


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
