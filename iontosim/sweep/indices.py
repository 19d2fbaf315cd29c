"""Sobol indices of a Saltelli design (SALib), with confidence intervals by bootstrap.

S1 (first order): the share of an output's variance that one parameter causes alone.
ST (total): its share with every interaction it takes part in; ST - S1 is what it does only
together with others, and ST near 0 means the parameter could be fixed anywhere in its range.

A failed case leaves a hole in the design. The estimators need whole Saltelli blocks (the
2D + 2 cases built on one base sample), so every block with a failed case is left out and the
indices come from the rest, with fewer base samples (said in the result), rather than from
invented values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import Sweep


@dataclass
class SobolIndices:
    output: str
    parameters: list[str]
    S1: np.ndarray
    S1_conf: np.ndarray  # half-width of the confidence interval (conf_level)
    ST: np.ndarray
    ST_conf: np.ndarray
    S2: np.ndarray | None  # D x D, upper triangle
    S2_conf: np.ndarray | None
    base_samples_used: int
    base_samples: int
    conf_level: float


def sobol_indices(
    sweep: Sweep, output: str, values: np.ndarray, conf_level: float = 0.95, resamples: int = 1000
) -> SobolIndices | None:
    """The Sobol indices of `output` from its value in every case of the Sobol design (NaN:
    failed or missing). None when fewer than 2 whole blocks are left."""
    from SALib.analyze import sobol

    design = sweep.spec.design
    d = len(sweep.parameters)
    block = (2 * d + 2) if design.second_order else (d + 2)
    y = np.asarray(values, dtype=float).reshape(-1, block)
    whole = np.all(np.isfinite(y), axis=1)
    if whole.sum() < 2 or np.ptp(y[whole]) == 0.0:  # nothing to decompose
        return None
    names = [p.path for p in sweep.parameters]
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    result = sobol.analyze(
        problem,
        y[whole].ravel(),
        calc_second_order=design.second_order,
        num_resamples=resamples,
        conf_level=conf_level,
        seed=design.seed,
    )
    second = design.second_order
    return SobolIndices(
        output,
        names,
        np.asarray(result["S1"]),
        np.asarray(result["S1_conf"]),
        np.asarray(result["ST"]),
        np.asarray(result["ST_conf"]),
        np.asarray(result["S2"]) if second else None,
        np.asarray(result["S2_conf"]) if second else None,
        int(whole.sum()),
        int(y.shape[0]),
        conf_level,
    )
