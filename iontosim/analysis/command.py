"""The ``sensitivity`` command: local elasticities of a scenario's outputs to its parameters.

Registered in iontosim/cli.py as ``iontosim sensitivity``. Exit status as for ``iontosim run``: 0
done (runs that failed are rows of the table), 2 bad input (config, parameter path, option,
existing output), 1 the run at the scenario's own values failed. Heavy imports wait inside the
function, so that ``iontosim --help`` stays quick.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

#: files present only in a finished sensitivity folder (sensitivity.md is written last)
MARKER = ("sensitivity.csv", "sensitivity.md")


def _fail(text: str, code: int = 2):
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(code)


def sensitivity(
    config: Annotated[str, typer.Argument(help="A shipped scenario's name or a scenario YAML")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to create for the table (sensitivity.csv, sensitivity.md), runs.csv and "
            "one chart per output (default: runs/<scenario>-sensitivity-<time>)",
        ),
    ] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="Also perturb the value at this path, e.g. protocol[0].current or "
            "skin[0].fixed_charge.isoelectric_point (a list entry by its position or "
            "its name; repeatable)",
        ),
    ] = None,
    only_given: Annotated[
        bool,
        typer.Option(
            "--only-given", help="Perturb only the --parameter paths, not every value written with its provenance"
        ),
    ] = False,
    step: Annotated[
        float,
        typer.Option(
            help="Relative step h: runs at x (1 - h) and x (1 + h); pH-like values move by h / ln 10 pH units"
        ),
    ] = 0.05,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes, each running one simulation at a time (default: the available cores)"),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds a finished sensitivity analysis")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Local sensitivity: the elasticity d ln(output) / d ln(parameter) of the delivered dose, the
    penetration depth and the peak plasma concentration to every uncertain parameter of CONFIG
    (every value written with its source or estimate, outside protocol, numerics, outputs,
    geometry and safety) and to each --parameter, by central differences; the table in order of
    the largest |elasticity| (screen, CSV, markdown) and a bar chart per output."""
    from iontosim.analysis import report
    from iontosim.analysis.sensitivity import BaseRunFailed, analyse, default_workers, select_parameters
    from iontosim.rundir import OutputExists, check_output, staged_directory
    from iontosim.scenario import catalogue
    from iontosim.scenario.errors import ScenarioError
    from iontosim.scenario.load import read_scenario_file, scenario_from_dict

    paths = list(parameter or [])
    ranks = _mpi_ranks()
    if ranks > 1:
        _fail(
            f"run the sensitivity analysis without mpirun (here {ranks} ranks would each run all of it): "
            "it runs its simulations on --workers processes of its own"
        )
    try:
        data = read_scenario_file(catalogue.locate(config))
        scenario = scenario_from_dict(data)
    except ScenarioError as err:
        _fail(f"{config}: {err}")
    if not 0.0 < step < 0.5:
        _fail(f"--step: the relative step must lie between 0 and 0.5 (0.05 is 5 %), got {step:g}")
    if workers is not None and workers < 1:
        _fail(f"--workers: at least 1, got {workers}")
    if only_given and not paths:
        _fail("--only-given: give the parameters with --parameter PATH")
    try:
        parameters = select_parameters(data, paths, only_given)
    except ScenarioError as err:
        _fail(f"{config}: --parameter {err}")
    if not parameters:
        _fail(
            f"{config}: no parameter to perturb (no numeric value written with its provenance); "
            "give some with --parameter PATH"
        )
    out = out or Path("runs") / f"{scenario.name}-sensitivity-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        check_output(out, overwrite, MARKER)
    except OutputExists as err:
        _fail(f"--out: {err}")
    workers = workers or default_workers()
    command = " ".join(
        ["iontosim sensitivity", str(config), "--out", str(out), "--step", f"{step:g}", "--workers", str(workers)]
        + [f"--parameter '{p}'" for p in paths]
        + (["--only-given"] if only_given else [])
    )

    try:
        with staged_directory(out, overwrite, MARKER) as stage:
            result = _analyse_with_progress(data, parameters, step, workers, progress, analyse)
            report.write_all(result, stage, command)
    except BaseRunFailed as err:
        _fail(f"{config}: {err}", code=1)
    except OSError as err:  # cannot create or write the folder
        _fail(f"--out: {err}")

    from rich.console import Console

    Console(width=200).print(report.rich_table(result))
    if result.failed_runs:
        typer.echo(
            f"warning: {len(result.failed_runs)} of {len(result.runs)} runs failed; their errors are in "
            f"the table and in runs.csv",
            err=True,
        )
    typer.echo(
        f"{len(result.runs)} runs on {result.workers} worker(s) in {result.wall_s:.0f} s; sensitivity directory: {out}"
    )


def _mpi_ranks() -> int:
    """How many MPI ranks this process was started among (1 when not under mpirun), from the
    environment that MPICH's and Open MPI's launchers set (the command does not start MPI itself)."""
    import os

    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        try:
            return int(os.environ[name])
        except (KeyError, ValueError):
            continue
    return 1


def _analyse_with_progress(data, parameters, step, workers, show, analyse):
    if not show:
        return analyse(data, parameters, step, workers)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn(f"[bold]{data.get('name', 'scenario')}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
    ]
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("runs", total=None, last="")

        def planned(n: int) -> None:
            bar.update(task, total=n)

        def done(run) -> None:
            what = f"{run.parameter or 'base'} {run.side}" + (" FAILED" if run.error else "")
            bar.update(task, advance=1, last=what)

        return analyse(data, parameters, step, workers, progress=done, planned=planned)
