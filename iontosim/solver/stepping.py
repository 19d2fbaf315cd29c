"""Time steps: how long the next one is, and whether the last one is kept.

Two rules (numerics.step_control):
- "iterations": grow after easy Newton solves, shrink after hard ones (StepController);
- "error": size each step from an estimate of its local truncation error in the quantities the
  run reports (ErrorController, LocalError), so that a step grows as fast as its error allows
  after the current is switched, and a step whose error is too large is taken again, shorter.
Both cut the step and retry after a failed Newton solve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepController:
    dt_initial: float  # s
    dt_max: float  # s
    growth: float = 1.5
    # Grow when Newton needed at most this many. With quadratic convergence from a first update
    # of O(1) in ln(c) (a front crossing a node), 5 iterations reach 1e-6: a limit of 4 held the
    # step at 0.5 ms for 350 steps in the default scenario.
    easy_iterations: int = 6
    hard_iterations: int = 10  # shrink when it needed more
    cut: float = 0.25  # factor after a failed solve
    dt_min: float = 1e-9  # s: below this the run is declared failed

    def __post_init__(self):
        self.dt = self.dt_initial

    def restart(self) -> None:
        """After a sudden change (current switched) start again from the initial step."""
        self.dt = self.dt_initial

    def accepted(self, iterations: int, used: float) -> None:
        if iterations <= self.easy_iterations:
            self.dt = min(max(self.dt, used) * self.growth, self.dt_max)
        elif iterations > self.hard_iterations:
            self.dt = max(used * 0.5, self.dt_min)

    def rejected(self, used: float) -> bool:
        """Cut the step; False when it can no longer be cut."""
        self.dt = used * self.cut
        return self.dt >= self.dt_min


@dataclass
class ErrorController(StepController):
    """Step sizes from the local error (LocalError.error, 1 = the tolerance): the next step is
    safety x (1 / error)^(1 / (order + 1)) times this one, between `least` and `most` times it.
    A step with an error above 1 is rejected and retried at that size. Newton failures cut the
    step as in StepController."""

    estimate: LocalError | None = None
    order: int = 1  # of the time scheme: 1 backward Euler, 2 BDF2
    safety: float = 0.9
    #: largest growth from one step to the next (BDF2: BDF2_MAX_RATIO)
    most: float = 5.0
    least: float = 0.2  # smallest factor after a rejected step

    def __post_init__(self):
        super().__post_init__()
        if self.order == 2:
            self.most = min(self.most, BDF2_MAX_RATIO)

    def accepted(self, iterations: int, used: float) -> None:
        """Newton converged: the step is judged by `judge`, not by the iterations."""

    def judge(self, error: float | None, used: float, order: int | None = None) -> bool:
        """Size the next step from this step's error (of a step of `order`, default the scheme's);
        True when the step is kept. Without an estimate (the first step after a restart) the step
        is kept and the next grows by `most`."""
        if error is None:
            self.dt = min(used * self.most, self.dt_max)
            return True
        factor = self.safety * (1.0 / max(error, 1e-12)) ** (1.0 / ((order or self.order) + 1))
        self.dt = min(used * min(max(factor, self.least), self.most), self.dt_max)
        return error <= 1.0


@dataclass
class LocalError:
    """The local truncation error of a step, estimated from how far its solution lies from the
    extrapolation of the steps before (Milne's device; Hairer and Wanner, Solving Ordinary
    Differential Equations II, section III.7, variable-step BDF): with a predictor through the
    last p + 1 kept states, the error of a BDF-p step of length h after steps h1 (and h2) is

        h / (h + h1) x (u - predicted)          backward Euler (p = 1)
        h / (h + h1 + h2) x (u - predicted)     BDF2 (p = 2)

    Judged on the amounts the run reports: of every species in every region (the donor's loss is
    the delivered dose; the dermis's amounts feed the clearance and the plasma), the largest
    error relative to `tolerance` x (|amount| + floor x the species' whole amount at the start).
    Node-wise concentrations were tried and left out (benchmarks/RESULTS.md): the drug front
    entering the finest stratum-corneum cells in the first milliseconds held the step at 0.5 ms,
    for no change in any reported quantity."""

    tolerance: float
    order: int = 1
    floor: float = 1e-3
    scale: np.ndarray = field(default_factory=lambda: np.ones(1))  # per species, mol/m^2
    history: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def keep(self, t: float, amounts: np.ndarray) -> None:
        """A kept state's amounts (regions, species) at time t [s]."""
        self.history = [*self.history, (t, amounts.copy())][-(self.order + 1) :]

    def restart(self, t: float, amounts: np.ndarray) -> None:
        """After a sudden change (current switched, patch taken off) the solution's derivative
        jumps: extrapolate from the present state only."""
        self.history = [(t, amounts.copy())]

    def error(self, t: float, amounts: np.ndarray, order: int | None = None) -> float | None:
        """The error of the step to t, a step of `order` (default the scheme's), relative to the
        tolerance; None without enough history."""
        points = self.history[-((order or self.order) + 1) :]
        if len(points) < 2:
            return None
        times = [p[0] for p in points]
        predicted = sum(w * p[1] for w, p in zip(_extrapolation_weights(times, t), points))
        factor = (t - times[-1]) / (t - times[0])
        relative = factor * (amounts - predicted) / (self.tolerance * (np.abs(amounts) + self.floor * self.scale))
        return float(np.max(np.abs(relative), initial=0.0))


#: Backward Euler steps after a start, a switch of the current or an event before BDF2 takes over
#: (numerics.time_scheme bdf2): they damp the switch-on layer, which BDF2, not monotone, made ring
#: (dexamethasone_cathodal with error control: 220 s and a charge balance error of 1e-4 without
#: them, 5 s and 7e-7 with 4; a patch taken off: Newton failed at every step size without them;
#: benchmarks/RESULTS.md)
BDF2_STARTUP = 4


#: Largest step ratio of variable-step BDF2: it is zero-stable only below 1 + sqrt(2) (Hairer and
#: Wanner, section III.5); a longer step (after one cut short by a breakpoint) is backward Euler
BDF2_MAX_RATIO = 2.0


def bdf2_weights(step: float, previous: float | None) -> tuple[float, float, float]:
    """(a0, a1, a2) of variable-step BDF2, du/dt ~ (a0 u_n+1 - a1 u_n + a2 u_n-1) / step after a
    step `previous` (ratio w = step / previous): a0 = (1 + 2w) / (1 + w), a1 = 1 + w,
    a2 = w^2 / (1 + w) (Hairer and Wanner, section III.5). Without a step before, or with a
    ratio above BDF2_MAX_RATIO: backward Euler (1, 1, 0)."""
    if previous is None or step > BDF2_MAX_RATIO * previous:
        return 1.0, 1.0, 0.0
    w = step / previous
    return (1.0 + 2.0 * w) / (1.0 + w), 1.0 + w, w * w / (1.0 + w)


def rate_of_change(levels, weights: tuple, step):
    """d/dt of a quantity from its levels (now, previous, before) with the weights (a0, a1, a2) of
    bdf2_weights (backward Euler: (1, 1, 0), `before` unused): (a0 x0 - a1 x1 + a2 x2) / step.
    Numbers, arrays or UFL expressions alike."""
    a0, a1, a2 = weights
    now, previous, before = levels
    change = a0 * now - a1 * previous
    if before is not None:
        change = change + a2 * before
    return change / step


def _extrapolation_weights(times: list[float], t: float) -> list[float]:
    """Lagrange weights of the polynomial through `times`, evaluated at t."""
    weights = []
    for j, tj in enumerate(times):
        w = 1.0
        for k, tk in enumerate(times):
            if k != j:
                w *= (t - tk) / (tj - tk)
        weights.append(w)
    return weights
