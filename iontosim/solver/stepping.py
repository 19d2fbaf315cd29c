"""Adaptive time steps: grow after easy Newton solves, shrink and retry after failures."""

from __future__ import annotations

from dataclasses import dataclass


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
