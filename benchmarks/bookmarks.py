"""Word-timing figures: the aligner's cost per second of audio, and the estimate's error.

    .venv/bin/python benchmarks/bookmarks.py

1. Cost: the tiny random forced aligner from the test suite aligns a 10 s clip in five 2 s sentences.
2. Error: a sentence spoken word by word by espeak-ng (apt package espeak-ng), joined with short
   gaps, so every word's true start is known; the proportional estimate is compared with it.
   (The tiny aligner's times are random, so only the estimate can be scored on this machine.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
RATE = 24_000
SENTENCE = "The quick brown fox jumps over the lazy dog while seven small birds watch quietly"


def aligner_cost(work: Path) -> float:
    from fixtures.tiny_forced_aligner import build_aligner

    from manim_qwen_mlx.companions import aligner
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.timing import Span

    model = aligner.load(ModelRef.resolve(build_aligner(work / "aligner")), allow_download=False)
    text = " ".join(["one two three four five"] * 5)
    spans = [Span(i * 24, i * 24 + 23, i * 2 * RATE, (i + 1) * 2 * RATE) for i in range(5)]
    samples = np.random.default_rng(0).normal(0, 0.1, 10 * RATE).astype(np.float32)
    aligner.align(model, samples, RATE, text, spans, "english")  # warm-up
    started = time.perf_counter()
    for _ in range(5):
        aligner.align(model, samples, RATE, text, spans, "english")
    return (time.perf_counter() - started) / 5 / 10.0


def estimate_error(work: Path) -> tuple[float, float, int]:
    import soundfile as sf

    from manim_qwen_mlx.audio import resample
    from manim_qwen_mlx.audio.dsp import speech_bounds
    from manim_qwen_mlx.core.timing import Span, estimate

    gap = np.zeros(int(0.08 * RATE), dtype=np.float32)
    pieces, truth = [], []
    position = 0
    for index, word in enumerate(SENTENCE.split()):
        wav = work / f"w{index}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), word], check=True)
        data, rate = sf.read(wav, dtype="float32")
        data = resample(data, rate, RATE)
        bounds = speech_bounds(data)
        assert bounds is not None
        data = data[bounds[0] : bounds[1]]
        if pieces:
            pieces.append(gap)
            position += len(gap)
        truth.append(position / RATE)
        pieces.append(data)
        position += len(data)
    timed = estimate(SENTENCE, [Span(0, len(SENTENCE), 0, position)], RATE)
    errors = np.abs(np.array([w.start for w in timed]) - np.array(truth)) * 1000
    return float(errors.mean()), float(errors.max()), len(truth)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bookmarks-") as tmp:
        work = Path(tmp)
        cost = aligner_cost(work)
        print(f"tiny aligner: {cost * 1000:.1f} ms per second of audio (10 s clip, 5 sentences)")
        if shutil.which("espeak-ng") is None:
            print("estimate error: skipped (install espeak-ng)")
            return
        mean, worst, count = estimate_error(work)
        print(f"estimate error on {count} espeak-ng words: mean {mean:.0f} ms, max {worst:.0f} ms")


if __name__ == "__main__":
    main()
