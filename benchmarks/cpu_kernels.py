"""Why the CPU path leaves mlx for numpy in two places: a one-row matrix product (every single-token step
of the talker and code predictor) and ``sin`` (the decoder's Snake activations), mlx against numpy on
the same data, side by side in one process.

    .venv/bin/python benchmarks/cpu_kernels.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(work: Callable[[], object], rounds: int = 5) -> float:
    work()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from manim_qwen_mlx.backends.blas import prepare_blas

    blas = prepare_blas()
    import mlx.core as mx
    import numpy as np

    # 40 different 3072 x 1024 float32 matrices (a gate projection's shape), 480 MB: more than any cache.
    weights = [mx.random.normal((3072, 1024)) for _ in range(40)]
    mx.eval(weights)
    views = [np.asarray(w) for w in weights]
    row = mx.random.normal((1, 1024))
    vector = np.asarray(row).reshape(-1)
    size = sum(w.nbytes for w in views)
    mlx_time = seconds(lambda: mx.eval([row @ w.T for w in weights]))  # what nn.Linear does for one token
    numpy_time = seconds(lambda: [w @ vector for w in views])
    print(f"BLAS: {blas}")
    print("one-row product with 40 matrices of 3072 x 1024 float32 (weights streamed once):")
    print(f"  mlx   x @ W.T  {mlx_time * 1e3:7.1f} ms  {size / mlx_time / 1e9:5.1f} GB/s")
    print(f"  numpy W @ x    {numpy_time * 1e3:7.1f} ms  {size / numpy_time / 1e9:5.1f} GB/s")
    print(f"  numpy / mlx: {mlx_time / numpy_time:.2f}x faster")
    samples = np.random.default_rng(0).normal(0.0, 3.0, (190_080, 96)).astype(np.float32)  # 7.9 s at 24 kHz
    held = mx.array(samples)
    out = np.empty_like(samples)
    mlx_sin = seconds(lambda: mx.eval(mx.sin(held)))
    numpy_sin = seconds(lambda: np.sin(samples, out=out))
    print(f"sin over {samples.size:,} float32 values (the last decoder block's activations for 7.9 s of audio):")
    print(f"  mlx   {mlx_sin * 1e3:7.1f} ms  {mlx_sin / samples.size * 1e9:5.2f} ns per value")
    print(f"  numpy {numpy_sin * 1e3:7.1f} ms  {numpy_sin / samples.size * 1e9:5.2f} ns per value")
    print(f"  numpy / mlx: {mlx_sin / numpy_sin:.1f}x faster")


if __name__ == "__main__":
    main()
