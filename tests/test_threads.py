"""The CPU work's threads follow the cores other processes and our own work beside the steps leave free."""

import os

import pytest

from manim_qwen_mlx.backends.numpy_cpu import threads
from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """What the steps' kernel was told; the count and the workers restored afterwards."""
    monkeypatch.setattr(threads, "_applied", None)
    told: list[int] = []
    yield told  # type: ignore[misc]
    WORKERS.resize(os.cpu_count() or 1)


def test_free_cores() -> None:
    assert threads.free_cores(0.0, 2) == 2
    assert threads.free_cores(0.9, 2) == 1  # one core busy elsewhere: one thread, not a waiting pair
    assert threads.free_cores(0.3, 8) == 8
    assert threads.free_cores(1.6, 8) == 6
    assert threads.free_cores(5.0, 2) == 1


@pytest.mark.skipif(not threads.STAT.exists(), reason="no /proc/stat here (macOS): the count stays as configured")
def test_the_machine_s_load_is_read() -> None:
    first = threads.busy_seconds()
    assert first is not None and first > 0
    sum(range(2_000_000))  # some work of our own
    second = threads.busy_seconds()
    assert second is not None and second >= first


def test_threads_drop_while_another_process_is_busy_and_come_back(
    monkeypatch: pytest.MonkeyPatch, heard: list[int]
) -> None:
    monkeypatch.setattr(threads, "WINDOW_SECONDS", 0.0)
    monkeypatch.delenv("MANIM_QWEN_MLX_BLAS_THREADS", raising=False)
    clock = {"now": 100.0, "busy": 1000.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(threads, "busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(threads, "_own_seconds", lambda: 0.0)  # all the load is someone else's
    cpu = threads.CpuThreads(heard.append)
    monkeypatch.setattr(cpu, "cores", 2)
    monkeypatch.setattr(cpu, "threads", 2)
    monkeypatch.setattr(cpu, "free", 2)
    cpu.enabled = True
    cpu.adjust()  # the first call only marks the window
    clock["now"], clock["busy"] = 102.0, 1002.0  # one core's worth, by other processes
    cpu.adjust()
    assert cpu.threads == 1 and heard == [1] and WORKERS.size == 1
    later = threads.CpuThreads()  # the next run knows the count this one left
    assert later.threads == 1
    clock["now"], clock["busy"] = 104.0, 1002.1  # the others stopped
    cpu.adjust()
    assert cpu.threads == 2 and heard == [1, 2] and WORKERS.size == min(2, WORKERS.cores)


def test_work_beside_the_steps_holds_a_core_until_it_is_done(
    monkeypatch: pytest.MonkeyPatch, heard: list[int]
) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_BLAS_THREADS", "2")
    cpu = threads.CpuThreads(heard.append)
    assert heard == [2]
    with threads.beside_steps():
        cpu.adjust()
        assert cpu.threads == 1 and heard == [2, 1]
        assert WORKERS._local.size == 1  # this thread's pieces run on it alone
    assert WORKERS._local.size is None
    cpu.adjust()
    assert cpu.threads == 2 and heard == [2, 1, 2]


def test_without_proc_stat_the_count_stays_as_configured(
    monkeypatch: pytest.MonkeyPatch, heard: list[int], tmp_path
) -> None:
    monkeypatch.setattr(threads, "STAT", tmp_path / "no-stat")  # as on a Mac
    monkeypatch.delenv("MANIM_QWEN_MLX_BLAS_THREADS", raising=False)
    assert threads.busy_seconds() is None
    cpu = threads.CpuThreads(heard.append)
    assert not cpu.enabled and cpu.threads == (os.cpu_count() or 1)
    for _ in range(3):
        cpu.adjust()  # no error, no change
    assert cpu.threads == (os.cpu_count() or 1) and heard == []
    cpu.enabled = True  # even when asked to read it, a missing file turns the reading off
    cpu.adjust()
    assert not cpu.enabled and cpu.threads == (os.cpu_count() or 1)


def test_a_fixed_count_wins(monkeypatch: pytest.MonkeyPatch, heard: list[int]) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_BLAS_THREADS", "1")
    cpu = threads.CpuThreads(heard.append)
    assert not cpu.enabled and heard == [1] and WORKERS.size == 1
