"""The Python API a notebook calls (iontosim.validation.run_case, list_cases) and its behaviour on
several MPI ranks: every rank solves on the communicator it is given, every rank gets the same
result, and only rank 0 prints."""

from __future__ import annotations

import pytest
from mpi4py import MPI

from iontosim.validation import RunCache, run_case
from tests.conftest import python_on_two_ranks


def test_run_case_api_and_the_shared_run_cache():
    cache = RunCache()
    first = run_case("sodium_transport_number", MPI.COMM_SELF, cache=cache)
    assert first.status == "pass" and first.runs == 1
    (check,) = first.checks
    assert check.unit == "" and 0.46 <= check.simulated <= 0.60
    # skin_resistance reads the same scenario file: solved once, read twice
    second = run_case("skin_resistance", MPI.COMM_SELF, cache=cache)
    assert len(cache._runs) == 1
    assert second.checks[0].status == "pass" and second.checks[1].status == "n/a"


@pytest.mark.mpi
@pytest.mark.slow
def test_two_ranks_give_the_serial_answer_and_print_once():
    code = (
        "from mpi4py import MPI\n"
        "from iontosim.validation import run_case\n"
        "r = run_case('sodium_transport_number', MPI.COMM_WORLD, progress=print)\n"
        "if MPI.COMM_WORLD.rank == 0:\n"
        "    print('t_Na', repr(r.checks[0].simulated))\n"
        "else:\n"
        "    assert r.checks[0].simulated is not None\n"
    )
    lines = python_on_two_ranks(code).strip().splitlines()
    assert len(lines) == 2  # the progress line and the result, from rank 0 only
    parallel = float(lines[-1].split()[1])
    serial = run_case("sodium_transport_number", MPI.COMM_SELF).checks[0].simulated
    assert parallel == pytest.approx(serial, rel=1e-6)
