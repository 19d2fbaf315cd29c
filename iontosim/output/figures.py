"""The house style of every figure: matplotlib Figures on the Agg canvas (never pyplot state, so
they work in batch jobs and notebooks alike), constrained layout, PNG at 120 dpi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120


def new_figure(nrows: int, ncols: int, figsize: tuple[float, float], sharex: bool = False) -> tuple[Figure, Any]:
    """A Figure and its grid of axes (always 2D: axes[row][column])."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, sharex=sharex, squeeze=False)


def axes_or_new(
    axes: Any, count: int, figsize: tuple[float, float], columns: int = 1, sharex: bool = False
) -> tuple[Figure, list]:
    """The `count` axes to draw on: the caller's (one Axes or a sequence), or a new figure's."""
    if axes is None:
        fig, grid = new_figure((count + columns - 1) // columns, columns, figsize, sharex=sharex)
        return fig, [ax for row in grid for ax in row][:count]
    given = [axes] if hasattr(axes, "plot") else list(axes)
    if len(given) != count:
        raise ValueError(f"this picture draws on {count} axes, got {len(given)}")
    return given[0].figure, given


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path
