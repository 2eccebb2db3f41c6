"""How long a batch has left, from the rows measured so far: one estimator for the UI and the CLI.

The Prefect progress artifact (`BatchBoard`) and the terminal bar of
`prefect-modelslab batch` show the same time left, computed here. Only rows
that actually ran are measured: an invalid row or a reused video ends at once
and says nothing about how long the others take. Rows run side by side, so
the rate is measured rows over the time since the work began (the first
submit), not the sum of each row's time: 10 rows measured in 60 s with 5 at
once is 10 rows a minute, whatever each row took.

This module imports nothing from Prefect.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ProgressClock", "format_duration"]


def format_duration(seconds: float) -> str:
    """A duration for people: `40 s`, `3 min`, `1 h 5 min`.

    Example:
        ```python
        from prefect_modelslab.ui.progress import format_duration

        format_duration(42)    # '42 s'
        format_duration(130)   # '2 min'
        format_duration(3900)  # '1 h 5 min'
        ```
    """
    if seconds < 59.5:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class ProgressClock:
    """The time left in a run, from the rows that ran in it so far.

    Call `start` when the work begins (just before the first submit), then
    `row_ended` as each row ends; `eta` is None until a row that ran has
    ended. A row that ends before `start` was called starts the clock instead
    of being measured.

    Args:
        clock: Seconds from a monotonic clock (`time.monotonic`); tests pass
            a fake one.

    Attributes:
        measured: Rows that ran and ended since `start`.
        skipped: Rows that ended without running (invalid, reused).

    Example:
        ```python
        from prefect_modelslab.ui.progress import ProgressClock

        clock = ProgressClock()
        clock.start()
        clock.row_ended("invalid")                 # ends at once: not measured
        clock.row_ended("succeeded", reused=True)  # not measured either
        clock.row_ended("succeeded")               # measured
        clock.eta(remaining=8)                     # seconds, from the one measured row
        clock.eta_text(8)                          # e.g. 'eta 2 min'
        ```
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: float | None = None
        self.measured = 0
        self.skipped = 0

    def start(self) -> None:
        """Mark when the work began; a second call keeps the first mark."""
        if self._started is None:
            self._started = self._clock()

    @staticmethod
    def ran(status: str | None, *, reused: bool = False) -> bool:
        """Whether a row with this outcome ran (and so says how long rows take).

        Example:
            ```python
            ProgressClock.ran("failed")                   # True
            ProgressClock.ran("succeeded", reused=True)   # False
            ProgressClock.ran("invalid")                  # False
            ```
        """
        return status != "invalid" and not reused

    def row_ended(self, status: str | None = None, *, reused: bool = False) -> None:
        """Count one row that ended; `status` None means a row that ran.

        Example:
            ```python
            clock = ProgressClock()
            clock.start()
            row = report.rows[0]  # a RowResult that just ended
            clock.row_ended(row.status, reused=row.reused)
            ```
        """
        if not self.ran(status, reused=reused):
            self.skipped += 1
        elif self._started is None:
            self.start()  # no start mark: this row's end is the mark
        else:
            self.measured += 1

    def eta(self, remaining: int) -> float | None:
        """Seconds until `remaining` more rows end, or None while no row has been measured.

        Example:
            ```python
            clock = ProgressClock()
            clock.start()
            clock.eta(remaining=8)  # None: no row measured yet
            clock.row_ended("succeeded")
            clock.eta(remaining=8)  # 8 x the seconds since start
            ```
        """
        if remaining <= 0:
            return 0.0
        if self._started is None or self.measured == 0:
            return None
        elapsed = self._clock() - self._started
        if elapsed <= 0:
            return None
        return remaining * elapsed / self.measured

    def eta_text(self, remaining: int) -> str:
        """`eta 2 min`, or an empty string while nothing has been measured (or nothing is left).

        Example:
            ```python
            clock = ProgressClock()
            clock.start()
            clock.eta_text(8)  # ''
            clock.row_ended("failed")
            clock.eta_text(8)  # e.g. 'eta 2 min'
            ```
        """
        seconds = self.eta(remaining)
        if seconds is None or remaining <= 0:
            return ""
        return f"eta {format_duration(seconds)}"
