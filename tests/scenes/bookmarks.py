"""A test scene: one narration with two bookmarks; records when each bookmark fired."""

import json
import os
import sys

from manim import Circle, Create, Square
from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService


class Bookmarks(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(
            QwenMLXService(
                model=os.environ["TEST_MODEL"],
                ref_audio=os.environ["TEST_REF"],
                aligner=os.environ["TEST_ALIGNER"],
                max_tokens=int(os.environ.get("TEST_FRAMES", "20")),
            )
        )
        text = "This is a <bookmark mark='A'/>circle and this is a <bookmark mark='B'/>square."
        with self.voiceover(text=text) as tracker:
            self.wait_until_bookmark("A")
            self.play(Create(Circle()), run_time=0.2)
            self.wait_until_bookmark("B")
            self.play(Create(Square()), run_time=0.2)
            times = dict(tracker.bookmark_times)
            duration = tracker.duration
        with open(os.environ["TEST_REPORT"], "w") as handle:
            json.dump({"bookmarks": times, "duration": duration, "mlx_imported": "mlx" in sys.modules}, handle)
