"""What a sensitivity analysis writes: the table (CSV, markdown, and rich on screen), every run's
outputs (runs.csv) and a bar chart of the elasticities per output.

Elasticities are dimensionless (d ln y / d ln x); the base values of the parameters are shown as
written in the scenario file, with their unit; the outputs carry their unit in every header.
"""

from __future__ import annotations

import csv
import math
import platform
from pathlib import Path
from typing import Any

from .sensitivity import NONLINEAR_ABS, NONLINEAR_REL, PH, Output, Row, SensitivityResult, ph_step

#: the bar charts show at most this many parameters (the largest |elasticity|)
CHART_ROWS = 25


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{digits}g}"


def _elasticity(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.3f}" if abs(value) < 10 else f"{value:+.1f}"


def base_value(row: Row) -> str:
    """The parameter's value as written, with its unit ("18 um", "pH 5.9", "0.001")."""
    p = row.parameter
    if p.scale == PH:
        return f"pKa {p.value:g}" if p.path.endswith("pKa") else f"pH {p.value:g}"
    return f"{p.value:g} {p.unit}".strip()


def _cell(row: Row, out: Output) -> str:
    """One elasticity as the table shows it: the value, * when nonlinear over the step, ^ one-sided."""
    est = row.estimates.get(out.key)
    if est is None:
        return ""
    text = _elasticity(est.elasticity)
    if est.nonlinear:
        text += "*"
    if est.method not in ("central", "none"):
        text += "^"
    return text


def _notes(row: Row, outputs: tuple[Output, ...]) -> str:
    notes = []
    status = row.status
    if status != "ok":
        notes.append(status)
    for out in outputs:
        est = row.estimates.get(out.key)
        if est is None:
            continue
        if est.nonlinear:
            notes.append(
                f"{out.label}: {_elasticity(est.low_side)} (low side) vs {_elasticity(est.high_side)} (high side)"
            )
        if est.note:
            notes.append(f"{out.label}: {est.note}")
    if row.parameter.scale == PH:
        per_ph = [(out.label, row.estimates[out.key].per_pH) for out in outputs if out.key in row.estimates]
        notes.append(
            "per +1 pH unit: "
            + ", ".join(f"{label} {100 * v:+.2f} %" for label, v in per_ph if v is not None and math.isfinite(v))
        )
    return "; ".join(notes)


# ---------------------------------------------------------------- files


def write_csv(result: SensitivityResult, path: Path) -> None:
    """The table, one row per parameter, in table order: every estimate with its one-sided parts."""
    columns = [
        "rank",
        "parameter",
        "base_value",
        "unit",
        "scale",
        "low_value",
        "high_value",
        "source",
        "provenance",
        "status",
        "max_abs_elasticity",
    ]
    for out in result.outputs:
        unit = out.unit.replace("/", "_per_")
        columns += [
            f"{out.name}_elasticity",
            f"{out.name}_elasticity_low_side",
            f"{out.name}_elasticity_high_side",
            f"{out.name}_nonlinear",
            f"{out.name}_method",
            f"{out.name}_per_pH_unit_relative",
            f"{out.name}_{unit}_per_pH_unit",
            f"{out.name}_note",
        ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for rank, row in enumerate(result.rows, start=1):
            p = row.parameter
            line: list[Any] = [
                rank,
                p.path,
                p.value,
                p.unit,
                p.scale,
                row.low.written if row.low else "",
                row.high.written if row.high else "",
                p.source,
                p.origin,
                row.status,
                row.ranking if row.ranking >= 0 else "",
            ]
            for out in result.outputs:
                est = row.estimates.get(out.key)
                if est is None:
                    line += [""] * 8
                    continue
                line += [
                    _csv(est.elasticity),
                    _csv(est.low_side),
                    _csv(est.high_side),
                    int(est.nonlinear),
                    est.method,
                    _csv(est.per_pH),
                    _csv(est.slope_per_pH),
                    est.note,
                ]
            writer.writerow(line)


def _csv(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def write_runs_csv(result: SensitivityResult, path: Path) -> None:
    """Every run: which parameter, which side, the value, the outputs (units in the headers), time, error."""
    keys = [out.key for out in result.outputs]
    extra = ["drug_delivered_ug_per_cm2", "mean_drug_transport_number", "peak_voltage_V", "mass_balance_relative_error"]
    keys += [k for k in extra if k not in keys]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["parameter", "side", "value", *keys, "wall_time_s", "error", "warnings"])
        for run in result.runs:
            values = [_csv(run.output(k)) if run.summary else "" for k in keys]
            writer.writerow(
                [
                    run.parameter or "(base)",
                    run.side,
                    "" if run.written is None else run.written,
                    *values,
                    f"{run.wall_s:.3f}" if math.isfinite(run.wall_s) else "",
                    run.error,
                    " | ".join(run.warnings),
                ]
            )


def machine() -> str:
    """The CPU model, core count and system, for the record of where the figures come from."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{model or 'unknown CPU'}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def markdown(result: SensitivityResult, command: str, heading: str = "#") -> str:
    """The report: how it was made, the base outputs, the table in order, what was left out."""
    outs = result.outputs
    base = result.base
    wall = [r.wall_s for r in result.runs if not r.error and math.isfinite(r.wall_s)]
    lines = [
        f"{heading} Local sensitivity: {result.scenario_name}",
        "",
        f"- command: `{command}`",
        f"- date: {result.started}; machine: {machine()}; {result.workers} worker process(es)",
        f"- {len(result.runs)} runs ({len(result.failed_runs)} failed) in {result.wall_s:.0f} s wall time; "
        + (
            f"one run {min(wall):.1f} to {max(wall):.1f} s, median {sorted(wall)[len(wall) // 2]:.1f} s "
            "(a worker's first run includes its start: imports, compiled forms)"
            if wall
            else ""
        ),
        f"- step: parameters x (1 +- {result.step:g}); pH-like values (pH, isoelectric point, pKa) "
        f"+- {ph_step(result.step):.4f} pH units (the hydrogen-ion activity 10^-pH by the factor "
        f"e^(+-{result.step:g}))",
        "- base run: " + "; ".join(f"{out.label} {_number(base.output(out.key))} {out.unit}" for out in outs),
        "",
    ]
    for warning in base.warnings:
        lines.append(f"- warning (base run): {warning}")
    if base.warnings:
        lines.append("")
    lines += [
        "Elasticity e = d ln(output) / d ln(parameter), central differences over both sides: +1 means the "
        "output grows in proportion to the parameter, 0 that it does not care, -1 that it is inversely "
        "proportional. For pH-like parameters e = d ln(output) / d ln(a_H+) = -(1/ln 10) d ln(output) / d pH; "
        "the relative change per pH unit is in the notes. `*`: nonlinear over the step (the low-side and "
        f"high-side estimates differ by more than {NONLINEAR_ABS:g} and {NONLINEAR_REL:.0%} of e; both are in "
        f"the notes); "
        "`^`: one side only. Rows in order of the largest |e| over the outputs: the effect of the same relative "
        "change of each parameter; the effect of a parameter's uncertainty is about e times its relative "
        "uncertainty (a 5 % change of the absolute temperature is 15 K).",
        "",
    ]
    header = ["#", "parameter", "base value", "source"] + [f"e({out.label})" for out in outs] + ["notes"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---:", "---", "---:", "---"] + ["---:"] * len(outs) + ["---"]) + "|")
    ranked = [r for r in result.rows if r.estimates]
    for rank, row in enumerate(ranked, start=1):
        cells = [str(rank), f"`{row.parameter.path}`", base_value(row), row.parameter.source]
        cells += [_cell(row, out) for out in outs] + [_notes(row, outs).replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    left_out = [r for r in result.rows if not r.estimates]
    if left_out:
        lines += ["", "Not perturbed:", ""]
        lines += [f"- `{r.parameter.path}` ({base_value(r)}): {r.status}" for r in left_out]
    ph_rows = [r for r in ranked if r.parameter.scale == PH]
    if ph_rows:
        lines += [
            "",
            "pH-like parameters, derivative per pH unit (d output / d pH, in the output's unit per pH unit):",
            "",
        ]
        lines.append("| parameter | base value | " + " | ".join(f"{out.label} [{out.unit}/pH]" for out in outs) + " |")
        lines.append("|---|---:|" + "---:|" * len(outs))
        for row in ph_rows:
            cells = [f"`{row.parameter.path}`", base_value(row)]
            cells += [
                _number(row.estimates[out.key].slope_per_pH, 3) if out.key in row.estimates else "" for out in outs
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_charts(result: SensitivityResult, folder: Path) -> list[Path]:
    """One horizontal bar chart per output: the elasticities (largest |e| first), with the low-side
    and high-side estimates as markers; pH-like parameters hatched. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for out in result.outputs:
        rows = [r for r in result.rows if out.key in r.estimates and math.isfinite(r.estimates[out.key].elasticity)]
        rows.sort(key=lambda r: -abs(r.estimates[out.key].elasticity))
        total = len(rows)
        rows = rows[:CHART_ROWS][::-1]  # largest at the top
        fig, ax = plt.subplots(figsize=(11.0, 1.8 + 0.32 * max(len(rows), 1)))
        if rows:
            e = [r.estimates[out.key].elasticity for r in rows]
            y = range(len(rows))
            bars = ax.barh(list(y), e, color=["tab:red" if v > 0 else "tab:blue" for v in e], height=0.7)
            for bar, row in zip(bars, rows):
                if row.parameter.scale == PH:
                    bar.set_hatch("//")
                    bar.set_edgecolor("black")
            for k, row in enumerate(rows):
                est = row.estimates[out.key]
                ax.plot(
                    [est.low_side, est.high_side], [k, k], linestyle="none", marker="|", color="black", markersize=9
                )
            ax.set_yticks(list(y))
            ax.set_yticklabels(
                [r.parameter.path + (" (per ln a_H+)" if r.parameter.scale == PH else "") for r in rows], fontsize=8
            )
            ax.axvline(0.0, color="black", linewidth=0.8)
        else:
            ax.text(0.5, 0.5, "no elasticity could be computed", ha="center", va="center", transform=ax.transAxes)
        base = result.base.output(out.key)
        shown = f"the {len(rows)} largest of {total}" if total > len(rows) else f"all {total}"
        ax.set_xlabel("elasticity  d ln(output) / d ln(parameter)  [dimensionless]")
        fig.suptitle(
            f"{result.scenario_name}: {out.label} of {result.drug}, base {_number(base)} {out.unit}\n"
            f"{shown} parameters, runs at x (1 \u00b1 {result.step:g}); red: grows with the parameter, "
            "blue: falls;\n|: low- and high-side estimates; hatched: pH-like, per ln a_H+ "
            "(a_H+ = 10^-pH)",
            fontsize=9,
        )
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        path = folder / f"elasticity_{out.name}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def write_all(result: SensitivityResult, folder: Path, command: str) -> None:
    """Every file of the output folder; sensitivity.md last (with sensitivity.csv, it marks a finished one)."""
    write_runs_csv(result, folder / "runs.csv")
    plot_charts(result, folder)
    write_csv(result, folder / "sensitivity.csv")
    (folder / "sensitivity.md").write_text(markdown(result, command), encoding="utf-8")


# ---------------------------------------------------------------- screen


def rich_table(result: SensitivityResult):
    """The table for the terminal (rich)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"{result.scenario_name}: elasticity d ln(output) / d ln(parameter), steps +-{result.step:.0%}",
        caption="* nonlinear over the step; ^ one side only; pH-like: per ln a_H+ (notes: per pH unit)",
    )
    table.add_column("#", justify="right")
    table.add_column("parameter", overflow="fold")
    table.add_column("base value", justify="right")
    table.add_column("source", overflow="fold")
    for out in result.outputs:
        base = result.base.output(out.key)
        table.add_column(f"{out.label}\n({_number(base)} {out.unit})", justify="right")
    table.add_column("notes", overflow="fold", max_width=50)
    rank = 0
    for row in result.rows:
        if row.estimates:
            rank += 1
        cells = [
            str(rank) if row.estimates else "-",
            row.parameter.path,
            base_value(row),
            row.parameter.source,
            *[_cell(row, out) for out in result.outputs],
            _notes(row, result.outputs),
        ]
        table.add_row(*[escape(c) for c in cells])  # paths hold [names], which rich would read as markup
    return table
