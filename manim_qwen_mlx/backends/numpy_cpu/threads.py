"""BLAS threads that never outnumber the free cores.

Every product of a step splits its work over the BLAS threads, which then wait for each other. When
another process keeps a core busy, the thread sharing that core finishes last every time: with one of
two cores busy, two threads run a third as fast as when idle, while one thread runs as fast as idle one
(benchmarks/batch.py, docs/performance.md). So while the steps run, every couple of seconds the CPU time
the rest of the machine used is read from /proc/stat, and the BLAS libraries and the steps' kernel get
one thread per core that is free of it. Linux only; elsewhere (and with ``MANIM_QWEN_MLX_BLAS_THREADS``
set) nothing changes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from manim_qwen_mlx.core.defaults import BLAS_THREADS_ENV, LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
STAT = Path("/proc/stat")
WINDOW_SECONDS = 2.0  # how often the others' load is read again
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_applied: int | None = None  # the count last set in this process (it outlives each run's BlasThreads)


def busy_seconds() -> float | None:
    """CPU seconds every process has used since boot (None where /proc/stat cannot be read)."""
    try:
        fields = [int(value) for value in STAT.read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / TICKS


def free_cores(others: float, cores: int) -> int:
    """Threads to use when other processes keep ``others`` cores busy (half a core counts as one)."""
    return max(1, cores - round(others))


class BlasThreads:
    """Call ``adjust()`` once a step; it sets the BLAS thread count from the last window's load."""

    def __init__(self, also: Callable[[int], None] | None = None) -> None:
        self.also = also  # another pool that splits the steps' products (``rows_kernel``)
        self.cores = os.cpu_count() or 1
        fixed = os.environ.get(BLAS_THREADS_ENV, "").strip()
        self.enabled = STAT.exists() and self.cores > 1 and not fixed
        self.threads = self.cores if _applied is None else _applied
        self._mark: tuple[float, float, float] | None = None
        if also is not None and _applied is not None:
            also(_applied)  # a new pool starts where the last run left the count
        if fixed:
            if fixed.isdigit() and int(fixed) > 0:
                self._set(int(fixed))
            else:
                log.warning("%s=%r is not a positive number of threads; it is ignored.", BLAS_THREADS_ENV, fixed)

    def adjust(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._mark is not None and now - self._mark[0] < WINDOW_SECONDS:
            return  # called every step: /proc/stat is read once a window, not once a step
        busy, ours = busy_seconds(), _own_seconds()
        if busy is None:
            self.enabled = False
            return
        if self._mark is None:
            self._mark = (now, busy, ours)
            return
        then, busy_then, ours_then = self._mark
        self._mark = (now, busy, ours)
        others = max(0.0, (busy - busy_then) - (ours - ours_then)) / (now - then)
        wanted = free_cores(others, self.cores)
        if wanted != self.threads:
            log.info("BLAS threads: %d (other processes keep %.1f of %d cores busy)", wanted, others, self.cores)
            self._set(wanted)

    def _set(self, threads: int) -> None:
        from threadpoolctl import threadpool_limits

        global _applied
        self.threads = _applied = threads
        threadpool_limits(limits=threads, user_api="blas")  # process-wide until set again
        if self.also is not None:
            self.also(threads)


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system
