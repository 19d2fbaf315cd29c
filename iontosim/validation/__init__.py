"""Validation against published data (iontosim/validation/cases/): case files, quantities, comparison, report.

For notebooks and scripts::

    from mpi4py import MPI
    from iontosim.validation import list_cases, run_case
    result = run_case("ionsys_fentanyl_dose", MPI.COMM_SELF)
    for check in result.checks:
        print(check.id, check.simulated, check.unit, check.status)
"""

from .case import Case, CaseError, load_case
from .suite import CASES_DIR, CaseResult, CheckResult, RunCache, list_cases, prepare_case, run_case

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
