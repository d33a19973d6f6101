"""The attention kernel for rows with a store each: numpy's values, each row's bit for bit whatever shares it."""

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from test_rows_kernel import compile_fails, numba_kernel, without_numba

from manim_qwen_mlx.backends.numpy_cpu import stack

LAYERS, KV, HEADS, SIZE, CAPACITY = 3, 2, 6, 8, 40


def _stores(rng: np.random.Generator, lengths: list[int]) -> list[stack.Store]:
    """One-row stores holding ``lengths`` tokens each, the new token's place included (as a step has them)."""
    shape = (LAYERS, 1, KV, CAPACITY, SIZE)
    return [stack.Store(rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(shape, dtype=np.float32),
                        length - 1) for length in lengths]


def _numpy(q: np.ndarray, stores: list[stack.Store], layer: int) -> np.ndarray:
    plain = SimpleNamespace(heads=HEADS, kv_heads=KV, head_dim=SIZE)
    out: np.ndarray = stack.Stack._store_attention(plain, layer, q, stores)  # type: ignore[arg-type]
    return out


def _kernel(q: np.ndarray, stores: list[stack.Store], layer: int) -> np.ndarray:
    lengths = np.array([store.length + 1 for store in stores], np.int64)
    gathered = numba_kernel("attention_kernel").RowStores([s.keys for s in stores], [s.values for s in stores], lengths)
    return gathered.attend(q, layer, SIZE**-0.5)


def test_the_kernel_gives_numpy_s_values_and_each_row_is_the_same_whatever_shares_it() -> None:
    rng = np.random.default_rng(3)
    lengths = [1, 5, 17, 40, 9, 2, 33]  # one token, and rows at every length up to the store's capacity
    stores = _stores(rng, lengths)
    q = rng.standard_normal((len(lengths), HEADS, SIZE), dtype=np.float32) * 3
    for layer in range(LAYERS):
        together = _kernel(q, stores, layer)
        np.testing.assert_allclose(together, _numpy(q, stores, layer), rtol=1e-5, atol=1e-5)
        for row in range(len(lengths)):
            np.testing.assert_array_equal(_kernel(q[row : row + 1], stores[row : row + 1], layer)[0], together[row])
            shifted = np.roll(np.arange(len(lengths)), -row)[:3]  # the row first among two others
            np.testing.assert_array_equal(_kernel(q[shifted], [stores[i] for i in shifted], layer)[0], together[row])


def test_without_numba_numpy_runs_the_attention(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = sys.modules.get("manim_qwen_mlx.backends.numpy_cpu.attention_kernel")
    without_numba(monkeypatch, "attention_kernel")
    assert stack._row_stores() is None
    monkeypatch.undo()
    assert sys.modules.get("manim_qwen_mlx.backends.numpy_cpu.attention_kernel") is loaded


def test_a_kernel_that_cannot_compile_leaves_numpy_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    compile_fails(monkeypatch, "attention_kernel")
    with caplog.at_level("WARNING", logger="manim.qwen_mlx"):
        assert stack._row_stores() is None
    assert "attention kernel could not be compiled (no LLVM target for this CPU)" in caplog.text
