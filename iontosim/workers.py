"""Process pools of the project (sweeps, sensitivity analyses): how a worker starts, and how a pool
is stopped at once. Kept free of heavy imports: a 'spawn' worker imports this module first, and
the thread limits must be set before numpy, PETSc or MPI load."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor

#: thread pools of the numerical libraries: one thread per worker (the workers are the parallelism)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies (Linux)


def worker_start() -> None:
    """Initializer of a pool's worker process: one thread per numerical library (unless the user
    set it), death with the parent whatever signal ends it (Linux; elsewhere the parent's
    Ctrl-C handling stops the pool), and the parent alone hears Ctrl-C."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and kill the workers now (their running cases are lost)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way to kill them before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()


def available_cores() -> int:
    """The cores this process may use (a batch allocation's, not the whole node's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
