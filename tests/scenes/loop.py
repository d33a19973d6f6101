"""Narration built at run time: a loop, a second voice per call, and a duration-dependent text."""

import json
import os
import sys

from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService


class Loop(VoiceoverScene):
    def construct(self) -> None:
        frames = int(os.environ.get("TEST_FRAMES", "6"))
        self.set_speech_service(
            QwenMLXService(model=os.environ["TEST_MODEL"], ref_audio=os.environ["TEST_REF"], max_tokens=frames)
        )
        seen = []
        for step in range(1, int(os.environ.get("TEST_STEPS", "3")) + 1):
            with self.voiceover(text=f"Step {step} of the loop.") as tracker:
                self.wait(tracker.duration)
                seen.append(tracker.data["final_audio"])
        with self.voiceover(
            text="Now in another voice.", ref_audio=os.environ["TEST_REF2"], ref_text="Another voice."
        ) as tracker:
            self.wait(tracker.duration)
            last = tracker.duration
        with self.voiceover(text=f"That took {last:.2f} seconds.") as tracker:
            self.wait(tracker.duration)
        report = os.environ.get("TEST_REPORT")
        if report:
            with open(report, "w") as handle:
                json.dump({"audio": seen, "mlx_imported": "mlx" in sys.modules}, handle)
