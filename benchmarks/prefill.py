"""The talker's prefill of a cloned voice's prompt: mlx-audio's forward pass (what the numpy-cpu backend
ran before) against the numpy prefill it runs now (one product per projection over the prompt's tokens),
side by side in one process, alternating, with how far apart their results are.

    .venv/bin/python benchmarks/prefill.py FOLDER [--rounds 5]

FOLDER: a checkpoint (benchmarks/vs_reference.py --checkpoint FOLDER builds the 0.6B-Base dimensions).
The prompt: the example voice's 6 s clip and its transcript, then one sentence (about 140 tokens).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["A circle grows slowly on the screen.", "Then a square appears beside it.", "The two shapes meet."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    import mlx.core as mx
    import numpy as np

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import prompt, sentence

    model = loader.load(args.checkpoint.resolve())
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    steps = model.steps()
    talker = steps.model.talker  # type: ignore[attr-defined]
    times: dict[str, list[float]] = {"mlx forward": [], "numpy prefill": []}
    worst = 0.0
    for round_ in range(args.rounds):
        built = prompt.build(model, TEXTS[round_ % len(TEXTS)], spoken, "auto", False)
        mx.eval(built.embeds)
        cache = talker.make_cache()
        started = time.perf_counter()
        logits, _ = talker(built.embeds, cache=cache)
        mx.eval(logits, [layer.keys for layer in cache], [layer.values for layer in cache])
        times["mlx forward"].append(time.perf_counter() - started)
        started = time.perf_counter()
        row = steps.start([built], [8])[0]
        times["numpy prefill"].append(time.perf_counter() - started)
        reference = np.asarray(logits[0, -1])
        worst = max(worst, float(np.abs(np.asarray(row.logits[0]) - reference).max() / np.abs(reference).max()))
    tokens = built.embeds.shape[1]
    print(f"{args.checkpoint.name}: prompt of about {tokens} tokens, median of {args.rounds} rounds, alternating")
    for arm, seconds in times.items():
        print(f"{arm:<14} {statistics.median(seconds):6.2f} s")
    ratio = statistics.median(times["mlx forward"]) / statistics.median(times["numpy prefill"])
    print(f"numpy prefill is {ratio:.2f}x as fast; last-token logits differ by at most {worst:.1e} (relative)")


if __name__ == "__main__":
    main()
