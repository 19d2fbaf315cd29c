"""iontosim: finite-element simulation of drug transport through layered skin under iontophoresis.

From Python::

    import iontosim
    iontosim.scenarios()                          # the shipped scenarios
    result = iontosim.run("lidocaine_epinephrine")
    result.summary["drug_delivered_ug_per_cm2"]

`run`, `load` and `scenarios` are iontosim.api's; a run returns an iontosim.result.Result;
`ureg` is the project's pint unit registry (`iontosim.ureg.Quantity(5, "cm^2")`). They are
imported on first use, so that `import iontosim` (and the command line's --help) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Result", "__version__", "load", "run", "scenarios", "ureg"]

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.api import load, run, scenarios
    from iontosim.result import Result
    from iontosim.scenario.units import ureg


def __getattr__(name: str) -> Any:
    if name in ("load", "run", "scenarios"):
        from iontosim import api

        return getattr(api, name)
    if name == "Result":
        from iontosim.result import Result

        return Result
    if name == "ureg":
        from iontosim.scenario.units import ureg

        return ureg
    raise AttributeError(f"module 'iontosim' has no attribute {name!r}")
