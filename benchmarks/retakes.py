"""What a take that fails its checks costs the rows in flight: 8 narrations at batch 8 (tiny checkpoint, the
example clone), two short ones among six long ones, where a check rejects the two short ones' first takes,
against the same run with no rejection. Each retake goes back into the scheduler's queue with its next seed,
so the long rows go on beside it; the extra time should be about the retakes' own frames at the batch's
pace, not the long rows stalled while the retakes run alone. Each arm ``--runs`` times, alternating, in one
process (the model loaded and warmed up once).

    .venv/bin/python benchmarks/retakes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
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

    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.synthesis import engine, quality, scheduler, takes

    folder = build_checkpoint(Path(tempfile.mkdtemp()) / "tiny", "base")
    ref = ModelRef.resolve(str(folder))
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    checking = takes.Checking(quality.Thresholds(2.0, 0.0, 1.0), 3, pace=True, verify=False)
    narrations = [engine.Narrate(text, voice, SynthesisSettings(seed=i, max_tokens=SHORT if i < 2 else LONG), checking)
                  for i, text in enumerate(TEXTS)]
    rejected: set[str] = set()
    frames = [0]
    real_judge, real_results = takes.Takes.judge, scheduler.Scheduler.results

    def judge(self: takes.Takes, speech: engine.Speech) -> bool:
        again = real_judge(self, speech)
        if self.spoken in rejected and len(self.made) == 1:  # the check says no to this first take
            first = self.made[0]
            self.made[0] = (first[0], first[1], ["rejected by the benchmark"], first[3])
            return True
        return again

    def counted(self: scheduler.Scheduler[object]) -> object:
        for done in real_results(self):
            frames[0] += int(done.codes.codes.shape[0])
            yield done

    takes.Takes.judge = judge  # type: ignore[method-assign]
    scheduler.Scheduler.results = counted  # type: ignore[assignment,method-assign]

    def run(reject: bool) -> tuple[float, int]:
        rejected.clear()
        rejected.update(TEXTS[:2] if reject else [])
        frames[0] = 0
        started = time.perf_counter()
        made = dict(engine.synthesize_many(narrations, ref, batch_size=8))
        assert all(isinstance(speech, engine.Speech) for speech in made.values())
        return time.perf_counter() - started, frames[0]

    run(True)  # warm-up: the model, the voice, every row count's compiled graphs
    times: dict[bool, list[float]] = {False: [], True: []}
    made: dict[bool, int] = {}
    for _ in range(args.runs):
        for reject in (False, True):
            seconds, made[reject] = run(reject)
            times[reject].append(seconds)
    plain, retaken = statistics.median(times[False]), statistics.median(times[True])
    extra = made[True] - made[False]
    pace = made[False] / plain  # rows x frames a second at this batch, no rejection
    print(f"8 narrations at batch 8 (2 x {SHORT} frames, 6 x {LONG}), median of {args.runs}")
    print("| run | s (range) | rows x frames made |")
    print("|---|---:|---:|")
    for reject, label in ((False, "no rejection"), (True, "two first takes rejected")):
        print(f"| {label} | {statistics.median(times[reject]):.2f} ({min(times[reject]):.2f}-{max(times[reject]):.2f}) "
              f"| {made[reject]} |")
    print(f"\nextra time {retaken - plain:+.2f} s for {extra} retake row-frames; those frames at the batch's own pace "
          f"({pace:.0f} row-frames/s) would take {extra / pace:.2f} s; run alone after the batch, each retake's "
          f"{SHORT} frames would hold the six long rows for that long.")


if __name__ == "__main__":
    main()
