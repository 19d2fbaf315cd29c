"""Every case's summary in one table: DIR/summaries.h5 (a units attribute on every column) and
DIR/summaries.csv (units in the column names), one row per case in the design's order.

Columns: case, status (done | failed | pending), each varied parameter in the unit the sweep file
wrote it in ("protocol[0].current [mA]"), each output (a summary.json quantity, "key [unit]"),
the case's wall time, and the error of a failed case. A failed or pending case has NaN outputs.
For a Sobol design the indices of every output go into the HDF5 file (/sobol/<output>/) and
DIR/sobol_indices.csv.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .design import Case
from .directory import DONE, FAILED, SweepDirectory, _atomic_write
from .indices import SobolIndices, sobol_indices
from .spec import Sweep

TABLE_H5, TABLE_CSV, SOBOL_CSV = "summaries.h5", "summaries.csv", "sobol_indices.csv"


@dataclass
class Table:
    cases: list[str]
    status: list[str]
    errors: list[str]
    parameters: dict[str, np.ndarray]  # by parameter path, in the sweep file's unit
    outputs: dict[str, np.ndarray]  # by summary key, in the key's unit
    wall_time_s: np.ndarray
    units: dict[str, str]  # path or key -> unit
    columns: dict[str, str]  # path or key -> column name with its unit
    missing: dict[str, list[str]] = field(default_factory=dict)  # output -> finished cases without it
    sobol: list[SobolIndices] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status)


def _summary_value(summary: dict, key: str) -> float | None:
    node = summary
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if node is None:  # summary.json writes NaN as null
        return math.nan
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def gather(sweep: Sweep, directory: SweepDirectory, cases: list[Case]) -> Table:
    """Read every case's record (nothing is recomputed) and write the table files."""
    n = len(cases)
    status, errors = [], []
    outputs = {o.key: np.full(n, math.nan) for o in sweep.outputs}
    wall = np.full(n, math.nan)
    missing: dict[str, list[str]] = {}
    for i, case in enumerate(cases):
        state = directory.state(case.id)
        status.append(state)
        error = ""
        folder = directory.case_dir(case.id)
        if state == DONE:
            summary = json.loads((folder / "summary.json").read_text())
            for o in sweep.outputs:
                value = _summary_value(summary, o.key)
                if value is None:
                    missing.setdefault(o.key, []).append(case.id)
                else:
                    outputs[o.key][i] = value
            wall[i] = summary.get("wall_time_s") or math.nan
        elif state == FAILED:
            record = json.loads((folder / "error.json").read_text())
            error = record.get("error", "")
            wall[i] = record.get("wall_time_s") or math.nan
        errors.append(error)
    parameters = {p.path: np.array([p.in_unit(c.values[p.path]) for c in cases]) for p in sweep.parameters}
    units = {p.path: p.unit or "1" for p in sweep.parameters} | {o.key: o.unit for o in sweep.outputs}
    columns = {p.path: p.column for p in sweep.parameters} | {o.key: f"{o.key} [{o.unit}]" for o in sweep.outputs}
    table = Table([c.id for c in cases], status, errors, parameters, outputs, wall, units, columns, missing)
    if sweep.spec.design.kind == "sobol":
        table.sobol = [s for o in sweep.outputs if (s := sobol_indices(sweep, o.key, outputs[o.key])) is not None]
    write_csv(table, directory.root / TABLE_CSV)
    write_hdf5(sweep, table, directory.root / TABLE_H5)
    if table.sobol:
        write_sobol_csv(table.sobol, directory.root / SOBOL_CSV)
    return table


def write_csv(table: Table, path: Path) -> None:
    text = io.StringIO()
    out = csv.writer(text)
    out.writerow(
        [
            "case",
            "status",
            *(table.columns[p] for p in table.parameters),
            *(table.columns[k] for k in table.outputs),
            "wall_time [s]",
            "error",
        ]
    )
    for i, case in enumerate(table.cases):
        out.writerow(
            [
                case,
                table.status[i],
                *(repr(float(v[i])) for v in table.parameters.values()),
                *("" if math.isnan(v[i]) else repr(float(v[i])) for v in table.outputs.values()),
                "" if math.isnan(table.wall_time_s[i]) else f"{table.wall_time_s[i]:.3f}",
                table.errors[i],
            ]
        )
    _atomic_write(path, text.getvalue())


def write_hdf5(sweep: Sweep, table: Table, path: Path) -> None:
    import h5py

    handle, part = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        with h5py.File(part, "w") as f:
            f.attrs["sweep"] = sweep.name
            f.attrs["design"] = sweep.spec.design.kind
            f.attrs["seed"] = sweep.spec.design.seed
            f.attrs["cases"] = len(table.cases)
            f.attrs["parameters"] = [p.path for p in sweep.parameters]
            f.attrs["outputs"] = [o.key for o in sweep.outputs]
            f.create_dataset("case", data=np.array(table.cases, dtype=object), dtype=h5py.string_dtype())
            f.create_dataset("status", data=np.array(table.status, dtype=object), dtype=h5py.string_dtype())
            f.create_dataset("error", data=np.array(table.errors, dtype=object), dtype=h5py.string_dtype())
            for p in sweep.parameters:
                d = f.create_dataset(f"parameters/{p.path}", data=table.parameters[p.path])
                d.attrs["units"] = p.unit or "1"
                d.attrs["column"] = p.column
                d.attrs["distribution"] = p.distribution
            for o in sweep.outputs:
                d = f.create_dataset(f"outputs/{o.key}", data=table.outputs[o.key])
                d.attrs["units"] = o.unit
            f.create_dataset("wall_time", data=table.wall_time_s).attrs["units"] = "s"
            for s in table.sobol:
                g = f.create_group(f"sobol/{s.output}")
                g.attrs["parameters"] = s.parameters
                g.attrs["base_samples_used"] = s.base_samples_used
                g.attrs["base_samples"] = s.base_samples
                g.attrs["conf_level"] = s.conf_level
                for name in ("S1", "S1_conf", "ST", "ST_conf", "S2", "S2_conf"):
                    value = getattr(s, name)
                    if value is not None:
                        g.create_dataset(name, data=value).attrs["units"] = "1"
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def write_sobol_csv(indices: list[SobolIndices], path: Path) -> None:
    text = io.StringIO()
    out = csv.writer(text)
    level = f"{100 * indices[0].conf_level:g}%"
    out.writerow(
        [
            "output",
            "parameter",
            "S1 [1]",
            f"S1 {level} half-width [1]",
            "ST [1]",
            f"ST {level} half-width [1]",
            "base samples used",
        ]
    )
    for s in indices:
        for j, name in enumerate(s.parameters):
            out.writerow(
                [
                    s.output,
                    name,
                    f"{s.S1[j]:.6g}",
                    f"{s.S1_conf[j]:.6g}",
                    f"{s.ST[j]:.6g}",
                    f"{s.ST_conf[j]:.6g}",
                    f"{s.base_samples_used} of {s.base_samples}",
                ]
            )
    _atomic_write(path, text.getvalue())


def read_table(path: str | Path) -> dict[str, tuple[np.ndarray, str]]:
    """The HDF5 table as {name: (values, units)}: for notebooks and checks."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for name in ("case", "status", "error"):
            out[name] = (np.array(f[name].asstr()[()]), "")
        for group in ("parameters", "outputs"):
            for key, d in f[group].items():
                out[key] = (d[()], d.attrs["units"])
        out["wall_time"] = (f["wall_time"][()], "s")
    return out
