"""The sweep directory: its manifest, and the state of every case read from the file system.

```
DIR/sweep.json          the manifest: what decides the cases (sweep spec, base scenario) and the cases
DIR/sweep.yaml          the sweep file as given
DIR/cases/<id>/         one run directory per case, as `iontosim run` writes it (+ case.json, run.log)
                        or, for a failed case, error.json (+ case.json)
DIR/summaries.h5, .csv  the gathered table; DIR/sobol_indices.csv; DIR/report/*.png; DIR/slurm/
```

The file system is the only record of progress: a case is done when its run directory holds
summary.json (written last, then the staging folder is renamed into place), failed when it holds
error.json, and pending otherwise (a killed case left only a hidden staging folder). So any number
of processes, MPI groups or array tasks can work on one directory without telling each other,
and rerunning a command resumes. The manifest keeps the cases as first drawn: a resumed sweep
never redraws them (a new SciPy or SALib could draw others), and a changed sweep file against the
directory is refused rather than mixed in.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .design import Case, make_cases
from .spec import Sweep, SweepError

MANIFEST = "sweep.json"
LOCK = ".sweep.lock"  # held while a sweep runs its cases (the file stays: the directory is the sweep's)
FORMAT = 1
DONE, FAILED, PENDING = "done", "failed", "pending"


class SweepDirectory:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.cases_dir = self.root / "cases"
        self._lock: TextIO | None = None  # the lock file while locked

    def case_dir(self, case_id: str) -> Path:
        return self.cases_dir / case_id

    def state(self, case_id: str) -> str:
        folder = self.case_dir(case_id)
        if (folder / "summary.json").exists():
            return DONE
        if (folder / "error.json").exists():
            return FAILED
        return PENDING

    def states(self, cases: list[Case]) -> dict[str, str]:
        return {c.id: self.state(c.id) for c in cases}

    def leftover_stages(self, case_id: str) -> list[Path]:
        """Hidden staging folders of a case: what a killed run of it left behind."""
        return sorted(self.cases_dir.glob(f".{case_id}.partial-*"))

    def open(self, sweep: Sweep, create: bool = True) -> list[Case]:
        """The cases of `sweep` in this directory: drawn and recorded when the directory is new
        (and `create`), read back when it holds this sweep. Raises SweepError (field --out) for
        another sweep."""
        manifest = self.root / MANIFEST
        if manifest.exists():
            return self._check(sweep, json.loads(manifest.read_text()))
        if not create:
            raise SweepError("--out", f"{self.root} holds no sweep yet ({MANIFEST}); run the sweep first")
        if self.root.exists() and any(p.name != LOCK for p in self.root.iterdir()):
            raise SweepError(
                "--out", f"{self.root} exists and is not a sweep directory (no {MANIFEST}); choose another --out"
            )
        cases = make_cases(sweep)
        data = {
            "format": FORMAT,
            "name": sweep.name,
            "sweep_file": str(sweep.file.resolve()),
            "base_scenario_file": str(sweep.base_path),
            "identity": _plain(sweep.identity()),
            "parameters": [
                {"path": p.path, "unit": p.unit, "si_unit": p.si_unit, "column": p.column} for p in sweep.parameters
            ],
            "values_are": "SI (si_unit of each parameter)",
            "cases": [{"id": c.id, "values": c.values} for c in cases],
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.cases_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.root / "sweep.yaml", sweep.file.read_text(encoding="utf-8"))
        # array tasks may start together: each writes whole files, and they write the same cases
        _atomic_write(manifest, json.dumps(data, indent=1))
        return cases

    def _check(self, sweep: Sweep, data: dict[str, Any]) -> list[Case]:
        if data.get("format") != FORMAT:
            raise SweepError("--out", f"{self.root} was written by another version of iontosim's sweeps")
        difference = _first_difference(data["identity"], _plain(sweep.identity()))
        if difference is not None:
            where, there, here = difference
            raise SweepError(
                "--out",
                f"{self.root} holds another sweep ({where or 'the sweep'}: {there} there, "
                f"{here} in {sweep.file.name}); designs are never mixed: choose another --out",
            )
        return [Case(c["id"], {k: float(v) for k, v in c["values"].items()}) for c in data["cases"]]

    def counts(self, cases: list[Case]) -> tuple[int, int]:
        """(done, failed) among `cases`, read from the file system now."""
        now = self.states(cases).values()
        return sum(s == DONE for s in now), sum(s == FAILED for s in now)

    def lock(self, shared: bool = False) -> None:
        """An advisory lock on the sweep directory: exclusive for a sweep that runs its cases, shared
        by the tasks of one Slurm array; OutputExists (one line) when another process holds it."""
        from iontosim.rundir import OutputExists

        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / LOCK, "a+")
        try:
            fcntl.flock(self._lock, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise OutputExists(f"{self.root} is in use by another iontosim sweep; wait for it to finish") from None

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def forget_failure(self, case_id: str) -> None:
        """Remove a failed case's record so that it runs again (--retry-failed)."""
        folder = self.case_dir(case_id)
        if (folder / "error.json").exists() and not (folder / "summary.json").exists():
            shutil.rmtree(folder)


def _plain(data: Any) -> Any:
    """`data` as JSON gives it back (tuples as lists, dates as text): comparable with a manifest."""
    return json.loads(json.dumps(data, default=str))


def _first_difference(there: Any, here: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """(path, value there, value here) of the first difference between two JSON-like trees."""
    if isinstance(there, dict) and isinstance(here, dict):
        for key in list(there) + [k for k in here if k not in there]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in there or key not in here:
                return sub, there.get(key, "nothing"), here.get(key, "nothing")
            found = _first_difference(there[key], here[key], sub)
            if found:
                return found
        return None
    if isinstance(there, list) and isinstance(here, list) and len(there) == len(here):
        for i, (a, b) in enumerate(zip(there, here)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if there == here else (path, there, here)


def _atomic_write(path: Path, text: str) -> None:
    """Write whole or not at all: a kill mid-write leaves the previous file (or none)."""
    handle, part = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
