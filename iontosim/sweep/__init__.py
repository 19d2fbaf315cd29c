"""Sweeps: many cases of one scenario with some parameters varied, and what the variation does.

One module per concept:

- ``spec``: the sweep file (base scenario, parameters with units, design, outputs), validated;
- ``design``: the cases (full grid, random, Latin hypercube, Sobol/Saltelli), SI values inside;
- ``directory``: the sweep directory (its manifest, the state of every case, resuming);
- ``case``: one case run into its own run directory, as ``iontosim run`` writes it;
- ``engines``: where cases run (a process pool, MPI sub-communicators, a Slurm job array slice);
- ``slurm``: the sbatch scripts of a job array;
- ``gather``: every case summary in one table (HDF5 with units, CSV);
- ``indices``: Sobol indices of a Saltelli design (SALib);
- ``report``: the pictures;
- ``command``: the ``iontosim sweep`` command.
"""
