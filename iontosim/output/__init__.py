"""Output layer: HDF5 results, scalar summaries and figures of a run."""

from .metrics import summarize, write_summary
from .plots import draw_delivery, draw_profiles, draw_skin_ph, draw_voltage, plot_all
from .record import LayerSpan, Profile, RunRecord
from .results import read_results, write_results

__all__ = [
    "LayerSpan",
    "Profile",
    "RunRecord",
    "draw_delivery",
    "draw_profiles",
    "draw_skin_ph",
    "draw_voltage",
    "plot_all",
    "read_results",
    "summarize",
    "write_results",
    "write_summary",
]
