"""Where MLX runs: the one question the CPU-only paths (fast path, precision policy) ask."""

from __future__ import annotations


def is_cpu() -> bool:
    """Whether MLX's default device is the CPU (Linux's mlx[cpu], or a Mac told to use the CPU)."""
    import mlx.core as mx

    return bool(mx.default_device().type == mx.DeviceType.cpu)
