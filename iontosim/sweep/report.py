"""Pictures of a sweep (DIR/report/): every output against every parameter, and the Sobol indices.

- `<output>.png`: one panel per parameter, the output of each finished case against the
  parameter's value (axes with units; a loguniform parameter on a log axis); on a grid, the cases
  that share the other parameters' values are joined by a line, coloured by those values;
- `sobol_indices.png` (Sobol designs): S1 and ST of every parameter for every output, with the
  confidence intervals of the bootstrap.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from iontosim.output.figures import GRID_ALPHA, LEGEND_FONT, axis_label, new_figure, save, typeset

from .gather import Table
from .spec import _SUFFIX_UNITS, Sweep

REPORT = "report"
_MAX_NAMED_LINES = 8  # more lines in one panel are drawn without a legend


def quantity_label(key: str, unit: str) -> str:
    """'drug_delivered_ug_per_cm2', 'ug/cm^2' -> 'drug delivered [µg/cm²]'; dimensionless: the name."""
    name = key.rsplit(".", 1)[-1]
    for suffix, _ in _SUFFIX_UNITS:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return axis_label(name.replace("_", " "), unit)


def parameter_label(path: str, unit: str) -> str:
    """'skin[stratum_corneum].fixed_charge.isoelectric_point', '' -> 'stratum corneum: isoelectric point';
    'protocol[0].current', 'mA' -> 'protocol step 1: current [mA]'."""
    where = re.findall(r"\[([^\]]+)\]", path)
    last = path.rsplit(".", 1)[-1].replace("_", " ")
    if where and not where[-1].isdigit():
        place = f"{where[-1].replace('_', ' ')}: "
    elif where:
        place = f"{path.split('[', 1)[0]} step {int(where[-1]) + 1}: "
    else:  # 'donor.pH' -> 'donor: pH'
        place = "".join(f"{part.replace('_', ' ')}: " for part in path.split(".")[:-1])
    return axis_label(f"{place}{last}", unit)


def write_report(sweep: Sweep, table: Table, root: Path) -> list[Path]:
    out = Path(root) / REPORT
    out.mkdir(parents=True, exist_ok=True)
    written = [plot_output(sweep, table, o.key, out / f"{_file_name(o.key)}.png") for o in sweep.outputs]
    if table.sobol:
        written.append(plot_sobol(sweep, table, out / "sobol_indices.png"))
    return written


def _file_name(key: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", key)


def _lines(table: Table, sweep: Sweep, varied: str, rows: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The cases of `rows` grouped by the values of the parameters other than `varied` (a label and
    the row indices of each group, sorted along `varied`). Groups of one case are not lines."""
    others = [p for p in sweep.parameters if p.path != varied]
    groups: dict[tuple, list[int]] = {}
    for i in rows:
        groups.setdefault(tuple(float(table.parameters[p.path][i]) for p in others), []).append(int(i))
    x = table.parameters[varied]
    lines = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        label = ", ".join(
            f"{parameter_label(p.path, '').split(': ')[-1]} {v:.3g} {typeset(p.unit)}".rstrip()
            for p, v in zip(others, key)
        )
        lines.append((label, np.array(sorted(members, key=lambda i: x[i]))))
    return lines


def plot_output(sweep: Sweep, table: Table, key: str, path: Path) -> Path:
    import matplotlib

    n = len(sweep.parameters)
    fig, axes = new_figure(1, n, (4.4 * n, 3.9))
    y = table.outputs[key]
    done = np.array([s == "done" for s in table.status]) & np.isfinite(y)
    failed = np.array([s == "failed" for s in table.status])
    cmap = matplotlib.colormaps["viridis"]
    for ax, p in zip(axes[0], sweep.parameters):
        x = table.parameters[p.path]
        # only a grid's cases line up; a random or Sobol design's shared values are not lines
        lines = _lines(table, sweep, p.path, np.flatnonzero(done)) if sweep.spec.design.kind == "grid" else []
        named = len(lines) <= _MAX_NAMED_LINES
        for k, (label, members) in enumerate(lines):
            colour = cmap(k / max(len(lines) - 1, 1))
            ax.plot(x[members], y[members], "-o", ms=4, lw=1.2, color=colour, label=(label or None) if named else None)
        alone = done.copy()  # finished cases on no line (a grid's neighbours failed, or no grid)
        for _, members in lines:
            alone[members] = False
        if alone.any():
            ax.plot(x[alone], y[alone], "o", ms=4, alpha=0.7, color="tab:blue", label="finished case")
        if failed.any():
            # failed cases have no output: marked along the bottom at their parameter value
            ax.plot(
                x[failed],
                np.full(failed.sum(), np.nanmin(y) if done.any() else 0.0),
                "x",
                color="tab:red",
                label="failed case",
            )
        if p.distribution == "loguniform":
            ax.set_xscale("log")
        ax.set_xlabel(parameter_label(p.path, p.unit))
        ax.set_ylabel(quantity_label(key, table.units[key]))
        ax.grid(alpha=GRID_ALPHA)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=LEGEND_FONT)
    fig.suptitle(f"{sweep.name}: {done.sum()} of {len(y)} cases", fontsize=10)
    return save(fig, path)


def plot_sobol(sweep: Sweep, table: Table, path: Path) -> Path:
    n = len(table.sobol)
    d = len(sweep.parameters)
    fig, axes = new_figure(1, n, (4.8 * n, 1.6 + 0.7 * d))
    labels = [parameter_label(p.path, p.unit).rsplit(" [", 1)[0] for p in sweep.parameters]
    rows = np.arange(d)
    for ax, s in zip(axes[0], table.sobol):
        ax.barh(rows - 0.2, s.S1, height=0.38, xerr=s.S1_conf, capsize=3, color="tab:blue", label="S1: alone")
        ax.barh(
            rows + 0.2, s.ST, height=0.38, xerr=s.ST_conf, capsize=3, color="tab:orange", label="ST: with interactions"
        )
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_yticks(rows, labels)
        ax.invert_yaxis()
        ax.set_xlabel("share of the variance")
        title = quantity_label(s.output, table.units[s.output]).rsplit(" [", 1)[0]
        used = (
            "" if s.base_samples_used == s.base_samples else f"\n{s.base_samples_used} of {s.base_samples} base samples"
        )
        ax.set_title(f"{title}{used}", fontsize=10)
        low = min(-0.05, math.floor(10 * np.nanmin(np.r_[s.S1 - s.S1_conf, s.ST - s.ST_conf])) / 10)
        ax.set_xlim(low, max(1.05, 1.02 * np.nanmax(np.r_[s.S1 + s.S1_conf, s.ST + s.ST_conf])))
        ax.grid(axis="x", alpha=0.3)
    level = f"{100 * table.sobol[0].conf_level:g}%"
    fig.suptitle(f"{sweep.name}: Sobol indices ({level} confidence intervals)", fontsize=10)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=LEGEND_FONT, frameon=False)
    return save(fig, path)
