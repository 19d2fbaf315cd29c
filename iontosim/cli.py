"""Command line: argument parsing, messages and exit codes only (the work is iontosim.api's).

Exit status: 0 success, 2 bad input (config, arguments, the output folder), 1 the solver or the
device gave up, 128 + the signal's number when stopped (130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import errno
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.25 vendors click; before, it used click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore[assignment]


def _launcher_rank() -> int:
    """This process's rank as the MPI launcher numbered it (0 without one), read before MPI is
    started: the usage errors are told before any command imports mpi4py."""
    import os

    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


class _OneLineErrors(TyperGroup):
    """The commands, with a wrong option or value told in one line (as every other bad input is),
    not click's usage box: "error: Invalid value for '--checkpoint-every': 'soon' is not a valid
    float (iontosim run --help)". Exit 2, as click's."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            status = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as err:  # `iontosim` alone: the help, as before
            err.show()
            sys.exit(err.exit_code)
        except UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else "iontosim"
            if _launcher_rank() == 0:  # once under mpirun, as every other message
                typer.echo(f"error: {err.format_message().rstrip('.')} (see {where} --help)", err=True)
            sys.exit(err.exit_code)
        except ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: paragraphs rewrapped, no <bool> beside every flag, no rich import
    help="iontosim: drug transport through layered skin under iontophoresis.",
)

DEFAULT_SCENARIO = "lidocaine_epinephrine"

# matplotlib falls back to a temporary folder when the cache folder is unwritable, with a warning
# of its own at import; the JIT cache check (api.run) names the cause and the fix in one line
logging.getLogger("matplotlib").setLevel(logging.ERROR)


def _comm():
    from iontosim._fenics import MPI

    return MPI.COMM_WORLD


def _say(comm, text: str, err: bool = False) -> None:
    if comm.rank == 0:
        typer.echo(text, err=err)


@contextmanager
def exit_codes(comm, where: str) -> Iterator[None]:
    """One line and an exit status for every way a command can fail, the same on every rank."""
    from iontosim._fenics import JitCacheError
    from iontosim.api import ResumeError, RunFailed
    from iontosim.interruption import Interrupted
    from iontosim.rundir import OutputError
    from iontosim.scenario.errors import ScenarioError

    try:
        yield
    except ScenarioError as err:
        _fail(comm, f"{where}: {err}", 2)
    except OutputError as err:
        _fail(comm, f"--out: {err}", 2)
    except ResumeError as err:
        _fail(comm, f"--resume: {err}", 2)
    except RunFailed as err:
        _fail(comm, str(err), 1)
    except JitCacheError as err:
        _fail(comm, str(err), 2)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        # a full disk or a read-only file system: one line from the rank that met it, and the
        # whole job stopped (the other ranks may be waiting for it in a collective call)
        typer.echo(
            f"error: cannot write {err.filename or 'the results'}: {err.strerror}; free space or "
            "write --out (and XDG_CACHE_HOME) to another disk",
            err=True,
        )
        if comm.size > 1:
            sys.stderr.flush()
            comm.Abort(1)
        raise typer.Exit(1) from None
    except Interrupted as stop:
        _say(comm, stop.message(), err=True)
        raise typer.Exit(stop.exit_status) from None
    except typer.Exit:
        raise
    except Exception:
        if comm.size == 1:
            raise
        # An error on one rank only would leave the others waiting in a collective call forever
        # (a hung batch job): report it and take the whole job down.
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)


def _fail(comm, text: str, status: int) -> None:
    _say(comm, f"error: {text}", err=True)
    raise typer.Exit(status)


def _version(value: bool) -> None:
    if value:
        from iontosim import __version__

        typer.echo(f"iontosim {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """iontosim: drug transport through layered skin under iontophoresis."""


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="A shipped scenario's name (iontosim scenarios) or a scenario YAML file")
    ] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory to create (default: runs/<scenario>-<time>)")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out if it holds a finished iontosim run")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar")] = True,
    checkpoint_every: Annotated[
        float, typer.Option(help="Minutes of wall time between restart checkpoints (0: every step)")
    ] = 10.0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the interrupted run of --out from its last checkpoint")
    ] = False,
    max_cells: Annotated[int, typer.Option(min=1, help="Refuse 2D/3D meshes with more cells than this")] = 2_000_000,
) -> None:
    """Solve one scenario and write its run directory (config, results.h5, summary.json, plots).

    A scenario with a 2D/3D geometry section is solved on its mesh, and the run directory also
    holds the fields at outputs.profile_times (fields.bp for ParaView) and their pictures.
    Ctrl-C or SIGTERM stops it after the current step and keeps a checkpoint for --resume."""
    from iontosim import api, interruption

    comm = _comm()
    if not checkpoint_every >= 0:  # also NaN
        _fail(comm, f"--checkpoint-every: give minutes >= 0 (0: every step), not {checkpoint_every}", 2)
    interruption.install()
    with exit_codes(comm, scenario):
        loaded = api.load(scenario)
        if out is None:
            if resume:
                raise api.ResumeError("give the --out of the interrupted run")
            out = Path("runs") / f"{loaded.name}-{datetime.now():%Y%m%d-%H%M%S}"
        checkpoints = 60.0 * checkpoint_every if math.isfinite(checkpoint_every) else math.inf
        result = api.run(
            loaded,
            out=out,
            comm=comm,
            overwrite=overwrite,
            resume=resume,
            progress=progress,
            checkpoint_every=checkpoints,
            max_cells=max_cells,
            notes=lambda text: typer.echo(f"note: {text}", err=True),
        )
        if comm.rank == 0:
            from iontosim.output.terminal import print_summary

            print_summary(result.summary, result.scenario)
        _say(comm, f"run directory: {out}")


@app.command()
def scenarios() -> None:
    """List the shipped scenarios: `iontosim run NAME` solves one."""
    from iontosim.scenario import catalogue

    names = catalogue.names()
    width = max(len(n) for n in names)
    for name in names:
        typer.echo(f"{name:<{width}}  {catalogue.describe(name)}")
    typer.echo(f"files: {catalogue.SCENARIOS_DIR}")


@app.command()
def mesh(
    config: Annotated[str, typer.Argument(help="A shipped scenario's name or a scenario YAML with a geometry section")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to create for mesh.xdmf, mesh.h5 and mesh.png")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out if it holds a finished mesh")] = False,
    max_cells: Annotated[int, typer.Option(min=1, help="Refuse meshes with more cells than this")] = 2_000_000,
) -> None:
    """Build the 2D/3D skin mesh of a scenario and write it (XDMF) with a picture of its tags."""
    from iontosim import api
    from iontosim.mesh.of_scenario import write_scenario_mesh
    from iontosim.scenario.errors import ScenarioError

    comm = _comm()
    with exit_codes(comm, config):
        scenario = api.load(config)
        if scenario.geometry is None:
            raise ScenarioError(
                "geometry", "is needed to build a mesh (kind, width, anode_width, return_gap, return_width, resolution)"
            )
        text = write_scenario_mesh(scenario, out, comm, overwrite=overwrite, max_cells=max_cells)
        _say(comm, text)
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


from iontosim.analysis.command import sensitivity  # noqa: E402
from iontosim.sweep.command import sweep  # noqa: E402
from iontosim.validation.command import validate  # noqa: E402 (light: heavy imports inside)

app.command()(validate)
app.command("sensitivity")(sensitivity)
app.command("sweep")(sweep)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # before the run installed its own handling
        sys.exit(130)


if __name__ == "__main__":
    main()
