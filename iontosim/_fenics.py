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

__all__ = ["MPI", "PETSc", "dolfinx", "ufl"]
