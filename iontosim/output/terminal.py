"""What a run shows on the terminal: a progress bar while it runs, its summary and safety section
after. Rank 0 only (the callers see to it)."""

from __future__ import annotations

from typing import Any

import typer


class RunProgress:
    """A rich progress bar of simulated time against the protocol's end; use as a context manager,
    call it with (t, t_end) [s]."""

    def __init__(self, scenario):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [
            TextColumn(f"[bold]{scenario.name}"),
            BarColumn(),
            TextColumn("{task.fields[t]:>6.1f} / {task.fields[end]:.1f} min"),
            TimeElapsedColumn(),
        ]
        self.end = scenario.protocol_end()
        self.progress = Progress(*columns, transient=False)
        self.task = None

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task("run", total=self.end, t=0.0, end=self.end / 60)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, t: float, t_end: float) -> None:
        self.progress.update(self.task, completed=t, t=t / 60)


def print_summary(summary: dict) -> None:
    keys = [
        "drug_delivered_ug_per_cm2",
        "drug_delivered_ug",
        "drug_cleared_ug_per_cm2",
        "mean_drug_transport_number",
        "penetration_depth_um",
        "depth_90pct_tissue_dose_um",
        "effective_depth_um",
        "peak_voltage_V",
        "skin_resistance_kohm_cm2",
        "peak_plasma_concentration_ng_per_mL",
        "mass_balance_relative_error",
        "charge_balance_relative_error",
        "wall_time_s",
    ]
    if "permeation" in summary:  # a Franz cell: no blood flow, no plasma
        keys = [k for k in keys if k not in ("drug_cleared_ug_per_cm2", "peak_plasma_concentration_ng_per_mL")]
    patch = summary.get("patch", {})
    for key in ("appendage_current_fraction", "appendage_drug_fraction"):
        if patch.get(key) is not None:
            keys.append(key)
            summary = summary | {key: patch[key]}
    for warning in summary.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    width = max(len(k) for k in keys)
    for k in keys:
        if k in summary:
            v = summary[k]
            typer.echo(f"  {k:<{width}}  {v:.4g}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    for depth, values in summary.get("concentration_at_depth_ug_per_mL", {}).items():
        label = f"at {depth.replace('_um', ' um')}"
        typer.echo(f"  {label:<{width}}  peak {values['peak']:.4g} ug/mL, end {values['end']:.4g} ug/mL")
    if "permeation" in summary:
        print_permeation(summary["permeation"])
    if "safety" in summary:
        print_safety(summary["safety"])
    if "return_electrode" in summary:
        typer.echo("return electrode (its own column, opposite polarity):")
        print_safety(summary["return_electrode"]["safety"])


def print_safety(safety: dict) -> None:
    def verdict(ok) -> str:
        return "n/a" if ok is None else ("ok" if ok else "OVER")

    typer.echo("safety:")
    typer.echo(
        f"  current density  {safety['peak_current_density_mA_per_cm2']:.3g} mA/cm^2 peak, "
        f"limit {safety['current_density_limit_mA_per_cm2']:.3g}: {verdict(safety['current_density_ok'])}"
    )
    stated = safety.get("stated_dose_mA_min")
    dose = f"{safety['charge_mA_min']:.4g} mA.min"
    if stated is not None:
        dose += f", stated {stated:.4g}: {'ok' if safety['dose_matches_stated'] else 'DIFFERS'}"
    typer.echo(f"  charge           {dose}")
    typer.echo(
        f"  voltage          {safety['peak_voltage_V']:.3g} V peak, device limit "
        f"{safety['device_voltage_limit_V']:.3g}: {verdict(safety['voltage_ok'])}"
    )
    if "local_current_density_ok" in safety:
        where = ", ".join(f"{x:.3g}" for x in safety["peak_local_current_density_position_mm"])
        typer.echo(
            f"  local peak       {safety['peak_local_current_density_mA_per_cm2']:.3g} mA/cm^2 at ({where}) mm: "
            f"{verdict(safety['local_current_density_ok'])}"
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
        ("cumulative", "cumulative_permeated_ug_per_cm2", "ug/cm^2"),
        ("steady flux", "steady_state_flux_ug_per_cm2_per_h", "ug/cm^2/h"),
        ("lag time", "lag_time_h", "h"),
        ("in membrane", "retained_in_membrane_ug_per_cm2", "ug/cm^2 at the end"),
        ("enhancement", "enhancement_ratio", "x passive (cumulative)"),
        ("flux ratio", "flux_enhancement_ratio", "x passive (steady flux)"),
    ]
    for label, key, unit in rows:
        value = permeation.get(key)
        if value is not None:
            typer.echo(f"  {label:<15}  {value:.4g} {unit}")
