"""The CPU precision policy. mlx-community's checkpoints are 8-bit (or 4/6-bit) Linear layers with
bfloat16 for the rest, made for Apple GPUs. On the CPU, MLX's quantized and bfloat16 kernels are far
slower than float32 ones with OpenBLAS (measured at the 0.6B talker's size: 8-bit/bf16 0.055 frames/s
against 1.27 in float32, benchmarks/precision.py), so when MLX's default device is the CPU a loaded
model is dequantized and cast to float32 once, at load. On a GPU nothing changes.
``MANIM_QWEN_MLX_PRECISION=keep`` keeps the stored precision on the CPU too (less memory, much slower).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from . import device, mlx_tree
from .defaults import LOGGER_NAME, PRECISION_ENV

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class Policy:
    float32: bool  # whether loaded models are made float32
    reason: str


def policy() -> Policy:
    """What happens to a loaded model's precision here, and why (for the log and `doctor`)."""
    keep = os.environ.get(PRECISION_ENV, "").strip().lower() == "keep"
    if not device.is_cpu():
        return Policy(False, "stored precision: MLX runs on the GPU, where quantized and bfloat16 kernels are fast")
    if keep:
        return Policy(False, f"stored precision kept on the CPU ({PRECISION_ENV}=keep): slow for quantized models")
    return Policy(True, "float32 on the CPU: quantized and bfloat16 weights are converted at load "
                        f"(MLX's CPU kernels for them are ~20x slower; {PRECISION_ENV}=keep keeps them)")


def to_float32(*roots: Any) -> int:
    """Dequantize every quantized layer below ``roots`` and cast their other floating weights to float32,
    when the policy says so. Returns how many layers were dequantized."""
    chosen = policy()
    if not chosen.float32:
        return 0
    import mlx.core as mx
    import mlx.nn as nn

    floating = (mx.bfloat16, mx.float16)
    dequantized = 0
    for root in roots:
        for container in mlx_tree.containers(root):
            for key, child in mlx_tree.children(container):
                layer = _dequantized(child, mx, nn)
                if layer is not None:
                    mlx_tree.replace(container, key, layer)
                    dequantized += 1
                elif isinstance(child, mx.array) and child.dtype in floating:
                    mlx_tree.replace(container, key, child.astype(mx.float32))
    if dequantized:
        log.info("Precision: %d quantized layers dequantized to float32 for the CPU", dequantized)
    return dequantized


def _dequantized(layer: Any, mx: Any, nn: Any) -> Any:
    if isinstance(layer, nn.QuantizedLinear):
        weight = _weight(layer, mx)
        plain = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in layer)
        plain.weight = weight
        if "bias" in layer:
            plain.bias = layer.bias.astype(mx.float32)
        return plain
    if isinstance(layer, nn.QuantizedEmbedding):
        weight = _weight(layer, mx)
        plain = nn.Embedding(weight.shape[0], weight.shape[1])
        plain.weight = weight
        return plain
    return None


def _weight(layer: Any, mx: Any) -> Any:
    mode = getattr(layer, "mode", "affine")
    weight = mx.dequantize(layer.weight, layer.scales, layer.biases, layer.group_size, layer.bits, mode=mode)
    return weight.astype(mx.float32)
