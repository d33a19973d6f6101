"""Backends: where the model's arithmetic runs. One is chosen at load (``choose``), the only place
besides ``doctor`` that asks which device MLX runs on:

- ``numpy-cpu``: the CPU with float32 weights; the hot loops in numpy (``numpy_cpu``);
- ``mlx``: Metal, or the CPU when asked (``MANIM_QWEN_MLX_FAST_CPU=0``) or when the stored precision
  is kept (``MANIM_QWEN_MLX_PRECISION=keep``).
"""

from __future__ import annotations

import os

from manim_qwen_mlx.backends import device
from manim_qwen_mlx.backends.base import Backend
from manim_qwen_mlx.core.defaults import FAST_CPU_ENV, PRECISION_ENV


def choose() -> Backend:
    """The backend for a model loaded now, with the precision its weights will run at and why."""
    from manim_qwen_mlx.backends.mlx_backend import MlxBackend

    if not device.is_cpu():
        return MlxBackend(False, "mlx at the stored precision: MLX runs on the GPU, where quantized and "
                                 "bfloat16 kernels are fast")
    if os.environ.get(PRECISION_ENV, "").strip().lower() == "keep":
        return MlxBackend(False, f"mlx at the stored precision on the CPU ({PRECISION_ENV}=keep): slow for "
                                 "quantized models")
    float32 = ("float32 on the CPU: quantized and bfloat16 weights are converted at load (kept, synthesis "
               f"takes about 150x as long at 0.6B: docs/performance.md; {PRECISION_ENV}=keep keeps them)")
    if os.environ.get(FAST_CPU_ENV, "1").strip() == "0":
        return MlxBackend(True, f"mlx, {float32}; every step in mlx ({FAST_CPU_ENV}=0)")
    from manim_qwen_mlx.backends.numpy_cpu.backend import NumpyCpuBackend

    return NumpyCpuBackend(f"numpy-cpu, {float32}; single-token steps and decoder stages in numpy")


__all__ = ["Backend", "choose"]
