"""The steps' kernel: a product over a few rows whose every row is bit for bit what it is alone."""

import importlib
import sys
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from manim_qwen_mlx.backends import numpy_cpu
from manim_qwen_mlx.backends.numpy_cpu import stack, threads


def numba_kernel(name: str) -> ModuleType:
    """numba's kernel module ``name``; the test skips where numba is not installed (a Mac, where the steps
    run on Metal; the package installs numba on Linux only)."""
    pytest.importorskip("numba", reason="numba is not installed (as on a Mac): the BLAS fallback runs instead")
    return importlib.import_module(f"manim_qwen_mlx.backends.numpy_cpu.{name}")


def without_numba(monkeypatch: pytest.MonkeyPatch, kernel: str) -> None:
    """Importing numba fails, as where it is not installed, and the kernel module is not loaded yet."""
    monkeypatch.setitem(sys.modules, "numba", None)  # None in sys.modules: ``import numba`` raises ImportError
    monkeypatch.delitem(sys.modules, f"manim_qwen_mlx.backends.numpy_cpu.{kernel}", raising=False)
    monkeypatch.delattr(numpy_cpu, kernel, raising=False)


@pytest.mark.parametrize("width", [12, 13, 15])  # a multiple of four and two that are not
def test_product_matches_blas_and_each_row_is_the_same_whatever_shares_it(width: int) -> None:
    rows_kernel = numba_kernel("rows_kernel")
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
    loaded = sys.modules.get("manim_qwen_mlx.backends.numpy_cpu.rows_kernel")
    without_numba(monkeypatch, "rows_kernel")
    product, set_threads = stack._products()
    assert product is stack._blas_rows and set_threads is None
    weight, rows = np.eye(4, dtype=np.float32), np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(product(weight, rows), rows)
    rng = np.random.default_rng(5)  # the fallback, as the kernel: each row the same whatever shares it
    for shape in [(13, 37), (1024, 256)]:
        weight, rows = rng.standard_normal(shape, dtype=np.float32), rng.standard_normal((17, shape[1]), np.float32)
        together = product(weight, rows)
        np.testing.assert_allclose(together, rows @ weight.T, rtol=1e-4, atol=1e-4)
        for count in (1, 2, 5, stack.BLOCK_ROWS, stack.BLOCK_ROWS + 1, 17):
            for index in {0, count // 2, count - 1}:
                shared = np.roll(rows[:count], -index, axis=0)
                np.testing.assert_array_equal(product(weight, shared)[0], together[index])
    monkeypatch.undo()
    assert sys.modules.get("manim_qwen_mlx.backends.numpy_cpu.rows_kernel") is loaded


def test_thread_changes_reach_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    rows_kernel = numba_kernel("rows_kernel")
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
