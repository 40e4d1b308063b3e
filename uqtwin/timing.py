"""Wall-clock time per pipeline stage, for the table at the end of every run's log.

A :class:`StageClock` adds up the seconds spent in named stages (read, denoise, fit, draw,
each quantity, collect). Per-sample stages are timed where the sample is computed, on a
worker if need be, and the clocks are merged, so a stage's total is the work it took
summed over the samples, and its count says over how many.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageClock:
    """Seconds and number of calls per named stage.

    Examples
    --------
    >>> clock = StageClock()
    >>> with clock.stage("draw"):
    ...     pass
    >>> clock.add("draw", 2.0)
    >>> clock.counts["draw"], clock.seconds["draw"] >= 2.0
    (2, True)
    """

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        """Add ``seconds`` spent in stage ``name`` over ``count`` calls."""
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)
        self.counts[name] = self.counts.get(name, 0) + int(count)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as one call of stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def merge(self, other: StageClock) -> None:
        """Add another clock's stages (a sample's, timed on a worker) to this one."""
        for name, seconds in other.seconds.items():
            self.add(name, seconds, other.counts.get(name, 1))

    def table(self) -> list[str]:
        """The stages as aligned text lines: name, total seconds, calls, seconds per call.

        Returns
        -------
        list of str
            A header line and one line per stage, in the order they were first timed.
        """
        width = max([len(n) for n in self.seconds] + [5])
        lines = [f"{'stage':<{width}}  {'total s':>9}  {'calls':>5}  {'s per call':>10}"]
        for name, seconds in self.seconds.items():
            n = self.counts.get(name, 1)
            lines.append(f"{name:<{width}}  {seconds:9.2f}  {n:5d}  {seconds / n:10.3f}")
        return lines
