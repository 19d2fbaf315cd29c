"""Import DOLFINx the way this installation needs.

The PyPI wheel ``dolfinx-solver-real`` must be imported before ``dolfinx`` (it orders MPI ahead of the
compiled bindings). Conda or Spack installs of DOLFINx >= 0.10 have no such package, and need nothing.
"""

try:  # PyPI binary wheel
    import dolfinx_solver  # noqa: F401
except ImportError:  # site install (conda, Spack): plain dolfinx
    pass

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
import ufl  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

__all__ = ["MPI", "JitCacheError", "PETSc", "check_jit_cache", "dolfinx", "ufl"]


class JitCacheError(RuntimeError):
    """DOLFINx cannot write the forms it compiles (its JIT cache): the message says how to fix it."""


def check_jit_cache() -> None:
    """Raise JitCacheError unless DOLFINx's JIT cache folder can be created and written: found
    unwritable, the first form compilation fails with a 230-line traceback instead."""
    import tempfile
    from pathlib import Path

    from dolfinx.jit import get_options

    cache = Path(get_options()["cache_dir"])
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache):
            pass
    except OSError as exc:
        raise JitCacheError(
            f"DOLFINx cannot write its compiled forms to {cache} ({exc.strerror or exc}): "
            "set XDG_CACHE_HOME to a writable folder"
        ) from None
