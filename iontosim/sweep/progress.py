"""Progress of a sweep: cases done, failed, remaining and the time left.

On a terminal a rich progress bar; in a batch log (no terminal) one line per finished case, which
is what a Slurm output file can show. Counts can be read from the sweep directory (under MPI, rank
0 sees the other groups' cases only there).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class SweepProgress:
    def __init__(self, total: int, done: int = 0, failed: int = 0, show: bool = True, label: str = "sweep"):
        self.total, self.done, self.failed = total, done, failed
        self.show, self.label = show, label
        self.started = time.perf_counter()
        self.finished_here = 0  # cases finished since this command started: they set the pace
        self.bar: Progress | None = None  # the rich bar, on a terminal
        self.task: TaskID | None = None  # its task, added with it

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed

    def __enter__(self) -> SweepProgress:
        if self.show and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = [
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "done {task.fields[done]}, [red]failed {task.fields[failed]}[/red], "
                    "remaining {task.fields[remaining]}"
                ),
                TimeElapsedColumn(),
                TextColumn("elapsed, about"),
                TimeRemainingColumn(),
                TextColumn("left"),
            ]
            # the pace over the last 10 minutes: cases finish in bursts, one per worker
            self.bar = Progress(*columns, speed_estimate_period=600.0)
            self.bar.__enter__()
            self.task = self.bar.add_task(
                self.label,
                total=self.total,
                completed=self.done + self.failed,
                done=self.done,
                failed=self.failed,
                remaining=self.remaining,
            )
        elif self.show:
            typer.echo(
                f"{self.label}: {self.total} cases, {self.done} done, {self.failed} failed, {self.remaining} to run"
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def record(self, result: dict) -> None:
        """One case finished here (a result of case.run_case)."""
        if result["status"] == "done":
            self.done += 1
        else:
            self.failed += 1
        self.finished_here += 1
        self._update(result)

    def counts(self, done: int, failed: int) -> None:
        """The counts read from the sweep directory (cases finished by other processes too)."""
        new = done + failed - self.done - self.failed
        self.done, self.failed = done, failed
        self.finished_here += max(new, 0)
        self._update(None)

    def _update(self, result: dict | None) -> None:
        if self.bar is not None:
            assert self.task is not None  # __enter__ adds the task with the bar
            self.bar.update(
                self.task,
                completed=self.done + self.failed,
                done=self.done,
                failed=self.failed,
                remaining=self.remaining,
            )
        elif self.show:
            what = (
                (
                    f"case {result['id']} {result['status']} in {result['wall_time_s']:.1f} s"
                    + (f" ({result['error']})" if result.get("error") else "")
                    + "; "
                )
                if result
                else ""
            )
            typer.echo(
                f"{self.label}: {what}{self.done} done, {self.failed} failed, {self.remaining} remaining"
                f"{self._time_left()}"
            )

    def _time_left(self) -> str:
        if not self.finished_here or not self.remaining:
            return ""
        left = (time.perf_counter() - self.started) / self.finished_here * self.remaining
        return f", about {left / 60:.1f} min left" if left >= 60 else f", about {left:.0f} s left"
