"""A test scene of four narrations in one voice; "A." is short enough that the tiny random model
(which never says end-of-speech) runs into its frame ceiling, a real runaway, when TEST_FRAMES is 30."""

import os

from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService

TEXTS = (
    "A.",
    "This first sentence is long enough to be cut.",
    "And a second one that is also rather long.",
    "The third one, long as well, ends the scene.",
)


class Runaway(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(
            QwenMLXService(model=os.environ["TEST_MODEL"], ref_audio=os.environ["TEST_REF"], max_tokens=30)
        )
        for text in TEXTS:
            with self.voiceover(text=text):
                pass
