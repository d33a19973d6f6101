"""A bookmarked lecture of 18 voiceovers, written as a user writes one: MathTex, axes and graphs, a
tangent that moves with a ValueTracker, f-strings, a loop of narrations, bookmarks in most of them.
Used by benchmarks/collect_vs_render.py; the model and voice come from the environment."""

import os

import numpy as np
from manim import (
    BLUE,
    DOWN,
    GREEN,
    LEFT,
    RIGHT,
    UP,
    YELLOW,
    Axes,
    Create,
    Dot,
    FadeIn,
    FadeOut,
    MathTex,
    Tex,
    Transform,
    ValueTracker,
    VGroup,
    Write,
    always_redraw,
)
from manim_voiceover import VoiceoverScene

from manim_qwen_mlx import QwenMLXService


class DerivativeLecture(VoiceoverScene):
    def construct(self) -> None:
        self.set_speech_service(
            QwenMLXService(
                model=os.environ["LECTURE_MODEL"],
                ref_audio=os.environ["LECTURE_REF"],
                max_tokens=int(os.environ.get("LECTURE_FRAMES", "40")),
            )
        )
        title = Tex(r"The derivative").scale(1.4)
        with self.voiceover(text="Today we meet <bookmark mark='title'/>the derivative, the slope of a curve.") as t:
            self.wait_until_bookmark("title")
            self.play(Write(title), run_time=t.get_remaining_duration(buff=-0.2))
        self.play(FadeOut(title))

        axes = Axes(x_range=[-1, 4, 1], y_range=[-1, 9, 2], x_length=7, y_length=5).to_edge(LEFT)
        graph = axes.plot(lambda x: x**2, x_range=[-0.5, 3], color=BLUE)
        label = MathTex("f(x) = x^2").next_to(axes, UP)
        with self.voiceover(text="Take the <bookmark mark='axes'/>axes and the <bookmark mark='curve'/>parabola.") as t:
            self.wait_until_bookmark("axes")
            self.play(Create(axes), run_time=t.time_until_bookmark("curve", limit=2) or 0.5)
            self.wait_until_bookmark("curve")
            self.play(Create(graph), Write(label), run_time=1)

        x = ValueTracker(1.0)
        dot = always_redraw(lambda: Dot(axes.c2p(x.get_value(), x.get_value() ** 2), color=YELLOW))
        tangent = always_redraw(
            lambda: axes.plot(
                lambda s: 2 * x.get_value() * (s - x.get_value()) + x.get_value() ** 2,
                x_range=[x.get_value() - 1, x.get_value() + 1],
                color=GREEN,
            )
        )
        touch = "Pick a <bookmark mark='dot'/>point and draw the line that <bookmark mark='line'/>just touches it."
        with self.voiceover(text=touch) as t:
            self.wait_until_bookmark("dot")
            self.play(FadeIn(dot), run_time=0.5)
            self.wait_until_bookmark("line")
            self.play(Create(tangent), run_time=1)

        secant = MathTex(r"\frac{f(x+h) - f(x)}{h}").to_edge(RIGHT).shift(UP)
        with self.voiceover(text="Its slope is the limit of the <bookmark mark='q'/>difference quotient.") as t:
            self.wait_until_bookmark("q")
            self.play(Write(secant), run_time=t.get_remaining_duration())

        steps = [
            (r"\frac{(x+h)^2 - x^2}{h}", "Put in the square."),
            (r"\frac{2xh + h^2}{h}", "Expand, and the x squared terms cancel."),
            (r"2x + h", "Divide by h."),
            (r"2x", "And let h go to zero."),
        ]
        current = secant
        for number, (tex, words) in enumerate(steps, start=1):
            line = MathTex(tex).move_to(current)
            with self.voiceover(text=f"Step {number}: <bookmark mark='s{number}'/>{words}") as t:
                self.wait_until_bookmark(f"s{number}")
                self.play(Transform(current, line), run_time=min(1.0, t.get_remaining_duration()))

        rule = MathTex(r"f'(x) = 2x", color=YELLOW).next_to(current, DOWN, buff=0.6)
        with self.voiceover(text="So the derivative of x squared is <bookmark mark='rule'/>two x.") as t:
            self.wait_until_bookmark("rule")
            self.play(Write(rule))

        for value in (2.0, 0.5, 3.0):
            slope = 2 * value
            with self.voiceover(
                text=f"At x equals {value:g}, the <bookmark mark='move'/>slope is {slope:g}."
            ) as t:
                self.wait_until_bookmark("move")
                self.play(x.animate.set_value(value), run_time=t.get_remaining_duration(buff=-0.1))

        zero = MathTex(r"f'(0) = 0").next_to(rule, DOWN)
        with self.voiceover(text="At the bottom of the bowl the tangent is <bookmark mark='flat'/>flat.") as t:
            self.play(x.animate.set_value(0.0), run_time=t.time_until_bookmark("flat", limit=2) or 0.5)
            self.wait_until_bookmark("flat")
            self.play(FadeIn(zero))

        table = VGroup(
            *[MathTex(rf"x = {v} \;\Rightarrow\; f'(x) = {2 * v}") for v in range(4)]
        ).arrange(DOWN).to_edge(RIGHT).shift(DOWN)
        with self.voiceover(text="Here are a <bookmark mark='table'/>few values side by side.") as t:
            self.wait_until_bookmark("table")
            self.play(FadeIn(table, lag_ratio=0.3), run_time=1.5)

        with self.voiceover(text="The slope grows twice as fast as x <bookmark mark='grow'/>itself.") as t:
            self.wait_until_bookmark("grow")
            self.play(table.animate.set_color(GREEN), run_time=0.5)

        cubic = MathTex(r"\frac{d}{dx} x^3 = 3x^2").to_edge(UP)
        with self.voiceover(text="The same steps give the <bookmark mark='cube'/>rule for x cubed.") as t:
            self.wait_until_bookmark("cube")
            self.play(Write(cubic))

        power = MathTex(r"\frac{d}{dx} x^n = n x^{n-1}", color=YELLOW).next_to(cubic, DOWN)
        with self.voiceover(text="And in general, the <bookmark mark='power'/>power rule.") as t:
            self.wait_until_bookmark("power")
            self.play(Write(power))

        with self.voiceover(text="That is the derivative. <bookmark mark='end'/>Thanks for watching.") as t:
            self.wait_until_bookmark("end")
            self.play(*[FadeOut(m) for m in self.mobjects], run_time=np.clip(t.get_remaining_duration(), 0.3, 2))
