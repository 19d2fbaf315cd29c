"""The validation report: a table on the terminal (rich), report.md, report.json and one PNG per case.

Call these on one rank only (the command uses rank 0). Every number carries its unit in the
table header or beside it; the pictures show the simulated curves with the published values
(points with their error bars where published, dashed lines for bounds and orderings).
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

from .suite import CaseResult, CheckResult

COLUMNS = ("case", "role", "check", "published", "simulated", "rel. error", "tolerance", "result")


def _num(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.4g}" + (f" {unit}" if unit else "")


def rows(results: list[CaseResult]) -> list[tuple[str, ...]]:
    """One row per check: the columns of COLUMNS, as text."""
    out: list[tuple[str, ...]] = []
    for case in results:
        for c in case.checks:
            v = c.verdict
            out.append(
                (
                    case.name,
                    case.role,
                    c.id,
                    v.published if v else "-",
                    _num(c.simulated, c.unit) if c.status != "error" else f"error: {c.error}",
                    f"{v.relative_error * 100:+.3g} %" if v and v.relative_error is not None else "-",
                    v.tolerance if v else "-",
                    c.status.upper() if c.status in ("pass", "fail") else c.status,
                )
            )
    return out


def print_table(results: list[CaseResult], console=None) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    # a pipe or a log file gets the whole table, not 80 folded columns
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title="iontosim validation against published data", show_lines=False)
    for name in COLUMNS:
        table.add_column(name, overflow="fold")
    style = {"PASS": "green", "FAIL": "bold red", "error": "bold red"}
    for row in rows(results):
        table.add_row(*row[:-1], f"[{style.get(row[-1], 'yellow')}]{row[-1]}[/]")
    console.print(table)
    failed = [(case, c) for case in results for c in case.checks if c.status in ("fail", "error")]
    for case, c in failed:
        why = c.error or c.miss_explanation or "no explanation recorded in the case file"
        console.print(f"[bold]{case.name}.{c.id}[/] misses: {why}")


def markdown_table(results: list[CaseResult]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines)


def write_report(results: list[CaseResult], out: Path, command: str = "", machine: str = "", date: str = "") -> Path:
    """Write report.md, report.json and <case>.png into `out` (created); return the markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for case in results:
        plot_case(case, out / f"{case.name}.png")
    (out / "report.json").write_text(
        json.dumps(_as_json(results, command, machine, date), indent=2, allow_nan=False) + "\n"
    )
    path = out / "report.md"
    path.write_text(_markdown(results, command, machine, date))
    return path


def _clean(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _as_json(results: list[CaseResult], command: str, machine: str, date: str) -> dict:
    cases = []
    for case in results:
        checks = []
        for c in case.checks:
            v = c.verdict
            checks.append(
                {
                    "id": c.id,
                    "what": c.what,
                    "quantity": c.quantity,
                    "unit": c.unit,
                    "status": c.status,
                    "simulated": c.simulated,
                    "published": v.published if v else None,
                    "published_value": v.published_value if v else None,
                    "published_range": list(v.error_bar) if v and v.error_bar else None,
                    "published_source": c.published_source,
                    "published_tag": c.published_tag,
                    "published_quote": c.published_quote,
                    "published_note": c.published_note,
                    "relative_error": v.relative_error if v else None,
                    "criterion": v.tolerance if v else None,
                    "tolerance_basis": c.basis,
                    "miss_explanation": c.miss_explanation if c.status == "fail" else None,
                    "error": c.error,
                }
            )
        cases.append(
            {
                "name": case.name,
                "title": case.title,
                "role": case.role,
                "calibrates": case.calibrates,
                "status": case.status,
                "citation": case.citation,
                "sources": case.sources,
                "conditions": case.conditions,
                "limitations": case.limitations,
                "scenario_files": case.scenario_files,
                "runs": case.runs,
                "wall_time_s": case.wall_time_s,
                "figure": f"{case.name}.png",
                "checks": checks,
            }
        )
    summary = {
        s: sum(1 for case in results for c in case.checks if c.status == s) for s in ("pass", "fail", "n/a", "error")
    }
    return _clean({"command": command, "machine": machine, "date": date, "summary": summary, "cases": cases})


def _markdown(results: list[CaseResult], command: str, machine: str, date: str) -> str:
    n = {s: sum(1 for case in results for c in case.checks if c.status == s) for s in ("pass", "fail", "n/a", "error")}
    out = ["# iontosim validation against published data", ""]
    if command:
        out += [f"Command: `{command}`  ", f"Machine: {machine}  ", f"Date: {date}", ""]
    out += [
        f"Checks: {n['pass']} pass, {n['fail']} fail, {n['n/a']} shown but not judged (nothing published, "
        f"or a number not fit to be a target), {n['error']} errors. Role: *calibration* data fixed a "
        "parameter of the model (agreement is expected and shows the calibration holds); *prediction* "
        "data was not used to set anything.",
        "",
        markdown_table(results),
        "",
    ]
    for case in results:
        out += [
            f"## {case.name}: {case.title}",
            "",
            f"- role: **{case.role}**" + (f" (fixes: {', '.join(case.calibrates)})" if case.calibrates else ""),
            f"- source: {case.citation} (keys: {', '.join(case.sources)})",
            f"- conditions: {case.conditions}",
            "- scenarios: " + ", ".join(f"`{n}`: `{f}`" for n, f in case.scenario_files.items()),
            f"- {case.runs} run(s) read (a run shared with an earlier case is not solved again), "
            f"{case.wall_time_s:.1f} s",
            "",
        ]
        for c in case.checks:
            v = c.verdict
            out.append(
                f"**{c.id}** ({c.status.upper()}): {c.what}. Published: {v.published if v else '-'} "
                f"[{c.published_source}, {c.published_tag}]"
                + (f', "{c.published_quote}"' if c.published_quote else "")
                + (f" ({c.published_note.strip()})" if c.published_note else "")
                + f"; simulated: {_num(c.simulated, c.unit)}; criterion: {v.tolerance if v else '-'}"
                + (f" (basis: {c.basis})" if c.basis else "")
                + "."
            )
            if c.status == "fail":
                out += ["", f"> *Not matched.* {c.miss_explanation or 'No explanation recorded.'}"]
            if c.status == "error":
                out += ["", f"> *Could not be evaluated:* {c.error}"]
            out.append("")
        if case.limitations:
            out += [f"Limitations: {case.limitations}", ""]
        out += [f"![{case.name}]({case.name}.png)", ""]
    return "\n".join(out)


def plot_case(case: CaseResult, path: Path) -> Path:
    """One figure per case, one panel per check: the simulated curve(s) and the published value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(case.checks)
    cols = min(n, 3)
    rows_ = (n + cols - 1) // cols
    width = max(5.2 * cols, 7.0)
    fig, axes = plt.subplots(rows_, cols, figsize=(width, 3.9 * rows_ + 0.3), squeeze=False)
    for ax, check in zip(axes.ravel(), case.checks):
        _panel(ax, check)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    # about 13 characters of 10-pt text per inch of figure
    fig.suptitle(textwrap.fill(f"{case.name} ({case.role}): {case.title}", int(13 * width)), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax, c: CheckResult) -> None:
    for s in c.series:
        ax.plot(s.x, s.y, marker="o" if len(s.x) < 12 else None, ms=3, label=s.label)
    v = c.verdict
    if v is not None and v.published_value is not None and c.published_on_x:
        ax.axvline(v.published_value / c.x_scale, color="k", ls="--", lw=1, label=f"published ({v.tolerance})")
        span = v.error_bar or v.band
        if span is not None:
            ax.axvspan(
                span[0] / c.x_scale,
                span[1] / c.x_scale,
                color="k",
                alpha=0.1,
                label="accepted" if span is v.band else "published range",
            )
        if c.simulated is not None and math.isfinite(c.simulated):
            ax.axvline(c.simulated / c.x_scale, color="C3", ls=":", lw=1.2, label="simulated")
        if not c.log_y:
            ax.axhline(0.0, color="0.5", lw=0.8)
    elif v is not None and v.published_value is not None and c.published_on_y:
        if v.bound or c.marker_x is None:
            ax.axhline(v.published_value, color="k", ls="--", lw=1, label=f"published ({v.tolerance})")
            if v.error_bar is not None:
                ax.axhspan(*v.error_bar, color="k", alpha=0.1, label="published range")
        elif v.error_bar is not None:
            lo, hi = v.error_bar
            ax.errorbar(
                [c.marker_x],
                [v.published_value],
                yerr=[[v.published_value - lo], [hi - v.published_value]],
                fmt="s",
                color="k",
                capsize=4,
                label="published",
            )
        else:
            ax.plot([c.marker_x], [v.published_value], "s", color="k", label="published")
        if v.band is not None and not v.bound:
            ax.axhspan(*v.band, color="g", alpha=0.08, label="accepted")
    if c.published_on_x and (v is None or v.published_value is None) and c.simulated is not None:
        ax.axvline(c.simulated / c.x_scale, color="C3", ls=":", lw=1.2, label="simulated")
    if c.log_y and all(y > 0 for s in c.series for y in s.y):
        ax.set_yscale("log")
    ax.set_xlabel(c.x_label)
    ax.set_ylabel(c.y_label)
    verdict = c.status.upper()
    sim = _num(c.simulated, c.unit)
    ax.set_title(f"{c.id}: {verdict}\nsimulated {sim}; published {v.published if v else '-'}", fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
