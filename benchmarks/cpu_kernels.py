"""Why the CPU path leaves mlx for numpy in two places: a one-row matrix product (every single-token step
of the talker and code predictor) and ``sin`` (the decoder's Snake activations), mlx against numpy on
the same data, side by side in one process. Then the steps' product over a few rows: our kernel
(``rows_kernel``) against OpenBLAS (one matrix-vector product a row below 4 rows, ``W @ X^T`` from 4),
on the same matrices, alternating, and whether each row's values are the same bits alone. Last, one new
token's attention for rows with a store each (the talker's layers and heads, about 130 tokens a row): the
attention kernel (``attention_kernel``) against numpy's products a row. Last, a prompt's prefill products (a
talker layer's seven, at 86 and 160 tokens): OpenBLAS's own threads over the whole product against
single-threaded pieces shared by the workers (``workers``), whether each gives the same bits on one
thread and on two, and what joining eight prompts' tokens into one product would buy, and whether a
prompt's rows keep their bits there (they do not: each row's prefill stays its own product).

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
    rows_products(views)
    rows_attention()
    prefill_pieces()


def rows_products(views: list[object]) -> None:
    import numpy as np

    from manim_qwen_mlx.backends.numpy_cpu import rows_kernel, stack

    rng = np.random.default_rng(0)
    print("a step's product over R rows with the same 40 matrices, median of 5 each, kernel and BLAS alternating:")
    print("| rows | kernel | OpenBLAS | OpenBLAS / kernel | each row's kernel values the same bits alone |")
    print("|---:|---:|---:|---:|---|")
    for count in (1, 2, 4, 8, 16, 32):
        rows = rng.standard_normal((count, 1024), dtype=np.float32)
        kernel = blas = 0.0
        for _ in range(2):  # alternating halves, so the VM's swings reach both
            kernel += seconds(lambda rows=rows: [rows_kernel.rows_times(w, rows) for w in views])
            blas += seconds(lambda rows=rows: [stack._blas_rows(w, rows) for w in views])
        together = rows_kernel.rows_times(views[0], rows)
        alone = all(np.array_equal(together[i], rows_kernel.rows_times(views[0], rows[i : i + 1])[0])
                    for i in range(count))
        print(f"| {count} | {kernel / 2 * 1e3:.1f} ms | {blas / 2 * 1e3:.1f} ms | {blas / kernel:.2f}x | {alone} |")


def rows_attention() -> None:
    from types import SimpleNamespace

    import numpy as np

    from manim_qwen_mlx.backends.numpy_cpu import attention_kernel, stack

    layers, kv_heads, heads, size = 28, 8, 16, 128  # the 0.6B talker's
    rng = np.random.default_rng(1)
    plain = SimpleNamespace(heads=heads, kv_heads=kv_heads, head_dim=size)
    print("one token's attention over R rows' own stores, 28 layers (a frame's), median of 5 each, alternating:")
    print("| rows | kernel | numpy | numpy / kernel |")
    print("|---:|---:|---:|---:|")
    for count in (1, 8, 16):
        shape = (layers, 1, kv_heads, 200, size)
        keys, values = ([rng.standard_normal(shape, dtype=np.float32) for _ in range(count)] for _ in range(2))
        stores = [stack.Store(k, v, 120 + 3 * i) for i, (k, v) in enumerate(zip(keys, values, strict=True))]
        q = rng.standard_normal((count, heads, size), dtype=np.float32)
        lengths = np.array([s.length + 1 for s in stores], np.int64)
        gathered = attention_kernel.RowStores([s.keys for s in stores], [s.values for s in stores], lengths)
        kernel = numpy = 0.0
        for _ in range(2):
            kernel += seconds(lambda g=gathered, q=q: [g.attend(q, i, size**-0.5) for i in range(layers)])
            numpy += seconds(lambda q=q, st=stores: [stack.Stack._store_attention(plain, i, q, st)  # type: ignore[arg-type]
                                                     for i in range(layers)])
        print(f"| {count} | {kernel / 2 * 1e3:.1f} ms | {numpy / 2 * 1e3:.1f} ms | {numpy / kernel:.2f}x |")


def prefill_pieces() -> None:
    import os

    import numpy as np
    from threadpoolctl import ThreadpoolController

    from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS

    rng = np.random.default_rng(2)
    shapes = [(2048, 1024), (1024, 1024), (1024, 1024), (1024, 2048), (3072, 1024), (3072, 1024), (1024, 3072)]
    weights = [rng.standard_normal(shape, dtype=np.float32) for _ in range(8) for shape in shapes]  # 8 layers
    numpy_blas = ThreadpoolController().select(filepath=WORKERS.held) if WORKERS.held else None
    cores = os.cpu_count() or 1

    def whole(x: np.ndarray, threads: int) -> list[np.ndarray]:
        if numpy_blas is None:
            return [(w @ x[:, : w.shape[1]].T).T for w in weights]
        with numpy_blas.limit(limits=threads):
            return [(w @ x[:, : w.shape[1]].T).T for w in weights]

    def pieces(x: np.ndarray, threads: int) -> list[np.ndarray]:
        WORKERS.resize(threads)
        try:
            return [WORKERS.product(x[:, : w.shape[1]], w) for w in weights]
        finally:
            WORKERS.resize(cores)

    print(f"a prefill's products (8 talker layers' 7), {cores} threads, median of 5 each, alternating:")
    print("| tokens | OpenBLAS's threads | pieces | speed-up | same bits on 1 and 2 threads: OpenBLAS, pieces |")
    print("|---:|---:|---:|---:|---|")
    for tokens in (86, 160):
        x = rng.standard_normal((tokens, 3072), dtype=np.float32)
        flops = 2 * tokens * sum(w.size for w in weights)
        blas = split = 0.0
        for _ in range(2):
            blas += seconds(lambda x=x: whole(x, cores))
            split += seconds(lambda x=x: pieces(x, cores))
        same = [all(np.array_equal(a, b) for a, b in zip(f(x, 1), f(x, 2), strict=True)) for f in (whole, pieces)]
        print(f"| {tokens} | {flops / blas * 2 / 1e9:.0f} GFLOP/s | {flops / split * 2 / 1e9:.0f} GFLOP/s | "
              f"{blas / split:.2f}x | {same[0]}, {same[1]} |")
    prompts = [rng.standard_normal((tokens, 3072), dtype=np.float32) for tokens in (86, 93, 101, 88, 95, 90, 97, 92)]
    joined = np.concatenate(prompts)
    alone = together = 0.0
    for _ in range(2):
        alone += seconds(lambda: [pieces(x, cores) for x in prompts])
        together += seconds(lambda: pieces(joined, cores))
    flops = 2 * len(joined) * sum(w.size for w in weights)
    outputs, first, kept = pieces(joined, cores), 0, 0
    for x in prompts:
        rows = [a[first : first + len(x)] for a in outputs]
        kept += all(np.array_equal(a, b) for a, b in zip(rows, pieces(x, cores), strict=True))
        first += len(x)
    print(f"eight prompts ({len(joined)} tokens), pieces: one product a prompt {flops / alone * 2 / 1e9:.0f} GFLOP/s, "
          f"joined {flops / together * 2 / 1e9:.0f} GFLOP/s ({alone / together:.2f}x); "
          f"prompts whose rows keep their bits joined: {kept}/{len(prompts)}")


if __name__ == "__main__":
    main()
