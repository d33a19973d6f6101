"""Making a loaded model float32. mlx-community's checkpoints are 8-bit (or 4/6-bit) Linear layers with
bfloat16 for the rest, made for Apple GPUs; on the CPU, MLX's kernels for them are far slower than
float32 ones (docs/performance.md), so the CPU backends dequantize and widen the weights once, at load
(``backends.choose`` decides; ``MANIM_QWEN_MLX_PRECISION=keep`` keeps the stored precision).
"""

from __future__ import annotations

import logging
from typing import Any

from manim_qwen_mlx.backends import tree
from manim_qwen_mlx.core.defaults import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)


def to_float32(*roots: Any) -> int:
    """Dequantize every quantized layer below ``roots`` and cast their other floating weights to float32.
    Returns how many layers were dequantized."""
    import mlx.core as mx
    import mlx.nn as nn

    floating = (mx.bfloat16, mx.float16)
    dequantized = 0
    for root in roots:
        for container in tree.containers(root):
            for key, child in tree.children(container):
                layer = _dequantized(child, mx, nn)
                if layer is not None:
                    tree.replace(container, key, layer)
                    dequantized += 1
                elif isinstance(child, mx.array) and child.dtype in floating:
                    tree.replace(container, key, child.astype(mx.float32))
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
