"""The mlx backend's code predictor steps under ``mx.compile`` against the same steps uncompiled.

Every frame starts the code predictor afresh, so the shapes of its 15 steps repeat frame after frame and
one compiled graph per step (and row count) serves them all (``MlxSteps._predictor_step``). This runs
benchmarks/batch.py's workload on the mlx backend (``MANIM_QWEN_MLX_FAST_CPU=0``) with
``mlx_backend.COMPILE_PREDICTOR`` off and on, each arm and batch size in a fresh process, the arms
alternating, and prints rows x frames/s. The tiny checkpoint's figures measure per-step overhead, a proxy
for what bounds Apple GPUs.

    .venv/bin/python benchmarks/compile_predictor.py [--rows 16] [--frames 24] [--sizes 1,8,16] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sizes", default="1,8,16")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    import batch

    if args.worker:
        arm, folder, rows, frames, size, codes_out = args.worker
        from manim_qwen_mlx.backends import mlx_backend

        mlx_backend.COMPILE_PREDICTOR = arm == "compiled"
        batch.worker(folder, int(rows), int(frames), int(size), codes_out)
        return
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_qwen3_tts import build_checkpoint

    sizes = [int(size) for size in args.sizes.split(",")]
    env = {**os.environ, "MANIM_QWEN_MLX_FAST_CPU": "0"}
    rates: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        folder = build_checkpoint(Path(tmp) / "tiny")
        for _ in range(args.runs):
            for size in sizes:
                for arm in ("as is", "compiled"):
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", arm, str(folder), str(args.rows), str(args.frames),
                         str(size), str(Path(tmp) / "codes.npy")], capture_output=True, text=True, check=True, env=env)
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    rates.setdefault((arm, size), []).append(result["frames"] / result["seconds"])
    print(f"tiny checkpoint, mlx backend on the CPU: {args.rows} rows x {args.frames} frames, rows x frames/s, "
          f"each of {args.runs} runs (arms alternating)")
    print("| batch | as is | compiled | compiled / as is (median) |")
    print("|---:|---|---|---:|")
    for size in sizes:
        plain, fast = (sorted(rates[(arm, size)]) for arm in ("as is", "compiled"))
        ratio = fast[len(fast) // 2] / plain[len(plain) // 2]
        print(f"| {size} | {', '.join(f'{r:.1f}' for r in plain)} | {', '.join(f'{r:.1f}' for r in fast)} | "
              f"{ratio:.2f}x |")


if __name__ == "__main__":
    main()
