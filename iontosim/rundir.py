"""The run directory: written whole or not at all, and never at the expense of anything else.

Everything goes to a hidden staging folder beside `out` first and is renamed into place at the
end, so a failed or interrupted run never leaves a directory that looks complete. The rules:

- a run only ever removes what it created itself: its staging folder, and a finished run at `out`
  that it was told to replace (--overwrite) and found there at its start;
- if something appeared at `out` during the run (a user's folder, another run), the results stay
  in the staging folder, and the run says where (OutputKept);
- a run holds an advisory lock on `out` (a hidden lock file beside it): a second process there is
  refused with one line (OutputExists);
- folders and files follow the umask;
- a staging folder with a checkpoint (an interrupted run) is kept for --resume.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import yaml

MARKER = ("summary.json", "config.resolved.yaml")  # present only in a finished run directory (summary last)
CHECKPOINT = "checkpoint.pkl"  # in a staging folder: the state to resume an interrupted run from


class OutputError(Exception):
    """The output folder cannot be written as asked (the message says why)."""


class OutputExists(OutputError):
    """`out` cannot be written: it exists (and may not be replaced), or another process holds it."""


class OutputKept(OutputError):
    """Something appeared at `out` during the run: the results stay in `stage`."""

    def __init__(self, out: Path, stage: Path):
        super().__init__(out, stage)
        self.out, self.stage = out, stage

    def __str__(self) -> str:
        return (
            f"{self.out} appeared while the run was running and was left alone; the results are in "
            f"{self.stage}: move them where you want them"
        )


def software_versions(comm_size: int) -> dict[str, str]:
    import h5py
    import numpy

    from iontosim import __version__
    from iontosim._fenics import PETSc, dolfinx

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


def is_finished(out: Path, marker: tuple[str, ...] = MARKER) -> bool:
    """Whether `out` is a finished iontosim output (holds every `marker` file)."""
    return all((Path(out) / name).exists() for name in marker)


def check_output(out: Path, overwrite: bool = False, marker: tuple[str, ...] = MARKER) -> None:
    """Raise OutputExists unless `out` is free, or is a finished output (holding every `marker`
    file) and `overwrite` is given."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not (overwrite and out.is_dir() and is_finished(out, marker)):
            hint = (
                " (--overwrite replaces only a finished iontosim output)"
                if overwrite
                else "; choose another --out, or pass --overwrite to replace a finished one"
            )
            raise OutputExists(f"{out} already exists{hint}")


def stages_of(out: Path) -> list[Path]:
    """The staging folders of `out` (hidden siblings), newest last."""
    out = Path(out)
    return sorted(out.parent.glob(f".{out.name}.partial-*"), key=lambda p: p.stat().st_mtime)


def resumable_stage(out: Path) -> Path | None:
    """The newest staging folder of `out` that holds a checkpoint (None when there is none)."""
    stages = [p for p in stages_of(out) if (p / CHECKPOINT).exists()]
    return max(stages, key=lambda p: (p / CHECKPOINT).stat().st_mtime) if stages else None


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give `path` and what it holds the permissions the umask asks for (mkdtemp makes 0700)."""
    mask = umask()
    for folder, _, files in os.walk(path):
        os.chmod(folder, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~mask)


class RunDirectory:
    """A staged output folder `out` (module docstring). Use as a context manager on one process
    (rank 0): `stage` is where to write; `commit()` puts it in place. `reuse` continues an
    interrupted run's staging folder (--resume)."""

    def __init__(
        self,
        out: str | Path,
        overwrite: bool = False,
        marker: tuple[str, ...] = MARKER,
        reuse: Path | None = None,
        on_locked: Callable[[], None] | None = None,
    ):
        self.out, self.overwrite, self.marker, self.reuse = Path(out), overwrite, marker, reuse
        self.on_locked = on_locked  # tidying that needs the lock (a sweep's case: a killed run's leftovers)
        self.stage: Path | None = None
        self.notes: list[str] = []  # what the user should know before the run (an older interrupted run)
        self._lock: IO | None = None
        self._replace: tuple[int, int] | None = None  # (inode, device) of the finished run we may replace
        self.committed = False

    def __enter__(self) -> RunDirectory:
        try:
            return self._enter()
        except OSError as err:  # cannot create it (a file in the way, permissions, a full disk)
            raise OutputError(f"cannot create {self.out}: {err.strerror or err}") from None

    def _enter(self) -> RunDirectory:
        out = self.out
        out.parent.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            if self.on_locked is not None:
                self.on_locked()
            check_output(out, self.overwrite, self.marker)
            if out.exists():
                info = out.stat()
                self._replace = (info.st_ino, info.st_dev)
            if self.reuse is None:
                left = resumable_stage(out)
                if left is not None:
                    self.notes.append(
                        f"an interrupted run of {out} kept a checkpoint in {left}: this run starts "
                        "afresh; to continue that one instead, rerun with --resume (or delete it)"
                    )
                self.stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
                follow_umask(self.stage)
            else:
                self.stage = self.reuse
        except BaseException:
            self._release_lock()
            raise
        return self

    @property
    def lock_path(self) -> Path:
        return self.out.parent / f".{self.out.name}.lock"

    def _acquire_lock(self) -> None:
        """flock the lock file; it is removed on release, so a lock taken on a file that is no longer
        the one at the path (removed by the holder in between) is taken again on the new one."""
        path = self.lock_path
        for _ in range(100):
            handle = open(path, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise OutputExists(f"{self.out} is in use by {holder}; wait for it, or choose another --out") from None
            try:
                same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        else:  # pragma: no cover - a hundred holders in a row
            raise OutputExists(f"{self.out}: could not take its lock")
        handle.seek(0)
        handle.truncate()
        handle.write(f"iontosim process {os.getpid()} on {platform.node()}")
        handle.flush()
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            self.lock_path.unlink(missing_ok=True)  # while still held: see _acquire_lock
            self._lock.close()
            self._lock = None

    def commit(self) -> None:
        """Put the staging folder in place of `out` (OutputKept when `out` is no longer ours to take)."""
        stage, out = self.stage, self.out
        assert stage is not None
        for leftover in stage.glob(CHECKPOINT + "*"):  # the checkpoint and any half-written one
            leftover.unlink()
        follow_umask(stage)
        aside = None
        if out.exists() or out.is_symlink():
            info = out.stat() if out.exists() else None
            ours = info is not None and self._replace == (info.st_ino, info.st_dev) and is_finished(out, self.marker)
            if not ours:
                self.committed = True  # the stage is the result now: keep it
                raise OutputKept(out, stage)
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.replaced-", dir=out.parent))
            out.rename(aside / out.name)
        stage.rename(out)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        self.committed = True

    def __exit__(self, kind, exc, traceback) -> None:
        try:
            if self.committed or self.stage is None:
                return
            # keep what can still be resumed: an interrupted run's checkpoint, or the folder resumed from
            interrupted = kind is not None and not issubclass(kind, Exception)
            keep = self.reuse is not None or (interrupted and (self.stage / CHECKPOINT).exists())
            if not keep:
                shutil.rmtree(self.stage, ignore_errors=True)
        finally:
            self._release_lock()


def write_yaml(path: Path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@contextmanager
def staged_directory(out: str | Path, overwrite: bool = False, marker: tuple[str, ...] = MARKER) -> Iterator[Path]:
    """A RunDirectory on this process alone: yields its staging folder and puts it in place when
    the block ends without an error (a report, an analysis: outputs that one process writes)."""
    with RunDirectory(out, overwrite, marker) as directory:
        assert directory.stage is not None
        yield directory.stage
        directory.commit()
