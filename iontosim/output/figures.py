"""The house style of every figure: matplotlib Figures on the Agg canvas (never pyplot state, so
they work in batch jobs and notebooks alike), constrained layout (nothing clipped), units typeset
(µm, µg/cm², mA/cm²), a heading that names the scenario and its protocol, PNG at 120 dpi."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

DPI = 120
LEGEND_FONT = 8
GRID_ALPHA = 0.3


def new_figure(
    nrows: int,
    ncols: int,
    figsize: tuple[float, float],
    sharex: bool = False,
    width_ratios: list[float] | None = None,
) -> tuple[Figure, Any]:
    """A Figure and its grid of axes (always 2D: axes[row][column])."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(nrows, ncols, sharex=sharex, squeeze=False, width_ratios=width_ratios)
    return fig, grid


def axes_or_new(
    axes: Any,
    count: int,
    figsize: tuple[float, float],
    columns: int = 1,
    sharex: bool = False,
    width_ratios: list[float] | None = None,
) -> tuple[Figure, list]:
    """The `count` axes to draw on: the caller's (one Axes or a sequence), or a new figure's (filled
    row by row)."""
    if axes is None:
        rows = (count + columns - 1) // columns
        fig, grid = new_figure(rows, columns, figsize, sharex=sharex, width_ratios=width_ratios)
        return fig, [ax for row in grid for ax in row][:count]
    given = [axes] if hasattr(axes, "plot") else list(np.ravel(axes))
    if len(given) != count:
        raise ValueError(f"this picture draws on {count} axes, got {len(given)}")
    return given[0].figure, given


def heading(fig: Figure, scenario: str, what: str, protocol: str = "") -> None:
    """The figure's title: the scenario and what the picture shows, the protocol below it."""
    text = f"{scenario}: {what}"
    if protocol:
        text += f"\n{protocol}"
    fig.suptitle(text, fontsize=11)


def limit_lines(ax, limit: float, values: np.ndarray, label: str) -> None:
    """A safety limit as dashed red lines at +limit, -limit or both: on each side where `values`
    reach a tenth of their largest magnitude (a cathodal run is all negative; a small after-current
    potential is not a side)."""
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    largest = float(np.max(np.abs(finite), initial=0.0))
    sides = [sign for sign in (1, -1) if np.any(sign * finite > 0.1 * largest)] or [1]
    for k, sign in enumerate(sides):
        both = "±" if len(sides) == 2 else ""
        ax.axhline(sign * limit, color="tab:red", ls="--", lw=1, label=f"{both}{label}" if k == 0 else None)


def plain_number_ticks(axis, ticks: list[float], minor: Sequence[float] = ()) -> None:
    """Ticks at `ticks` labelled as plain numbers (5, 100, 1000, not 10^2): a symlog depth axis
    otherwise labels decades inside its linear part."""
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    axis.set_minor_locator(FixedLocator(list(minor)))


_TYPESET = (
    ("ug", "µg"),
    ("um", "µm"),
    ("kohm", "kΩ"),
    ("ohm", "Ω"),
    ("^-1", "⁻¹"),
    ("^2", "²"),
    ("^3", "³"),
    (".min", "·min"),
)


def typeset(unit: str) -> str:
    """A unit as a person reads it: 'ug/cm^2' -> 'µg/cm²', 'mA.min' -> 'mA·min'."""
    for plain, typed in _TYPESET:
        unit = unit.replace(plain, typed)
    return unit


def axis_label(name: str, unit: str) -> str:
    """'drug delivered', 'ug/cm^2' -> 'drug delivered [µg/cm²]'; a dimensionless quantity (unit ''
    or '1') is labelled by its name alone."""
    return name if unit in ("", "1") else f"{name} [{typeset(unit)}]"


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path
