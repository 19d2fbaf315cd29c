"""The run directory: written whole or not at all.

Everything goes to a hidden sibling folder first and is renamed into place at the end, so a
failed or interrupted run never leaves a directory that looks complete, and an existing folder
the user made is never touched.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import yaml

MARKER = ("summary.json", "config.resolved.yaml")  # present only in a finished run directory (summary last)


class OutputExists(Exception):
    pass


def software_versions(comm_size: int) -> dict[str, str]:
    from iontosim import __version__
    from iontosim._fenics import PETSc, dolfinx

    import h5py
    import numpy

    return {
        "iontosim": __version__,
        "python": sys.version.split()[0],
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(str(v) for v in PETSc.Sys.getVersion()),
        "numpy": numpy.__version__,
        "h5py": h5py.__version__,
        "platform": platform.platform(),
        "mpi_ranks": str(comm_size),
    }


def check_output(out: Path, overwrite: bool = False, marker: tuple[str, ...] = MARKER) -> None:
    """Raise OutputExists unless `out` is free, or is a finished output (holding every `marker`
    file) and `overwrite` is given."""
    out = Path(out)
    if out.exists():
        finished = all((out / name).exists() for name in marker)
        if not (overwrite and finished):
            hint = " (--overwrite replaces only a finished iontosim output)" if overwrite else \
                "; choose another --out, or pass --overwrite to replace a finished one"
            raise OutputExists(f"{out} already exists{hint}")


CHECKPOINT = "checkpoint.pkl"  # in a staging folder: the state to resume an interrupted run from


def resumable_stage(out: Path) -> Path | None:
    """The newest staging folder of `out` that holds a checkpoint (None when there is none)."""
    out = Path(out)
    stages = [p for p in out.parent.glob(f".{out.name}.partial-*") if (p / CHECKPOINT).exists()]
    return max(stages, key=lambda p: (p / CHECKPOINT).stat().st_mtime) if stages else None


@contextmanager
def staged_directory(out: Path, overwrite: bool = False, marker: tuple[str, ...] = MARKER,
                     reuse: Path | None = None):
    """Yield a temporary folder (or `reuse`, an interrupted run's) that becomes `out` when the
    block finishes without error. A failure removes it; an interruption (Ctrl-C) keeps it when
    it holds a checkpoint, so that the run can be resumed."""
    out = Path(out)
    check_output(out, overwrite, marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = reuse or Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield stage
    except BaseException as exc:
        # keep what can still be resumed: an interrupted run's checkpoint, or the folder resumed from
        keep = reuse is not None or (isinstance(exc, KeyboardInterrupt) and (stage / CHECKPOINT).exists())
        if not keep:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    for leftover in stage.glob(CHECKPOINT + "*"):  # the checkpoint and any half-written one
        leftover.unlink()
    if out.exists():
        shutil.rmtree(out)
    stage.rename(out)


def write_yaml(path: Path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
