"""Making a loaded model float32. mlx-community's checkpoints are 8-bit (or 4/6-bit) Linear layers with
bfloat16 for the rest, made for Apple GPUs; on the CPU, MLX's kernels for them are far slower than
float32 ones (docs/performance.md), so the CPU backends dequantize and widen the weights once, at load
(``backends.choose`` decides; ``MANIM_QWEN_MLX_PRECISION=keep`` keeps the stored precision).

Layer by layer and at once, not lazily: each quantized layer's arrays are read (from the file, while the
model is still lazy), dequantized into its float32 buffer and dropped before the next, so the first
narration pays nothing and the quantized copy never sits beside the float32 one. The 4- and 8-bit
affine formats dequantize in numpy on every core (MLX's CPU kernel takes one), into the float32 mlx
array's own memory: ``scale * code + bias`` in float32, the weight the format defines and what MLX's
quantized matrix kernels accumulate on a GPU. (``mx.dequantize`` with bfloat16 scales rounds each weight
to bfloat16 as well; emulating that cost five more passes over every weight, for a less exact model.)
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
    buffers = Buffers([_numpy_shape(child) for child in (tree.child(*site) for site in sites)
                       if isinstance(child, quantized)])
    dequantized = dropped = 0
    pending: Pending | None = None
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        for container, key in sites:
            child = tree.child(container, key)
            if isinstance(child, quantized):
                # This layer is read and its float32 buffer made while the pool fills the previous one.
                started = Pending.start(container, key, child, pool, buffers.take())
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
    def start(cls, container: Any, key: Any, layer: Any, pool: ThreadPoolExecutor, out: Any) -> Pending:
        weight, tasks = dequantize(layer, pool, out)
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


class Buffers:
    """The float32 buffers of the quantized layers to come, made ahead on two CPU streams: first touches of
    fresh memory are most of a conversion's time, and two threads make them faster than one."""

    AHEAD = 2

    def __init__(self, shapes: list[tuple[int, int] | None]) -> None:
        import mlx.core as mx

        self.shapes, self.made, self.taken = shapes, dict[int, Any](), 0
        self.streams = [mx.new_stream(mx.cpu) for _ in range(2)] if any(shapes) else []

    def take(self) -> Any:
        """The next layer's zero buffer (None where mlx dequantizes it); the ones after it started."""
        import mlx.core as mx

        index, self.taken = self.taken, self.taken + 1
        for ahead in range(index, min(index + 1 + self.AHEAD, len(self.shapes))):
            shape = self.shapes[ahead]
            if shape is not None and ahead not in self.made:
                self.made[ahead] = mx.zeros(shape, dtype=mx.float32, stream=self.streams[ahead % 2])
                mx.async_eval(self.made[ahead])  # type: ignore[no-untyped-call]
        return self.made.pop(index, None)


def _numpy_shape(layer: Any) -> tuple[int, int] | None:
    """The float32 weight's shape of a layer numpy dequantizes (affine, 4 or 8 bits), else None."""
    bits = int(layer.bits)
    if getattr(layer, "mode", "affine") != "affine" or bits not in (4, 8):
        return None
    rows, words = layer.weight.shape
    return int(rows), int(words) * 32 // bits


def dequantize(layer: Any, pool: ThreadPoolExecutor, out: Any = None) -> tuple[Any, list[Future[None]]]:
    """A quantized layer's weight as a float32 mlx array (into ``out``, a zero buffer of its shape, when
    given), and the pool's tasks that fill it (none when mlx made it)."""
    import mlx.core as mx

    bits, group, shape = int(layer.bits), int(layer.group_size), _numpy_shape(layer)
    if shape is None:
        mode = getattr(layer, "mode", "affine")
        # Affine: float32 scales, as numpy's path computes; other modes' scales are not plain floats.
        scales, biases = (layer.scales, layer.biases) if mode != "affine" else (
            layer.scales.astype(mx.float32), layer.biases.astype(mx.float32))
        weight = mx.dequantize(layer.weight, scales, biases, group, bits, mode=mode).astype(mx.float32)
        mx.eval(weight)
        return weight, []
    packed = np.asarray(layer.weight)  # reads this layer's codes only (the model is still lazy)
    scales, biases = (np.asarray(a.astype(mx.float32)) for a in (layer.scales, layer.biases))
    out = mx.zeros(shape, dtype=mx.float32) if out is None else out
    mx.eval(out)
    target = np.asarray(out)  # a writable view of the mlx array's memory (mlx's numpy interop)

    def rows(start: int) -> None:
        end = min(start + ROWS_PER_TASK, len(packed))
        grouped = target[start:end].reshape(end - start, -1, group)
        np.multiply(_codes(packed[start:end], bits).reshape(grouped.shape), scales[start:end, :, None], out=grouped,
                    casting="unsafe")
        grouped += biases[start:end, :, None]

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
