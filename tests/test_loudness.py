"""One loudness for a video: each narration at the target integrated loudness (BS.1770, pyloudnorm's meter),
its true peak under the ceiling, its length and word times untouched; the setting checked, in the key, and
off with None."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FRAMES

from manim_qwen_mlx import QwenMLXService, SettingsError, audio
from manim_qwen_mlx.audio import loudness
from manim_qwen_mlx.cache.key import cache_key, input_data
from manim_qwen_mlx.cli import main
from manim_qwen_mlx.core.defaults import DEFAULT_LOUDNESS, SAMPLE_RATE, TRUE_PEAK_CEILING_DB
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import engine

TEXTS = ["A circle grows.", "Then a square appears beside it, larger.", "Watch.", "The two shapes meet.",
         "Now the area.", "It is pi times the radius squared.", "The side is two.", "So four."]


def _tone(level: float, seconds: float = 2.0, frequency: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * frequency * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("level", [0.001, 0.05, 0.3])
@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_a_clip_reaches_the_target_under_the_ceiling(level: float, target: float) -> None:
    made = loudness.normalize(_tone(level), target)
    assert made.dtype == np.float32 and len(made) == 2 * SAMPLE_RATE
    assert loudness.integrated(made) == pytest.approx(target, abs=0.1)
    assert loudness.true_peak_db(made) <= TRUE_PEAK_CEILING_DB + 1e-6


def test_peaks_over_the_ceiling_are_limited_not_clipped() -> None:
    clicks = _tone(0.01)
    clicks[:: SAMPLE_RATE // 4] = 0.5  # quiet on average, sharp peaks: the target pushes them far over 0 dBFS
    made = loudness.normalize(clicks, -16.0)
    assert loudness.integrated(made) == pytest.approx(-16.0, abs=0.1)
    assert loudness.true_peak_db(made) <= TRUE_PEAK_CEILING_DB + 1e-6
    assert np.abs(made).max() < 10 ** (TRUE_PEAK_CEILING_DB / 20)  # no sample at the rail: nothing clipped
    gain = made / np.where(clicks == 0, 1, clicks)
    away = np.ones(len(clicks), bool)
    for peak in range(0, len(clicks), SAMPLE_RATE // 4):
        away[max(0, peak - SAMPLE_RATE // 50) : peak + SAMPLE_RATE // 50] = False
    assert np.ptp(gain[away & (clicks != 0)]) < 1e-3  # one gain away from the peaks: the limiter acts there only


def test_nothing_to_do_for_none_silence_or_nothing() -> None:
    tone = _tone(0.1)
    assert loudness.normalize(tone, None) is tone
    silence = np.zeros(SAMPLE_RATE, np.float32)
    np.testing.assert_array_equal(loudness.normalize(silence, -16.0), silence)
    assert len(loudness.normalize(np.zeros(0, np.float32), -16.0)) == 0
    short = loudness.normalize(_tone(0.05, seconds=0.2), -16.0)  # shorter than the meter's 400 ms block
    assert len(short) == int(0.2 * SAMPLE_RATE) and loudness.integrated(short) == pytest.approx(-16.0, abs=0.2)


@pytest.mark.parametrize("bad", [-80.0, 0.0, 3, "loud"])
def test_a_target_out_of_range_says_what_fits(bad: object) -> None:
    with pytest.raises(SettingsError, match=r"loudness must be None .* between -40 and -6 LUFS"):
        SynthesisSettings(loudness=bad)  # type: ignore[arg-type]


def test_the_setting_reaches_the_key_and_none_turns_it_off(reference: Path, tiny_model: Path) -> None:
    def service(**given: object) -> QwenMLXService:
        return QwenMLXService(model=tiny_model, ref_audio=reference, **given)  # type: ignore[arg-type]

    assert SynthesisSettings().loudness == DEFAULT_LOUDNESS == service().settings.loudness
    assert service(loudness=None).settings.loudness is None
    assert service(loudness=-23).settings.loudness == -23.0
    voice, model = Voice.from_options(reference), ModelRef.resolve(tiny_model)
    keys = {cache_key(input_data("A circle.", voice, SynthesisSettings(loudness=level), model))
            for level in (None, -16.0, -23.0)}
    assert len(keys) == 3
    shown = CliRunner().invoke(main, ["say", "--loudness", "off", "--help"]).output
    assert "float or none" in shown.lower()


def test_a_scene_s_narrations_end_at_one_loudness(reference: Path) -> None:
    """Speech (the example clip, an espeak voice) cut into eight narrations recorded 26 dB apart, as a
    video's takes can differ: all within 1 LU of the target afterwards, none over the ceiling."""
    speech = audio.load_reference(reference)
    parts = np.array_split(speech[: len(speech) // 8 * 8], 8)
    uneven = [part * np.float32(10 ** (db / 20)) for part, db in zip(parts, np.linspace(-20, 6, 8), strict=True)]
    before = [loudness.integrated(part) for part in uneven]
    after = [loudness.normalize(part, DEFAULT_LOUDNESS) for part in uneven]
    assert max(before) - min(before) > 20
    assert max(abs(loudness.integrated(part) - DEFAULT_LOUDNESS) for part in after) <= 1.0
    assert max(loudness.true_peak_db(part) for part in after) <= TRUE_PEAK_CEILING_DB + 1e-6


def test_synthesis_applies_it_and_keeps_every_length(reference: Path, tiny_model: Path) -> None:
    voice, model = Voice.from_options(reference), ModelRef.resolve(tiny_model)

    def made(level: float | None) -> list[np.ndarray]:
        settings = SynthesisSettings(max_tokens=FRAMES, loudness=level)
        narrations = [engine.Narrate(text, voice, settings) for text in TEXTS]
        done = dict(engine.synthesize_many(narrations, model, batch_size=8))
        return [done[index].samples for index in range(len(TEXTS))]  # type: ignore[union-attr]

    raw, even = made(None), made(DEFAULT_LOUDNESS)
    assert [len(a) for a in raw] == [len(b) for b in even]  # durations (and word times) unchanged
    assert all(not np.array_equal(a, b) for a, b in zip(raw, even, strict=True))
    assert max(loudness.true_peak_db(samples) for samples in even) <= TRUE_PEAK_CEILING_DB + 1e-6
