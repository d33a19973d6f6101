"""Batch vs one-by-one generation for one voice: the same narrations at batch 1, 2, 4 and 8.

    .venv/bin/python benchmarks/batch.py [--segments 8] [--frames 12] [--model FOLDER]

Without --model it builds the tiny random test checkpoint. On a GPU batching wins; on the CPU it may
lose, which is why `precache --batch-size` defaults to 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.synthesis import engine

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        if args.model is None:
            sys.path.insert(0, str(REPO / "tests"))
            from fixtures.tiny_qwen3_tts import build_checkpoint

            args.model = build_checkpoint(Path(tmp) / "tiny")
        ref = ModelRef.resolve(args.model)
        voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
        settings = SynthesisSettings(max_tokens=args.frames)
        texts = [f"Segment number {i} of the batch benchmark." for i in range(args.segments)]
        engine.synthesize(texts[0], voice, settings, ref)  # load and encode the reference first
        times = {}
        started = time.perf_counter()
        for text in texts:
            engine.synthesize(text, voice, settings, ref)
        times[1] = time.perf_counter() - started
        for size in (2, 4, 8):
            started = time.perf_counter()
            engine.synthesize_many(texts, voice, settings, ref, batch_size=size)
            times[size] = time.perf_counter() - started
    print(
        f"{args.segments} narrations, {args.frames} frames each, model {Path(args.model).name}, "
        f"BLAS: {blas.prepare_blas()}"
    )
    print(f"{'batch size':<12}{'seconds':>9}{'vs batch 1':>12}")
    for size, seconds in times.items():
        print(f"{size:<12}{seconds:>9.2f}{times[1] / seconds:>11.2f}x")


if __name__ == "__main__":
    main()
