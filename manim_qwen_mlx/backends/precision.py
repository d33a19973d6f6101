"""Making a loaded model float32. mlx-community's checkpoints are 8-bit (or 4/6-bit) Linear layers with
bfloat16 for the rest, made for Apple GPUs; on the CPU, MLX's kernels for them are far slower than
float32 ones (docs/performance.md), so the CPU backends dequantize and widen the weights once, at load
(``backends.choose`` decides; ``MANIM_QWEN_MLX_PRECISION=keep`` keeps the stored precision).

Layer by layer and at once, not lazily: each quantized layer's arrays are read (from the file, while the
model is still lazy), dequantized into its float32 buffer and dropped before the next, so the first
narration pays nothing and the quantized copy never sits beside the float32 one. The 4- and 8-bit
affine formats dequantize in numpy on every core (MLX's CPU kernel takes one), into the float32 mlx
array's own memory, with MLX's arithmetic: products and sums rounded to the scales' dtype, so the
weights are bit for bit what ``mx.dequantize`` gives.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from manim_qwen_mlx.backends import tree
from manim_qwen_mlx.core.defaults import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
ROWS_PER_TASK = 256  # rows of a weight dequantized per task: a few MB, in cache
RELEASE_EVERY = 64 << 20  # bytes of quantized weights dropped between returns of freed memory


def to_float32(*roots: Any) -> int:
    """Dequantize every quantized layer below ``roots`` and cast their other floating weights to float32,
    each evaluated as it goes. Returns how many layers were dequantized."""
    import mlx.core as mx

    nn = _layers()
    floating = (mx.bfloat16, mx.float16)
    quantized = (nn.QuantizedLinear, nn.QuantizedEmbedding)
    # Where each child sits, not the children: a list holding the old layers would keep them all alive.
    sites = [(container, key) for root in roots for container in tree.containers(root)
             if not isinstance(container, quantized) for key, _ in tree.children(container)]
    dequantized = dropped = 0
    pending: Pending | None = None
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        for container, key in sites:
            child = tree.child(container, key)
            if isinstance(child, quantized):
                # This layer is read and its float32 buffer made while the pool fills the previous one.
                started = Pending.start(container, key, child, pool)
                if pending is not None:
                    dropped += pending.finish()
                    dequantized += 1
                pending = started
            elif isinstance(child, mx.array) and child.dtype in floating:
                widened = child.astype(mx.float32)
                mx.eval(widened)
                tree.replace(container, key, widened)
            del child
            if dropped >= RELEASE_EVERY:
                dropped = _release_freed_memory()
        if pending is not None:
            pending.finish()
            dequantized += 1
    if dequantized:
        _release_freed_memory()
        log.info("Precision: %d quantized layers dequantized to float32 for the CPU", dequantized)
    return dequantized


def _layers() -> Any:
    import mlx.nn  # untyped: its layer classes are not visible to mypy

    return mlx.nn


def _release_freed_memory() -> int:
    """Give the dropped quantized arrays' memory back to the system. glibc keeps freed blocks of this
    size in its heap, between the float32 ones allocated since, so without this the process would end
    the conversion holding both copies' worth (docs/performance.md)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # another C library (musl): nothing to do
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    return 0


@dataclass
class Pending:
    """One quantized layer being dequantized: where it sits, its float32 weight and the pool's tasks."""

    container: Any
    key: Any
    layer: Any
    weight: Any
    tasks: list[Future[None]]

    @classmethod
    def start(cls, container: Any, key: Any, layer: Any, pool: ThreadPoolExecutor) -> Pending:
        weight, tasks = dequantize(layer, pool)
        return cls(container, key, layer, weight, tasks)

    def finish(self) -> int:
        """Wait for the tasks, put the float32 layer in the quantized one's place; its size in bytes."""
        import mlx.core as mx

        nn = _layers()
        for task in self.tasks:
            task.result()
        old, (rows, columns) = self.layer, self.weight.shape
        if isinstance(old, nn.QuantizedEmbedding):
            plain = nn.Embedding(rows, columns)
        else:
            plain = nn.Linear(columns, rows, bias="bias" in old)
            if "bias" in old:
                plain.bias = old.bias.astype(mx.float32)
                mx.eval(plain.bias)
        plain.weight = self.weight
        tree.replace(self.container, self.key, plain)
        return int(old.weight.nbytes)


def dequantize(layer: Any, pool: ThreadPoolExecutor) -> tuple[Any, list[Future[None]]]:
    """A quantized layer's weight as a float32 mlx array, and the pool's tasks that fill it (none when
    mlx made it)."""
    import mlx.core as mx

    mode, bits, group = getattr(layer, "mode", "affine"), int(layer.bits), int(layer.group_size)
    arithmetic = {mx.bfloat16: "bfloat16", mx.float16: np.float16, mx.float32: np.float32}.get(layer.scales.dtype)
    if mode != "affine" or bits not in (4, 8) or arithmetic is None:
        weight = mx.dequantize(layer.weight, layer.scales, layer.biases, group, bits, mode=mode).astype(mx.float32)
        mx.eval(weight)
        return weight, []
    packed = np.asarray(layer.weight)  # reads this layer's codes only (the model is still lazy)
    scales, biases = (np.asarray(a.astype(mx.float32)) for a in (layer.scales, layer.biases))
    out = mx.zeros((packed.shape[0], packed.shape[1] * 32 // bits), dtype=mx.float32)
    mx.eval(out)
    target = np.asarray(out)  # a writable view of the mlx array's memory (mlx's numpy interop)

    def rows(start: int) -> None:
        end = min(start + ROWS_PER_TASK, len(packed))
        _affine(_codes(packed[start:end], bits), scales[start:end], biases[start:end], group, arithmetic,
                target[start:end])

    return out, [pool.submit(rows, start) for start in range(0, len(packed), ROWS_PER_TASK)]


def _codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint32 words -> one uint8 code per weight, in mlx's order (lowest bits first)."""
    octets = np.ascontiguousarray(packed).view(np.uint8)  # little-endian: the lowest byte first
    if bits == 8:
        return octets
    codes = np.empty((*octets.shape[:-1], octets.shape[-1] * 2), np.uint8)
    np.bitwise_and(octets, 15, out=codes[..., 0::2])
    np.right_shift(octets, 4, out=codes[..., 1::2])
    return codes


def _affine(codes: np.ndarray, scales: np.ndarray, biases: np.ndarray, group: int, arithmetic: Any,
            out: np.ndarray) -> None:
    """out = codes * scale + bias per group, each operation rounded as in the scales' dtype."""
    shape = (len(codes), -1, group)
    grouped = out.reshape(shape)
    if arithmetic is np.float16:
        half = codes.reshape(shape).astype(np.float16) * scales[..., None].astype(np.float16)
        np.add(half, biases[..., None].astype(np.float16), out=grouped, casting="unsafe")
        return
    np.multiply(codes.reshape(shape), scales[..., None], out=grouped, casting="unsafe")
    if arithmetic == "bfloat16":
        _round_to_bfloat16(out)
    grouped += biases[..., None]
    if arithmetic == "bfloat16":
        _round_to_bfloat16(out)


def _round_to_bfloat16(values: np.ndarray) -> None:
    """Round float32 ``values`` in place to the nearest bfloat16 (ties to even), as float32."""
    bits = values.view(np.uint32)
    carry = bits >> 16
    carry &= 1
    carry += 0x7FFF
    bits += carry
    bits &= np.uint32(0xFFFF0000)
