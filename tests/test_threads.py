"""BLAS threads follow the cores other processes leave free while the CPU steps run."""

import os

import pytest
from threadpoolctl import threadpool_info

from manim_qwen_mlx.backends.numpy_cpu import threads


def _blas_threads() -> set[int]:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_free_cores() -> None:
    assert threads.free_cores(0.0, 2) == 2
    assert threads.free_cores(0.9, 2) == 1  # one core busy elsewhere: one thread, not a waiting pair
    assert threads.free_cores(0.3, 8) == 8
    assert threads.free_cores(1.6, 8) == 6
    assert threads.free_cores(5.0, 2) == 1


def test_the_machine_s_load_is_read() -> None:
    first = threads.busy_seconds()
    assert first is not None and first > 0
    sum(range(2_000_000))  # some work of our own
    second = threads.busy_seconds()
    assert second is not None and second >= first


def test_threads_drop_while_another_process_is_busy_and_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "WINDOW_SECONDS", 0.0)
    monkeypatch.setattr(threads, "_applied", None)  # restored afterwards, like the thread count
    monkeypatch.delenv("MANIM_QWEN_MLX_BLAS_THREADS", raising=False)
    clock = {"now": 100.0, "busy": 1000.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(threads, "busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(threads, "_own_seconds", lambda: 0.0)  # all the load is someone else's
    blas = threads.BlasThreads()
    monkeypatch.setattr(blas, "cores", 2)
    monkeypatch.setattr(blas, "threads", 2)
    blas.enabled = True
    try:
        blas.adjust()  # the first call only marks the window
        clock["now"], clock["busy"] = 102.0, 1002.0  # one core's worth, by other processes
        blas.adjust()
        assert blas.threads == 1 and _blas_threads() == {1}
        later = threads.BlasThreads()  # the next run knows the count this one left
        assert later.threads == 1
        clock["now"], clock["busy"] = 104.0, 1002.1  # the others stopped
        blas.adjust()
        assert blas.threads == 2 and _blas_threads() == {2}
    finally:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=os.cpu_count() or 1, user_api="blas")


def test_a_fixed_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_BLAS_THREADS", "1")
    monkeypatch.setattr(threads, "_applied", None)
    try:
        blas = threads.BlasThreads()
        assert not blas.enabled and _blas_threads() == {1}
    finally:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=os.cpu_count() or 1, user_api="blas")
