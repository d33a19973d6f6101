"""Winograd's F(4, 7) for the decoder's dilated convolutions: exact in float64, close in float32."""

import numpy as np
import pytest

from manim_qwen_mlx.backends.numpy_cpu import winograd


def _direct(history: np.ndarray, weight: np.ndarray, dilation: int, rows: int) -> np.ndarray:
    """y[t] = sum_k W[:, k] history[t + k d], in float64."""
    taps = weight.shape[1]
    return sum(history[k * dilation : k * dilation + rows].astype(np.float64) @ weight[:, k].astype(np.float64).T
               for k in range(taps))


def test_the_transforms_compute_the_correlation_exactly() -> None:
    turn_out, turn_weight, turn_in = winograd.transforms(winograd.OUTPUTS, 7, winograd.POINTS)
    rng = np.random.default_rng(0)
    g, x = rng.standard_normal(7), rng.standard_normal(winograd.OUTPUTS + 6)
    want = [sum(g[k] * x[i + k] for k in range(7)) for i in range(winograd.OUTPUTS)]
    np.testing.assert_allclose(turn_out @ ((turn_weight @ g) * (turn_in @ x)), want, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="needs 9 finite points"):
        winograd.transforms(winograd.OUTPUTS, 7, winograd.POINTS[:-1])


@pytest.mark.parametrize("dilation", [1, 3, 9])
@pytest.mark.parametrize("channels", [(24, 16), (96, 96)])
def test_a_convolution_in_tiles_equals_the_direct_one(dilation: int, channels: tuple[int, int]) -> None:
    inputs, outputs = channels
    rng = np.random.default_rng(dilation)
    weight = (rng.standard_normal((outputs, 7, inputs)) / np.sqrt(7 * inputs)).astype(np.float32)
    bias = rng.standard_normal(outputs).astype(np.float32)
    conv = winograd.WinogradConv.of(weight, bias, dilation)
    rows = 3 * conv.span
    history = rng.standard_normal((rows + conv.reach, inputs)).astype(np.float32)
    got = conv.apply(history, np.empty((rows, outputs), np.float32))
    want = _direct(history, weight, dilation, rows) + bias
    error = got - want
    assert np.sqrt(np.mean(error**2)) <= 2e-5 * np.sqrt(np.mean(want**2))  # float32 direct: about 3e-7
    assert np.abs(error).max() <= 1e-4 * np.abs(want).max()
