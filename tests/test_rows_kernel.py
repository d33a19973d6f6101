"""The steps' kernel: a product over a few rows whose every row is bit for bit what it is alone."""

import importlib
import sys
from typing import Any

import numpy as np
import pytest

from manim_qwen_mlx.backends import numpy_cpu
from manim_qwen_mlx.backends.numpy_cpu import rows_kernel, stack, threads


@pytest.mark.parametrize("width", [12, 13, 15])  # a multiple of four and two that are not
def test_product_matches_blas_and_each_row_is_the_same_whatever_shares_it(width: int) -> None:
    rng = np.random.default_rng(width)
    weight = rng.standard_normal((width, 37), dtype=np.float32)
    rows = rng.standard_normal((9, 37), dtype=np.float32)
    product = rows_kernel.rows_times(weight, rows)
    assert product.shape == (9, width) and product.dtype == np.float32
    np.testing.assert_allclose(product, rows @ weight.T, rtol=1e-5, atol=1e-5)
    for count in range(1, 10):  # odd and even batches, each row in every position
        for index in range(count):
            shared = np.roll(rows[:count], -index, axis=0)
            np.testing.assert_array_equal(rows_kernel.rows_times(weight, shared)[0], product[index])


def test_without_numba_blas_runs_the_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "manim_qwen_mlx.backends.numpy_cpu.rows_kernel", None)  # import fails
    monkeypatch.delattr(numpy_cpu, "rows_kernel")
    product, set_threads = stack._products()
    assert product is stack._blas_rows and set_threads is None
    weight, rows = np.eye(4, dtype=np.float32), np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(product(weight, rows), rows)
    monkeypatch.undo()
    assert importlib.import_module("manim_qwen_mlx.backends.numpy_cpu.rows_kernel") is rows_kernel


def test_thread_changes_reach_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_BLAS_THREADS", "1")
    monkeypatch.setattr(threads, "_applied", None)
    heard: list[int] = []
    try:
        threads.CpuThreads(heard.append)
        assert heard == [1]
        import numba

        rows_kernel.set_threads(1)
        assert numba.get_num_threads() == 1
    finally:
        threads.WORKERS.resize(threads.os.cpu_count() or 1)
        rows_kernel.set_threads(threads.os.cpu_count() or 1)


def compile_fails(monkeypatch: pytest.MonkeyPatch, kernel: str) -> None:
    """Importing numba's ``kernel`` module raises as numba does on a CPU it cannot compile for."""
    import builtins

    real_import = builtins.__import__

    def failing(name: str, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 2 and args[2] and kernel in args[2]:  # from ...numpy_cpu import <kernel>
            raise RuntimeError("no LLVM target for this CPU")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)


def test_a_kernel_that_cannot_compile_leaves_blas_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    compile_fails(monkeypatch, "rows_kernel")
    with caplog.at_level("WARNING", logger="manim.qwen_mlx"):
        product, set_threads = stack._products()
    assert product is stack._blas_rows and set_threads is None
    assert "could not be compiled (no LLVM target for this CPU)" in caplog.text
