"""Stopping a run on Ctrl-C or SIGTERM without losing it.

The command line installs handlers (`install`) that only note the signal. The time loop asks
(`requested`, collectively over its ranks, after every step), writes a checkpoint when it keeps
them, and raises Interrupted, so every rank stops at the same step: no rank is left waiting in a
collective call, and no traceback or PETSc crash text is printed. A second signal stops at once.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

_requested: int | None = None


class Interrupted(BaseException):
    """The run was stopped by signal `signum` at time `t` [s]; `kept` whether its state was written
    to a checkpoint, `checkpoint` the folder that holds it (for --resume). A BaseException, so that
    no `except Exception` takes it for a failure of the run."""

    def __init__(self, signum: int, t: float | None = None, kept: bool = False, checkpoint: Path | None = None):
        super().__init__(signum)
        self.signum, self.t, self.kept, self.checkpoint = signum, t, kept, checkpoint

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        when = f" at t = {self.t / 60:.4g} min" if self.t is not None else ""
        if self.kept and self.checkpoint is not None:
            return f"interrupted{when}; checkpoint kept at {self.checkpoint}; rerun the same command with --resume"
        return f"interrupted{when}; nothing was kept (no checkpoint): rerun the command to start again"


def _note(signum: int, frame) -> None:
    global _requested
    if _requested is not None:  # the second signal: stop now
        sys.stderr.write(f"stopped at once ({signal.Signals(signum).name}); the last checkpoint, if any, is kept\n")
        sys.stderr.flush()
        os._exit(128 + signum)
    _requested = signum


def install() -> None:
    """Note SIGINT and SIGTERM instead of dying (PETSc's own handler would print a crash report)."""
    try:
        from iontosim._fenics import PETSc

        PETSc.Sys.popSignalHandler()
    except Exception:  # noqa: BLE001 - an older petsc4py without it: Python's handlers below still win
        pass
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _note)


def requested() -> int | None:
    """The signal that asked this process to stop, if any."""
    return _requested


def reset() -> None:
    global _requested
    _requested = None
