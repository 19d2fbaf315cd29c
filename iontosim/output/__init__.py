"""Output layer: HDF5 results, scalar summaries and figures of a run."""

from .metrics import summarize, write_summary
from .plots import plot_all, plot_delivery, plot_profiles, plot_voltage
from .record import LayerSpan, Profile, RunRecord
from .results import read_results, write_results

__all__ = [
    "LayerSpan",
    "Profile",
    "RunRecord",
    "plot_all",
    "plot_delivery",
    "plot_profiles",
    "plot_voltage",
    "read_results",
    "summarize",
    "write_results",
    "write_summary",
]
