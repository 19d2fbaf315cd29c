"""Protocols as readable steps: apply a current for a time, rest, repeat (MODEL.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    start: float  # s
    end: float  # s
    current_density: float  # A/m^2, positive anodic (drug driven into the skin)


def intervals(steps) -> list[Interval]:
    """Consecutive intervals of constant current from the scenario's expanded protocol steps."""
    out, t = [], 0.0
    for step in steps:
        density = 0.0 if step.kind == "rest" else float(step.current_density)
        out.append(Interval(t, t + step.duration, density))
        t += step.duration
    return out


def current_at(schedule: list[Interval], t_start: float, t_end: float) -> float:
    """Current density over the step (t_start, t_end], which never straddles a switch."""
    mid = 0.5 * (t_start + t_end)
    for interval in schedule:
        if interval.start <= mid < interval.end:
            return interval.current_density
    return 0.0


def breakpoints(schedule: list[Interval], extra=()) -> np.ndarray:
    """Times a step must land on exactly: every switch, the end, and requested output times."""
    times = {0.0} | {i.end for i in schedule} | {i.start for i in schedule} | {float(t) for t in extra}
    return np.array(sorted(times))
