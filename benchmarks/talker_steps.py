"""Frames per second of our decoding loop at full size: the single-token steps in numpy (the CPU default)
against the same loop with every step in mlx, side by side in one process, on the same prompt and seed.

    .venv/bin/python benchmarks/talker_steps.py FOLDER [--frames 24] [--rounds 3]

FOLDER: a full-size checkpoint (benchmarks/vs_reference.py --checkpoint FOLDER builds one). Also prints
the memory-bandwidth ceiling: the weight bytes one frame reads (the talker once, the code predictor
and one of its heads fifteen times), streamed at the speed of one large numpy matrix-vector product.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import one_row  # noqa: E402 (after the path it needs)


def frame_bytes(model: object) -> int:
    from mlx.utils import tree_flatten

    talker = model.talker  # type: ignore[attr-defined]
    predictor = talker.code_predictor

    def size(module: object) -> int:
        tree = [m.parameters() for m in module] if isinstance(module, list) else module.parameters()  # type: ignore[attr-defined]
        return sum(v.nbytes for _, v in tree_flatten(tree))

    per_group = size(predictor.model) - size(predictor.model.codec_embedding) + size(predictor.lm_head[0])
    if predictor.small_to_mtp_projection is not None:
        per_group += size(predictor.small_to_mtp_projection)
    talker_once = size(talker.model.layers) + size(talker.model.norm)
    return talker_once + size(talker.codec_head) + 15 * per_group


def stream_speed() -> float:
    """Bytes per second one large float32 matrix-vector product reads (the weights, once)."""
    import numpy as np

    matrix, vector = np.ones((16384, 16384), np.float32), np.ones(16384, np.float32)
    matrix @ vector
    started = time.perf_counter()
    for _ in range(5):
        matrix @ vector
    return 5 * matrix.nbytes / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    import mlx.core as mx
    import numpy as np

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.backends.mlx_backend import MlxBackend
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import decode, prompt, sentence

    model = loader.load(args.checkpoint.resolve())
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    built = prompt.build(model, "A circle grows slowly on the screen.", spoken, "auto", False)
    sampling = decode.Sampling(0.9, 50, 1.0, 1.05)
    # The same loaded weights under each backend's steps (the decoder's swaps do not matter here).
    arms = {"numpy steps (default on the CPU)": model, "mlx steps": replace(model, backend=MlxBackend(True, "mlx"))}
    seconds: dict[str, list[float]] = {arm: [] for arm in arms}
    first: dict[str, list[float]] = {arm: [] for arm in arms}  # the prefill and one frame
    codes: dict[str, np.ndarray] = {}

    def timed(steps: Any, frames: int) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        made = one_row.generate(steps, built, sampling, sampling, frames, seed=0).codes
        mx.eval(made)
        return time.perf_counter() - started, np.array(made)

    for _ in range(args.rounds):
        for arm, steps in arms.items():
            first[arm].append(timed(steps, 1)[0])
            elapsed, codes[arm] = timed(steps, args.frames)
            seconds[arm].append(elapsed)
    speed = stream_speed()
    ceiling = speed / frame_bytes(model)
    print(f"0.6B-Base dimensions, random weights, float32: {args.frames} frames after a "
          f"{built.embeds.shape[1]}-token prefill, median of {args.rounds}, arms alternating")
    print("| arm | seconds | frames/s, prefill included | frames/s after the first (steady) |")
    print("|---|---:|---:|---:|")
    steady = {}
    for arm, values in seconds.items():
        median = statistics.median(values)
        steady[arm] = (args.frames - 1) / (median - statistics.median(first[arm]))
        print(f"| {arm} | {median:.2f} | {args.frames / median:.2f} | {steady[arm]:.2f} |")
    fast, slow = (statistics.median(v) for v in seconds.values())
    print(f"numpy / mlx steps: {slow / fast:.2f}x faster; codes identical: "
          f"{np.array_equal(*codes.values())}")
    rate = steady[next(iter(arms))]
    print(f"ceiling: {frame_bytes(model) / 1e9:.2f} GB of weights per frame at {speed / 1e9:.1f} GB/s "
          f"= {ceiling:.2f} frames/s; numpy steps reach {rate / ceiling:.0%} of it (steady)")


if __name__ == "__main__":
    main()
