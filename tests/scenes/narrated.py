"""A test scene: two voiceovers in a cloned voice; records what the trackers saw."""

import json
import os
import sys

from manim import Circle, Create, Square
from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService


class Narrated(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(
            QwenMLXService(
                model=os.environ["TEST_MODEL"],
                ref_audio=os.environ["TEST_REF"],
                max_tokens=int(os.environ.get("TEST_FRAMES", "6")),
            )
        )
        seen = []
        for text, shape in [
            ("A circle. Watch it grow.", Circle()),
            ("And a <bookmark mark='sq'/>square.", Square()),
        ]:
            with self.voiceover(text=text) as tracker:
                self.play(Create(shape), run_time=tracker.duration)
                seen.append({"duration": tracker.duration, "audio": tracker.data["final_audio"]})
        with open(os.environ["TEST_REPORT"], "w") as handle:
            json.dump({"voiceovers": seen, "mlx_imported": "mlx" in sys.modules}, handle)
