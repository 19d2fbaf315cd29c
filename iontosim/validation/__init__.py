"""Validation against published data (iontosim/validation/cases/): case files, quantities, comparison, report.

For notebooks and scripts::

    from mpi4py import MPI
    from iontosim.validation import list_cases, run_case
    result = run_case("ionsys_fentanyl_dose", MPI.COMM_SELF)
    for check in result.checks:
        print(check.id, check.simulated, check.unit, check.status)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .case import Case, CaseError, load_case
    from .suite import CASES_DIR, CaseResult, CheckResult, RunCache, list_cases, prepare_case, run_case

#: imported on first use: the command line imports `iontosim.validation.command` for its --help,
#: and the suite pulls in the solver and matplotlib
_FROM = {"Case": "case", "CaseError": "case", "load_case": "case"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'iontosim.validation' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_FROM.get(name, 'suite')}", __name__), name)


__all__ = [
    "CASES_DIR",
    "Case",
    "CaseError",
    "CaseResult",
    "CheckResult",
    "RunCache",
    "list_cases",
    "load_case",
    "prepare_case",
    "run_case",
]
