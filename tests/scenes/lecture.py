"""A test file of two narrated scenes written the way people use bookmarks: several per voiceover, one
inside a word, limits, add_voiceover_text with a negative buffer, safe_wait, triple-quoted text, an
f-string. Each scene appends when each bookmark fired to $TEST_REPORT (one JSON object per line)."""

import json
import os
import sys

from manim import BLUE, Circle, Create, FadeIn, FadeOut, Square, Text, Triangle
from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService


def _service() -> QwenMLXService:
    return QwenMLXService(
        model=os.environ["TEST_MODEL"],
        ref_audio=os.environ["TEST_REF"],
        aligner=os.environ.get("TEST_ALIGNER"),
        max_tokens=int(os.environ.get("TEST_FRAMES", "12")),
    )


def _report(scene: VoiceoverScene, times: dict[str, float]) -> None:
    with open(os.environ["TEST_REPORT"], "a") as handle:
        line = {"scene": type(scene).__name__, "bookmarks": times, "mlx_imported": "mlx" in sys.modules}
        handle.write(json.dumps(line) + "\n")


class Shapes(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(_service())
        times: dict[str, float] = {}
        circle, square, triangle = Circle(), Square(color=BLUE), Triangle()
        with self.voiceover(
            text="""First we draw a <bookmark mark='circle'/>circle.
            Then a <bookmark mark='square'/>square appears beside it,
            and at last a <bookmark mark='triangle'/>triangle."""
        ) as tracker:
            self.wait_until_bookmark("circle")
            self.play(Create(circle), run_time=tracker.time_until_bookmark("square", limit=1) or 0.1)
            self.wait_until_bookmark("square")
            self.play(FadeIn(square), run_time=0.1)
            self.wait_until_bookmark("triangle")
            self.play(Create(triangle), run_time=0.1)
            times.update(tracker.bookmark_times)
        with self.voiceover(text="Super<bookmark mark='A'/>califragilistic<bookmark mark='B'/>expialidocious.") as t:
            self.wait_until_bookmark("A")
            self.wait_until_bookmark("B")
            times.update(t.bookmark_times)
        _report(self, times)


class Summary(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(_service())
        times: dict[str, float] = {}
        sides = 4
        label = Text(f"{sides} sides")
        tracker = self.add_voiceover_text(f"A square has {sides} sides and <bookmark mark='corners'/>four corners.")
        self.wait_until_bookmark("corners")
        self.play(FadeIn(label), run_time=0.1)
        self.safe_wait(tracker.get_remaining_duration(buff=-1))
        self.wait_for_voiceover()
        times.update(tracker.bookmark_times)
        with self.voiceover(text="That is <bookmark mark='end'/>all.") as t:
            self.play(FadeOut(label), run_time=t.time_until_bookmark("end", limit=1) or 0.1)
            times.update(t.bookmark_times)
        _report(self, times)
