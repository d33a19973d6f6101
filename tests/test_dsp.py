"""Speed with the pitch kept, and silence trimming."""

from pathlib import Path

import numpy as np
import pytest
from conftest import FRAMES

from manim_qwen_mlx import SynthesisError
from manim_qwen_mlx.audio.dsp import speech_bounds, stretch
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model.decoder_context import LaterSamples
from manim_qwen_mlx.synthesis import decode, engine

RATE = 24_000


def _tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _dominant(x: np.ndarray) -> float:
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(np.abs(np.fft.rfft(x)))])


@pytest.mark.parametrize("speed", [1.25, 0.8, 1.5])
def test_speed_changes_length_not_pitch(speed: float) -> None:
    tone = _tone(3.0, 330.0)
    faster = stretch(tone, speed)
    assert len(faster) == pytest.approx(len(tone) / speed, rel=0.02)
    assert _dominant(faster) == pytest.approx(330.0, rel=0.02)
    assert np.abs(faster).max() == pytest.approx(0.5, rel=0.05)  # overlap-add keeps the level


def test_trim_finds_speech_inside_padding() -> None:
    padded = np.concatenate([np.zeros(RATE), _tone(2.0), np.zeros(RATE // 2)])
    bounds = speech_bounds(padded)
    assert bounds is not None
    start, end = bounds
    assert RATE - 0.06 * RATE <= start <= RATE and 3 * RATE <= end <= 3 * RATE + 0.06 * RATE
    assert speech_bounds(np.zeros(RATE)) is None
    assert speech_bounds(np.full(RATE, 1e-5, dtype=np.float32)) is None


def _silent(monkeypatch: pytest.MonkeyPatch, pad: np.ndarray | None = None) -> None:
    """Each sentence's audio silenced, or padded with ``pad`` on both sides."""
    real = decode.to_audio_later

    def padded(*args: object, **kwargs: object) -> LaterSamples:
        later = real(*args, **kwargs)  # type: ignore[arg-type]

        def finish() -> np.ndarray:
            audio = later.finish() * (0.0 if pad is None else 1.0)
            return audio if pad is None else np.concatenate([pad, audio, pad])

        return LaterSamples(finish, later.numpy_left)

    monkeypatch.setattr(decode, "to_audio_later", padded)


def test_engine_trims_padded_sentences(tiny_model: Path, reference: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    voice, ref = Voice.from_options(reference), ModelRef.resolve(tiny_model)
    plain = engine.synthesize("A circle.", voice, SynthesisSettings(max_tokens=FRAMES), ref).samples
    _silent(monkeypatch, pad=np.zeros(RATE, dtype=np.float32))
    padded = engine.synthesize("A circle.", voice, SynthesisSettings(max_tokens=FRAMES, trim_silence=False), ref)
    trimmed = engine.synthesize("A circle.", voice, SynthesisSettings(max_tokens=FRAMES), ref)
    assert len(padded.samples) == len(plain) + 2 * RATE
    assert len(trimmed.samples) <= len(plain) + int(0.1 * RATE)


def test_pure_silence_is_an_error(tiny_model: Path, reference: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _silent(monkeypatch)
    with pytest.raises(SynthesisError, match="only silence"):
        engine.synthesize(
            "A circle.",
            Voice.from_options(reference),
            SynthesisSettings(max_tokens=FRAMES),
            ModelRef.resolve(tiny_model),
        )


def test_speed_scales_sentence_spans(tiny_model: Path, reference: Path) -> None:
    voice, ref = Voice.from_options(reference), ModelRef.resolve(tiny_model)
    text = "A circle. Watch it grow."
    normal = engine.synthesize(text, voice, SynthesisSettings(max_tokens=FRAMES), ref)
    fast = engine.synthesize(text, voice, SynthesisSettings(max_tokens=FRAMES, speed=1.25), ref)
    assert len(fast.samples) == pytest.approx(len(normal.samples) / 1.25, rel=0.02)
    for a, b in zip(normal.spans, fast.spans, strict=True):
        assert (a.char_start, a.char_end) == (b.char_start, b.char_end)
        assert b.sample_start == pytest.approx(a.sample_start / 1.25, abs=2)
