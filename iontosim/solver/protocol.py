"""Protocols as readable steps: apply a current for a time, rest, repeat, pulse, reverse (docs/physics.md).

The scenario's steps become a schedule: consecutive intervals of constant signed current density
(positive: the donor electrode is the anode, so current flows from it into the skin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Interval:
    start: float  # s
    end: float  # s
    current_density: float  # A/m^2, positive anodic (cations driven into the skin)


@dataclass(frozen=True)
class Event:
    """Something that happens at an instant between steps: a patch taken off or put on
    (protocol item `kind` at `origin`, its index in the expanded protocol), a receptor sampled
    (kind sample_receptor, origin -1)."""

    time: float  # s
    kind: str
    origin: int


@dataclass
class Schedule:
    intervals: list[Interval]
    notes: list[str] = field(default_factory=list)  # what a reader of the results must know
    events: list[Event] = field(default_factory=list)  # in time order

    def __post_init__(self):
        self._starts = np.array([iv.start for iv in self.intervals])

    @property
    def end(self) -> float:
        return self.intervals[-1].end

    def current_at(self, t_start: float, t_end: float) -> float:
        """Current density over the step (t_start, t_end], which never straddles a switch."""
        mid = 0.5 * (t_start + t_end)
        k = int(np.searchsorted(self._starts, mid, side="right")) - 1
        if 0 <= k < len(self.intervals) and mid < self.intervals[k].end:
            return self.intervals[k].current_density
        return 0.0

    def breakpoints(self, extra=()) -> np.ndarray:
        """Times a step must land on exactly: every switch, the end, and requested output times."""
        times = {0.0} | {i.end for i in self.intervals} | {i.start for i in self.intervals}
        times |= {e.time for e in self.events}
        return np.array(sorted(times | {float(t) for t in extra}))

    def events_at(self, t: float) -> list[Event]:
        """The events due at time `t` [s], in protocol order."""
        return [e for e in self.events if abs(e.time - t) <= 1e-9 * max(1.0, e.time)]

    def charge(self) -> float:
        """Charge passed through the donor electrode, C/m^2 (magnitude, whatever the polarity)."""
        return sum((iv.end - iv.start) * abs(iv.current_density) for iv in self.intervals)

    def on_intervals(self) -> list[tuple[float, float]]:
        return [(iv.start, iv.end) for iv in self.intervals if iv.current_density != 0.0]


def build_schedule(steps, polarity: str = "anode", min_resolved_period: float = 1.0, samples=()) -> Schedule:
    """The schedule of the scenario's (repeat-expanded) protocol steps.

    A pulse whose period is at least `min_resolved_period` is resolved pulse by pulse. A faster
    one is replaced by its mean current: the electroneutral model has no double-layer
    capacitance, so at periods far below the transport times (seconds in the stratum corneum)
    the fluxes follow the mean current; a note says so.
    """
    sign0 = 1.0 if polarity == "anode" else -1.0
    out: list[Interval] = []
    notes: list[str] = []
    events: list[Event] = []
    t = 0.0
    for k, step in enumerate(steps):
        if step.kind in ("remove_patch", "new_patch"):
            events.append(Event(t, step.kind, k))
            continue
        end = t + step.duration
        if step.kind == "rest":
            out.append(Interval(t, end, 0.0))
            t = end
            continue
        chunk = step.reverse_every or step.duration
        if step.reverse_every is not None and step.reverse_every >= step.duration:
            notes.append(
                f"protocol[{k}]: reverse_every ({step.reverse_every:g} s) is not shorter than the "
                f"step ({step.duration:g} s): the polarity never reverses in it"
            )
        sign = sign0
        start = t
        while start < end * (1 - 1e-12):
            stop = min(start + chunk, end)
            out.extend(_pulsed(start, stop, sign * step.current_density, step.pulse, min_resolved_period, notes, k))
            sign, start = -sign, stop
        t = end
    events += [Event(float(t), "sample_receptor", -1) for t in samples]
    return Schedule(_merged(out), notes, sorted(events, key=lambda e: e.time))


def _pulsed(start, stop, density, pulse, min_period, notes, k) -> list[Interval]:
    if pulse is None:
        return [Interval(start, stop, density)]
    period = 1.0 / pulse.frequency
    if period < min_period:
        note = (
            f"protocol[{k}]: pulses of {pulse.frequency:g} Hz (period below "
            f"numerics.min_resolved_pulse_period = {min_period:g} s) act as their mean current, "
            f"duty cycle {pulse.duty_cycle:g} x the on-current"
        )
        if note not in notes:
            notes.append(note)
        return [Interval(start, stop, density * pulse.duty_cycle)]
    out, t = [], start
    while t < stop * (1 - 1e-12):
        on_end = min(t + pulse.duty_cycle * period, stop)
        out.append(Interval(t, on_end, density))
        off_end = min(t + period, stop)
        if off_end > on_end:
            out.append(Interval(on_end, off_end, 0.0))
        t = off_end
    return out


def _merged(intervals: list[Interval]) -> list[Interval]:
    """Join neighbours of equal current (e.g. a pulse's off-part and a following rest)."""
    out: list[Interval] = []
    for iv in intervals:
        if iv.end <= iv.start:
            continue
        if out and out[-1].current_density == iv.current_density:
            out[-1] = Interval(out[-1].start, iv.end, iv.current_density)
        else:
            out.append(iv)
    return out
