"""The cases of a sweep: a full grid, random points, a Latin hypercube or a Sobol (Saltelli) design.

Random designs are drawn in the unit hypercube and mapped onto each parameter by the inverse of
its distribution (Parameter.from_unit_interval), so one mapping serves every design. The Sobol
design is SALib's Saltelli sample of [0, 1)^D: blocks of 2D + 2 cases per base sample (D + 2
without second order), which is the structure the Sobol estimators (indices.py) need.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .spec import Sweep, planned_cases


@dataclass(frozen=True)
class Case:
    id: str  # the name of its run directory under cases/
    values: dict[str, float]  # SI value of each parameter, by path


def _grid_levels(sweep: Sweep) -> list[tuple[float, ...]]:
    """The levels of each parameter of a grid (sweep_from_dict refuses a grid parameter without)."""
    levels = []
    for p in sweep.parameters:
        assert p.levels is not None
        levels.append(p.levels)
    return levels


def _samples(sweep: Sweep) -> int:
    """The samples of a random, Latin hypercube or Sobol design (DesignSpec requires them)."""
    samples = sweep.spec.design.samples
    assert samples is not None
    return samples


def case_count(sweep: Sweep) -> int:
    """Cases of the sweep's design: the product of a grid's levels, a random or Latin hypercube
    design's samples, a Sobol design's N(2D + 2) (N(D + 2) without second order)."""
    return planned_cases(sweep.spec)[1]


def unit_points(sweep: Sweep) -> np.ndarray:
    """The random designs' points in [0, 1)^D, one row per case."""
    design = sweep.spec.design
    d = len(sweep.parameters)
    if design.kind == "random":
        return np.random.default_rng(design.seed).random((_samples(sweep), d))
    if design.kind == "latin_hypercube":
        from scipy.stats import qmc

        # one point in each of the `samples` strata of every parameter's axis
        # seed= (not rng=): also on the SciPy < 1.15 of site installations
        return qmc.LatinHypercube(d=d, seed=np.random.default_rng(design.seed)).random(_samples(sweep))
    if design.kind == "sobol":
        from SALib.sample import sobol

        problem = {"num_vars": d, "names": [p.path for p in sweep.parameters], "bounds": [[0.0, 1.0]] * d}
        return sobol.sample(problem, _samples(sweep), calc_second_order=design.second_order, seed=design.seed)
    raise ValueError(f"the {design.kind} design has no unit points")


def design_points(sweep: Sweep) -> np.ndarray:
    """Every case's parameter values, SI, one row per case and one column per parameter."""
    if sweep.spec.design.kind == "grid":
        # the first parameter varies slowest, as in nested loops written in the file's order
        rows = list(itertools.product(*_grid_levels(sweep)))
        return np.asarray(rows, dtype=float).reshape(len(rows), len(sweep.parameters))
    u = unit_points(sweep)
    return np.column_stack([p.from_unit_interval(u[:, j]) for j, p in enumerate(sweep.parameters)])


def case_id(index: int, count: int) -> str:
    """Zero-padded so that the run directories sort in the design's order."""
    return f"{index:0{max(4, len(str(count - 1)))}d}"


def make_cases(sweep: Sweep) -> list[Case]:
    points = design_points(sweep)
    paths = [p.path for p in sweep.parameters]
    return [
        Case(case_id(i, len(points)), {path: float(x) for path, x in zip(paths, row)}) for i, row in enumerate(points)
    ]
