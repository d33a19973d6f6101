"""A narrated scene in a cloned voice.

    manim render -ql example_scenes/intro.py Intro

The voice is cloned from voices/espeak.wav (transcript in voices/espeak.txt). Record your own
5-15 s clip and transcript and point ref_audio at it to hear yourself. The model comes from
$MANIM_QWEN_MLX_MODEL (a repo id or a local folder), else the default 1.7B Base model.
"""

from pathlib import Path

from manim import BLUE, DOWN, GREEN, LEFT, RIGHT, UP, YELLOW, Circle, Create, FadeOut, Square, Text, Write
from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService

VOICES = Path(__file__).resolve().parent / "voices"


class Intro(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(QwenMLXService(ref_audio=VOICES / "espeak.wav"))

        title = Text("Shapes", font_size=64).to_edge(UP)
        with self.voiceover(text="Let us draw two shapes.") as tracker:
            self.play(Write(title), run_time=tracker.duration)

        circle = Circle(color=BLUE).shift(LEFT * 2)
        with self.voiceover(text="A circle. Watch it grow.") as tracker:
            self.play(Create(circle), run_time=tracker.duration / 2)
            self.play(circle.animate.scale(1.5), run_time=tracker.duration / 2)

        square = Square(color=GREEN).shift(RIGHT * 2)
        with self.voiceover(text="And a square beside it.") as tracker:
            self.play(Create(square), run_time=tracker.duration)

        caption = Text("Narrated offline with Qwen3-TTS", font_size=32, color=YELLOW).to_edge(DOWN)
        with self.voiceover(text="All of it narrated on your own machine.") as tracker:
            self.play(Write(caption), run_time=tracker.duration)
        self.play(FadeOut(circle, square, title, caption))
