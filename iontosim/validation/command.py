"""The ``iontosim validate`` command: run published cases, print the table, write the report.

Register it in iontosim/cli.py with ``app.command()(validate)`` after
``from iontosim.validation.command import validate``.

Exit status: 0 every check ran (pass or fail: a miss is a finding, reported, not a crash), 2 bad
input (an unknown case, a broken case or scenario file, an --out that is a file), 1 a solver
failure in some case. Output is printed on rank 0 only; every rank solves.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer


def _comm():
    from iontosim._fenics import MPI

    return MPI.COMM_WORLD


#: the files of a finished report (what --overwrite may replace)
REPORT_MARKER = ("report.md", "report.json")


def validate(
    cases: Annotated[
        list[str] | None, typer.Argument(help="Case names (folders of iontosim/validation/cases/); default: all")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for report.md, report.json and one PNG per case (default: runs/validation-<time>)",
        ),
    ] = None,
    list_cases_: Annotated[
        bool, typer.Option("--list", help="List the cases with their role and source, and stop")
    ] = False,
    cases_dir: Annotated[
        Path | None, typer.Option("--cases-dir", help="Where the case folders are (default: the shipped cases)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds a finished validation report")] = False,
) -> None:
    """Compare the simulation with published data: each case reruns an experiment's conditions and
    judges the simulated quantity against the published value and its stated tolerance."""
    from .case import CaseError
    from .suite import RunCache, case_path, list_cases, prepare_case, run_case

    comm = _comm()

    def say(text: str, err: bool = False) -> None:
        if comm.rank == 0:
            typer.echo(text, err=err)

    def refuse(name: str, err: CaseError) -> None:
        """One line naming the file, the field and the reason; exit status 2."""
        where = "" if err.field == "case" else f"{case_path(name, cases_dir)}: "
        say(f"error: {where}{err}", err=True)
        raise typer.Exit(2)

    def prepared(names: list[str]) -> list:
        """Every case read and checked before anything is solved: bad input costs no solver time."""
        out = []
        for name in names:
            try:
                out.append(prepare_case(name, cases_dir))
            except CaseError as err:
                refuse(name, err)
        return out

    _check_cases_dir(cases_dir, say)
    names = list_cases(cases_dir)
    if list_cases_:
        listed = [p.case for p in prepared(names)]
        width = max((len(c.name) for c in listed), default=4)
        for c in listed:
            say(f"{c.name:<{width}}  {c.role:<11}  {', '.join(c.sources)}: {c.title}")
        return
    chosen = list(cases) if cases else names
    if not chosen:
        say("error: case: no validation cases found", err=True)
        raise typer.Exit(2)
    cases_to_run = prepared(chosen)
    if out is None:
        out = Path("runs") / f"validation-{datetime.now():%Y%m%d-%H%M%S}"
    from iontosim.rundir import OutputExists, check_output, staged_directory

    try:  # before any solve: an earlier report is never replaced unasked
        check_output(out, overwrite, REPORT_MARKER)
    except OutputExists as err:
        say(f"error: --out: {err}", err=True)
        raise typer.Exit(2) from None

    cache = RunCache()
    results = []
    for p in cases_to_run:
        results.append(run_case(p, comm, cache=cache, progress=lambda text: say(f"running {text}", err=True)))
    if comm.rank == 0:
        from . import report

        report.print_table(results)
        args = sys.argv[sys.argv.index("validate") + 1 :] if "validate" in sys.argv else sys.argv[1:]
        command = " ".join(["iontosim validate", *(shlex.quote(a) for a in args)])
        from iontosim.rundir import software_versions

        v = software_versions(comm.size)
        machine = (
            f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, {v['platform']}), "
            f"{comm.size} MPI rank(s); Python {v['python']}, DOLFINx {v['dolfinx']}, PETSc {v['petsc']}, "
            f"iontosim {v['iontosim']}"
        )
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        # staged, then renamed: a report killed while writing never looks complete
        with staged_directory(out, overwrite, REPORT_MARKER) as stage:
            report.write_report(results, stage, command=command, machine=machine, date=date)
        typer.echo(f"report: {out / 'report.md'}")
    if any(c.status == "error" for r in results for c in r.checks):
        raise typer.Exit(1)


def _check_cases_dir(cases_dir: Path | None, say) -> None:
    """A --cases-dir that is not a folder: one line, exit status 2."""
    if cases_dir is not None and not cases_dir.is_dir():
        say(f"error: --cases-dir: {cases_dir} is not a folder of validation cases", err=True)
        raise typer.Exit(2)
