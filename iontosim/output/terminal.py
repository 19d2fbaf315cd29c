"""What a run shows on the terminal: a progress bar while it runs, its summary and safety section
after. Rank 0 only (the callers see to it)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import typer

from iontosim.scenario.units import duration_text

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from iontosim.scenario.schema import Scenario

_clock = time.monotonic  # the wall clock of the time-left estimate (a test sets its own)


class RunProgress:
    """A rich progress bar of simulated time against the protocol's end, with the time steps done,
    the wall time and a rough time left; use as a context manager, call it with (t, t_end [s],
    solver effort) after each step. The first call prints the start line: the size of the problem.

    Time left is extrapolated from the wall time per simulated second since the first step this
    bar saw of the present run (a resumed run starts late; a 1D return electrode's column is a
    second run from t = 0), so it is rough: switching the current on costs many short steps, a
    passive phase few long ones."""

    def __init__(self, scenario: Scenario, console: Console | None = None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [
            TextColumn(f"[bold]{scenario.name}"),
            BarColumn(),
            TextColumn("{task.fields[t]:>6.1f} / {task.fields[end]:.1f} min"),
            TextColumn("{task.fields[steps]:>6d} steps"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[left]}"),
        ]
        self.scenario = scenario
        self.end = scenario.protocol_end()
        self.progress = Progress(*columns, transient=False, console=console)
        self.task: Any = None  # the rich TaskID, once the bar is shown
        self.started = False
        self.since: tuple[float, float] | None = None  # (wall clock [s], simulated t [s]) the estimate starts from

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task("run", total=self.end, t=0.0, end=self.end / 60, steps=0, left="")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, t: float, t_end: float, effort: dict | None = None) -> None:
        effort = effort or {}
        if not self.started:
            self.started = True
            self.progress.console.print(start_line(self.scenario, effort), soft_wrap=True, highlight=False)
        now = _clock()
        if self.since is None or t < self.since[1]:  # the first step of a run
            self.since = (now, t)
        wall, simulated = now - self.since[0], t - self.since[1]
        going = simulated > 0 and wall > 1.0 and t < t_end * (1 - 1e-12)
        left = f"~{duration_text(wall * (t_end - t) / simulated)} left" if going else ""
        self.progress.update(self.task, completed=t, t=t / 60, steps=int(effort.get("time_steps", 0)), left=left)


def start_line(scenario: Scenario, effort: dict) -> str:
    """What is being solved: "lidocaine_epinephrine: 60 min simulated, 2 030 unknowns on 1 rank,
    linear solver petsc"."""
    unknowns = effort.get("unknowns")
    size = f"{unknowns:,} unknowns".replace(",", " ") if unknowns else "unknowns not known"
    ranks = effort.get("ranks", 1)
    solver = f", linear solver {effort['linear_solver']}" if effort.get("linear_solver") else ""
    return (
        f"{scenario.name}: {duration_text(scenario.protocol_end())} simulated, {size} on {ranks} "
        f"rank{'s' if ranks != 1 else ''}{solver}"
    )


#: a reported balance error above this is a warning (the 1D core conserves to ~1e-8)
BALANCE_WARNING = 1e-6


def _number(value: Any, fmt: str = ".3g") -> str:
    """A value for people: NaN shows as NaN, never as a blank or a dropped line."""
    if value is None:
        return "n/a"
    return "NaN" if isinstance(value, float) and math.isnan(value) else format(value, fmt)


def summary_lines(summary: dict, scenario=None) -> list[str]:
    """The summary as labelled lines with units (the keys of summary.json stay for programs).
    `scenario` adds the protocol and says which outputs it does not model."""
    drug = summary.get("drug", "drug")
    what = "acid (H+)" if drug == "H+" else drug
    current = (summary.get("charge_mC_per_cm2") or 0.0) > 0
    rows: list[tuple[str, str]] = []
    per_cm2, total = summary.get("drug_delivered_ug_per_cm2"), summary.get("drug_delivered_ug")
    if per_cm2 is not None:
        text = f"{_number(per_cm2)} µg/cm²"
        if total is not None and per_cm2:
            text += f" ({_number(total)} µg over {total / per_cm2:.3g} cm²)"
        rows.append((f"{what} delivered", text))
    if "drug_cleared_ug_per_cm2" in summary and "permeation" not in summary:
        rows.append(("cleared to the blood", f"{_number(summary['drug_cleared_ug_per_cm2'])} µg/cm²"))
    number = summary.get("mean_drug_transport_number")
    rows.append(
        (
            "transport number",
            f"{_number(number)} (the share of the current {drug} carried)" if current else "n/a (no current)",
        )
    )
    if "penetration_depth_um" in summary:
        threshold = summary.get("penetration_threshold_ug_per_mL")
        rows.append(
            (
                "penetration front",
                f"{_number(summary['penetration_depth_um'], '.0f')} µm (where it falls to {_number(threshold)} µg/mL)",
            )
        )
    if "depth_90pct_tissue_dose_um" in summary:
        rows.append(("90 % of tissue dose", f"above {_number(summary['depth_90pct_tissue_dose_um'], '.0f')} µm"))
    if "effective_depth_um" in summary:
        level = summary.get("effective_concentration_ug_per_mL")
        rows.append(
            ("effective depth", f"{_number(summary['effective_depth_um'], '.0f')} µm (above {_number(level)} µg/mL)")
        )
    for depth, values in summary.get("concentration_at_depth_ug_per_mL", {}).items():
        rows.append(
            (
                f"at {depth.removesuffix('_um')} µm",
                f"peak {_number(values['peak'])} µg/mL, end {_number(values['end'])} µg/mL",
            )
        )
    if current:
        rows.append(("skin voltage", f"{_number(summary.get('peak_voltage_V'), '+.3g')} V peak, donor to deep tissue"))
        rows.append(("skin resistance", f"{_number(summary.get('skin_resistance_kohm_cm2'))} kΩ·cm²"))
    if "permeation" not in summary:
        modelled = scenario is None or drug in getattr(scenario, "systemic", {})
        rows.append(
            (
                "plasma peak",
                f"{_number(summary.get('peak_plasma_concentration_ng_per_mL'))} ng/mL"
                if modelled
                else f"not modelled (no systemic section for {drug})",
            )
        )
    patch = summary.get("patch", {})
    if patch.get("appendage_current_fraction") is not None:
        rows.append(
            (
                "through appendages",
                f"{patch['appendage_current_fraction']:.3g} of the current, "
                f"{_number(patch.get('appendage_drug_fraction'))} of the drug",
            )
        )
    mass, charge = summary.get("mass_balance_relative_error"), summary.get("charge_balance_relative_error")
    rows.append(("balance errors", f"mass {_number(mass, '.1e')}, charge {_number(charge, '.1e')} (relative)"))
    rows.append(("wall time", f"{_number(summary.get('wall_time_s'), '.1f')} s"))
    width = max(len(label) for label, _ in rows)
    head = [f"{summary.get('scenario', '')}: {scenario.protocol_text()}"] if scenario is not None else []
    return head + [f"  {label:<{width}}  {text}" for label, text in rows]


def balance_warnings(summary: dict) -> list[str]:
    """The balance errors a person should see: above BALANCE_WARNING, or not a number."""
    out = []
    for key, what in (("mass_balance_relative_error", "mass"), ("charge_balance_relative_error", "charge")):
        value = summary.get(key)
        if isinstance(value, float) and (math.isnan(value) or value > BALANCE_WARNING):
            out.append(
                f"the {what} balance error is {_number(value, '.1e')}, above {BALANCE_WARNING:.0e}: "
                "the run did not conserve it; try finer cells or a smaller numerics.dt_max"
            )
    return out


def print_summary(summary: dict, scenario=None) -> None:
    for warning in summary.get("warnings", []) + balance_warnings(summary):
        typer.echo(f"warning: {warning}", err=True)
    for line in summary_lines(summary, scenario):
        typer.echo(line)
    if "permeation" in summary:
        print_permeation(summary["permeation"])
    if "safety" in summary:
        print_safety(summary["safety"])
    if "return_electrode" in summary:
        typer.echo("return electrode (its own column, opposite polarity):")
        print_safety(summary["return_electrode"]["safety"], voltage="across its skin column")


def print_safety(safety: dict, voltage: str = "between the electrodes") -> None:
    """The safety checks, one line each; `voltage` says which voltage the voltage line is."""

    def verdict(ok) -> str:
        return "n/a" if ok is None else ("ok" if ok else "OVER")

    typer.echo("safety:")
    typer.echo(
        f"  current density  {safety['peak_current_density_mA_per_cm2']:.3g} mA/cm² peak, "
        f"limit {safety['current_density_limit_mA_per_cm2']:.3g} mA/cm²: {verdict(safety['current_density_ok'])}"
    )
    stated = safety.get("stated_dose_mA_min")
    dose = f"{safety['charge_mA_min']:.4g} mA·min"
    if stated is not None:
        dose += f", stated {stated:.4g}: {'ok' if safety['dose_matches_stated'] else 'DIFFERS'}"
    typer.echo(f"  charge           {dose}")
    typer.echo(
        f"  voltage          {_number(safety['peak_voltage_V'])} V peak {voltage}, device limit "
        f"{safety['device_voltage_limit_V']:.3g} V: {verdict(safety['voltage_ok'])}"
    )
    if "local_current_density_ok" in safety:
        where = ", ".join(f"{x:.3g}" for x in safety["local_current_density_position_mm"])
        covers = " (the window spans the modelled patch: its mean)" if safety.get("local_window_covers_patch") else ""
        typer.echo(
            f"  local density    {safety['local_current_density_mA_per_cm2']:.3g} mA/cm² over "
            f"{safety['local_averaging_length_mm']:g} mm at ({where}) mm{covers}: "
            f"{verdict(safety['local_current_density_ok'])}"
        )
        typer.echo(
            f"  one cell's peak  {safety['peak_cell_current_density_mA_per_cm2']:.3g} mA/cm² "
            "(information: it grows as the mesh is refined)"
        )
    if "skin_pH_ok" in safety:
        low, high = safety["skin_pH_range"]
        typer.echo(
            f"  skin-surface pH  {safety['skin_surface_pH_min']:.2f} to {safety['skin_surface_pH_max']:.2f}, "
            f"safe {low:g} to {high:g}: {'ok' if safety['skin_pH_ok'] else 'OUTSIDE'}"
        )


def print_permeation(permeation: dict) -> None:
    """A Franz cell's figures, as studies report them (output/permeation.py)."""
    typer.echo("permeation (into the receptor):")
    rows = [
        ("cumulative", "cumulative_permeated_ug_per_cm2", "µg/cm²"),
        ("steady flux", "steady_state_flux_ug_per_cm2_per_h", "µg/cm²/h"),
        ("lag time", "lag_time_h", "h"),
        ("in membrane", "retained_in_membrane_ug_per_cm2", "µg/cm² at the end"),
        ("enhancement", "enhancement_ratio", "x passive (cumulative)"),
        ("flux ratio", "flux_enhancement_ratio", "x passive (steady flux)"),
    ]
    for label, key, unit in rows:
        value = permeation.get(key)
        if value is not None:
            typer.echo(f"  {label:<15}  {value:.4g} {unit}")
