"""What a take that fails its checks costs the rows in flight: 8 narrations at batch 8 (tiny checkpoint, the
example clone), two short ones among six long ones, through ``narration.ensure_batch`` (what ``precache``
runs), where a check rejects the two short ones' first takes, against the same run with no rejection. Each
retake goes back into the scheduler's queue with its next seed, so the long rows go on beside it: the
rejections should cost at most what the two retakes cost alone (the third arm), not the long rows stalled
while the retakes run. The check is the voice-similarity check (``verify``) with the score made up by the
benchmark, so no second model is needed. Each arm ``--runs`` times, alternating, in one process (the model
loaded and warmed up once), each run into a fresh cache.

    .venv/bin/python benchmarks/retakes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]
SHORT, LONG = 12, 48  # frames: the rejected narrations, and the rows that go on beside their retakes
TEXTS = ["A circle grows.", "Then a square.", "The two shapes meet in the middle of the screen.",
         "Now watch the area of the circle as it grows.", "It is pi times the radius squared, as always.",
         "The square's side is two, so its area is four.", "Which one is larger, the circle or the square?",
         "We will find out in a moment, once both are drawn."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    from fixtures.tiny_qwen3_tts import build_checkpoint

    from manim_qwen_mlx.cache import NarrationCache
    from manim_qwen_mlx.core.defaults import TAKE_SEED_STEP
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.synthesis import quality, takes
    from manim_qwen_mlx.voiceover import narration

    folder = build_checkpoint(Path(tempfile.mkdtemp()) / "tiny", "base")
    ref = ModelRef.resolve(str(folder))
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    checking = takes.Checking(quality.Thresholds(2.0, 0.5, 1.0), 3, pace=True, verify=True)
    said = [narration.Narration(text, text, voice, SynthesisSettings(seed=i, max_tokens=SHORT if i < 2 else LONG),
                                ref, checking=checking) for i, text in enumerate(TEXTS)]
    rejected: set[str] = set()
    judged: set[str] = set()

    def made_up(spoken: str, *args: object) -> quality.Scores:  # the check says no to a rejected first take
        first = spoken not in judged
        judged.add(spoken)
        return quality.Scores(None, 0.0 if first and spoken in rejected else 1.0)

    takes._verify = made_up  # type: ignore[assignment]

    def run(items: list[narration.Narration], reject: bool) -> float:
        rejected.clear()
        rejected.update(TEXTS[:2] if reject else [])
        judged.clear()
        cache = NarrationCache(Path(tempfile.mkdtemp()) / "cache")
        started = time.perf_counter()
        done = dict(narration.ensure_batch([(cache, item) for item in items], 8))
        assert len(done) == len(items) and all(isinstance(outcome, tuple) for outcome in done.values())
        return time.perf_counter() - started

    retakes = [replace(item, settings=item.settings.with_overrides(seed=item.settings.seed + TAKE_SEED_STEP),
                       checking=None) for item in said[:2]]
    arms: dict[str, Callable[[], float]] = {
        "no rejection": lambda: run(said, False),
        "two first takes rejected": lambda: run(said, True),
        "the two retakes alone": lambda: run(retakes, False),
    }
    for go in arms.values():  # warm-up: the model, the voice, every row count's compiled graphs
        go()
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    for _ in range(args.runs):
        for arm, go in arms.items():
            times[arm].append(go())
    median = {arm: statistics.median(values) for arm, values in times.items()}
    print(f"8 narrations at batch 8 (2 x {SHORT} frames, 6 x {LONG}), median of {args.runs}, seconds (range)")
    print("| run | s |")
    print("|---|---:|")
    for arm, values in times.items():
        print(f"| {arm} | {median[arm]:.2f} ({min(values):.2f}-{max(values):.2f}) |")
    extra = median["two first takes rejected"] - median["no rejection"]
    print(f"\nthe rejections cost {extra:+.2f} s; the two retakes alone take {median['the two retakes alone']:.2f} s")


if __name__ == "__main__":
    main()
