"""The CPU work's threads: never more than the free cores.

Every product of a step splits its work over threads that then wait for each other. When another
process keeps a core busy, the thread sharing that core finishes last every time: with one of two cores
busy, two threads run a third as fast as when idle, while one thread runs as fast as idle one
(benchmarks/batch.py, docs/performance.md). So while the steps run, every couple of seconds the CPU time
the rest of the machine used is read from /proc/stat, and the steps' kernel and the workers (the prefill's
and the decoder's pieces) get one thread per core that is free of it, less the cores our own work beside
the steps holds (a decode's numpy stages on a thread of their own: ``beside_steps``). Linux only for the
load; elsewhere (and with ``MANIM_QWEN_MLX_BLAS_THREADS`` set) the count is fixed. BLAS's own threads are
left alone: numpy's runs one a piece (``workers``), and mlx's count stays what it was, so no rounding
depends on the machine's load.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS
from manim_qwen_mlx.core.defaults import BLAS_THREADS_ENV, LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
STAT = Path("/proc/stat")
WINDOW_SECONDS = 2.0  # how often the others' load is read again
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_applied: int | None = None  # the count last set in this process (it outlives each run's CpuThreads)
_reserved = 0  # cores held by threads working beside the steps
_free = os.cpu_count() or 1  # the cores other processes leave us, by the last window read
_lock = threading.Lock()


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


class CpuThreads:
    """Call ``adjust()`` once a step: it sets the thread count from the last window's load and the cores
    that work beside the steps holds."""

    def __init__(self, also: Callable[[int], None] | None = None) -> None:
        self.also = also  # another pool that splits the steps' products (``rows_kernel``)
        self.cores = os.cpu_count() or 1
        fixed = os.environ.get(BLAS_THREADS_ENV, "").strip()
        self.enabled = STAT.exists() and self.cores > 1 and not fixed
        self.threads = self.cores if _applied is None else _applied
        self.free = self.threads  # the cores other processes leave us (by the last window)
        self._mark: tuple[float, float, float] | None = None
        if also is not None and _applied is not None:
            also(_applied)  # a new pool starts where the last run left the count
        if fixed:
            if fixed.isdigit() and int(fixed) > 0:
                self.free = int(fixed)
                self._set(self.free)
            else:
                log.warning("%s=%r is not a positive number of threads; it is ignored.", BLAS_THREADS_ENV, fixed)

    def adjust(self) -> None:
        global _free
        if self.enabled:
            self._read_load()
        _free = self.free
        wanted = max(1, self.free - _reserved)
        if wanted != self.threads:
            self._set(wanted)

    def _read_load(self) -> None:
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
        free = free_cores(others, self.cores)
        if free != self.free:
            log.info("CPU threads: %d (other processes keep %.1f of %d cores busy)", free, others, self.cores)
            self.free = free

    def _set(self, threads: int) -> None:
        global _applied
        self.threads = _applied = threads
        WORKERS.resize(threads)
        if self.also is not None:
            self.also(threads)


@contextmanager
def beside_steps() -> Iterator[None]:
    """This thread works beside the steps: it holds a core (the steps' next ``adjust`` leaves it), and its
    pieces run on it alone."""
    global _reserved
    with _lock:
        _reserved += 1
    WORKERS.limit(1)
    try:
        yield
    finally:
        WORKERS.limit(None)
        with _lock:
            _reserved -= 1
            WORKERS.resize(max(1, _free - _reserved))  # for pieces run once no step adjusts the count


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system
