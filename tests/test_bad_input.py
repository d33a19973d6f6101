"""The bad-input matrix: each case is a clear error that says what to do, a warning, or handled."""

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import FRAMES

from manim_qwen_mlx import InvalidTextError, QwenMLXService, ReferenceAudioError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import split_sentences
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import engine

RATE = 24_000
SHORT = SynthesisSettings(max_tokens=FRAMES)


def _speech(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _clone(model: Path, clip: Path, text: str = "Hello there.", ref_text: str = "A few words said here.") -> int:
    voice = Voice.from_options(clip, ref_text=ref_text)
    return engine.synthesize(text, voice, SHORT, ModelRef.resolve(model)).samples.size


@pytest.mark.parametrize(
    ("rate", "subtype", "channels"),
    [(8_000, "PCM_U8", 1), (16_000, "PCM_16", 1), (44_100, "PCM_24", 2), (48_000, "PCM_32", 2), (22_050, "FLOAT", 1)],
)
def test_reference_rates_depths_and_channels(
    tiny_model: Path, tmp_path: Path, rate: int, subtype: str, channels: int
) -> None:
    clip = tmp_path / f"ref-{rate}-{subtype}.wav"
    mono = _speech(3.0, rate)
    sf.write(clip, np.stack([mono] * channels, axis=1) if channels > 1 else mono, rate, subtype=subtype)
    assert _clone(tiny_model, clip) > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not audio at all, just text", "Cannot decode"),
        (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00garbage", "Cannot decode"),
    ],
)
def test_undecodable_references(tiny_model: Path, tmp_path: Path, content: bytes, message: str) -> None:
    clip = tmp_path / "bad.wav"
    clip.write_bytes(content)
    with pytest.raises(ReferenceAudioError, match=message):
        _clone(tiny_model, clip)


def test_silent_and_too_short_references(tiny_model: Path, tmp_path: Path) -> None:
    silent, short = tmp_path / "silent.wav", tmp_path / "short.wav"
    sf.write(silent, np.zeros(3 * RATE, dtype=np.float32), RATE)
    sf.write(short, _speech(0.5), RATE)
    with pytest.raises(ReferenceAudioError, match="silent"):
        _clone(tiny_model, silent)
    with pytest.raises(ReferenceAudioError, match="at least 1 s"):
        _clone(tiny_model, short)


def test_long_reference_and_mismatched_transcript_warn(
    tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long_clip = tmp_path / "long.wav"
    sf.write(long_clip, _speech(31.0, 8_000), 8_000)
    with caplog.at_level(logging.WARNING, logger="manim.qwen_mlx"):
        assert _clone(tiny_model, long_clip, ref_text="Hi.") > 0
    assert "slow and drifts" in caplog.text
    assert "check that ref_text is exactly what the clip says" in caplog.text


@pytest.mark.parametrize("text", ["Hello 👋 world.", "你好，世界。", "שלום עולם.", "مرحبا بالعالم.", "Ünïcödé ½ ∑ π."])
def test_emoji_cjk_and_rtl_text(tiny_model: Path, reference: Path, cache_dir: Path, text: str) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=FRAMES, cache_dir=cache_dir)
    data = svc._wrap_generate_from_text(text)
    audio = cache_dir / data["final_audio"]
    assert audio.is_file() and audio.parent == cache_dir.resolve() and data["final_audio"].isascii()


@pytest.mark.parametrize("text, script", [("مرحبا بالعالم.", "Arabic"), ("Καλημέρα κόσμε.", "Greek")])
def test_a_script_the_model_does_not_speak(
    tiny_model: Path, reference: Path, text: str, script: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warning that names the model's languages (the audio is still made); an error when a language
    was named, since no lang_code makes it speech."""
    monkeypatch.setattr(engine, "_warned_scripts", set())  # warned once per process: this test's process
    voice = Voice.from_options(reference)
    with caplog.at_level(logging.WARNING, logger="manim.qwen_mlx"):
        engine.synthesize(text, voice, SynthesisSettings(max_tokens=FRAMES), ModelRef.resolve(tiny_model))
    assert f"written in {script} script" in caplog.text and "its languages: " in caplog.text
    with pytest.raises(InvalidTextError, match=f"{script} script.*lang_code='english'"):
        engine.synthesize(text, voice, SynthesisSettings(lang_code="english", max_tokens=FRAMES),
                          ModelRef.resolve(tiny_model))


def test_twenty_thousand_characters_are_split_into_bounded_sentences() -> None:
    text = " ".join(f"Sentence number {i} talks about circles and squares." for i in range(400))[:20_000]
    pieces = split_sentences(text)
    assert len(text) == 20_000 and len(pieces) >= 380 and all(len(p) <= 300 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    unbroken = split_sentences("x" * 20_000)
    assert all(len(p) <= 300 for p in unbroken) and sum(map(len, unbroken)) == 20_000


@pytest.mark.parametrize("text", ["", " \t\n", "<bookmark mark='only'/>"])
def test_empty_text(tiny_model: Path, reference: Path, cache_dir: Path, text: str) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir)
    with pytest.raises(InvalidTextError):
        svc._wrap_generate_from_text(text)


@pytest.mark.parametrize(
    "hostile",
    ["../../escape", "/etc/passwd", "a\0b", "x" * 5000, "..", "C:\\\\Windows\\\\system32", "<bookmark mark='../x'/>y"],
)
def test_no_text_or_mark_escapes_the_cache(tiny_model: Path, reference: Path, cache_dir: Path, hostile: str) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=2, cache_dir=cache_dir)
    data = svc._wrap_generate_from_text(f"{hostile} end.")
    written = (cache_dir / data["final_audio"]).resolve()
    assert written.parent == cache_dir.resolve() and len(written.name) < 80


def test_speaker_names_never_reach_the_file_system(tiny_custom_voice: Path, cache_dir: Path) -> None:
    svc = QwenMLXService(model=tiny_custom_voice, voice="../../ryan", max_tokens=2, cache_dir=cache_dir)
    with pytest.raises(Exception, match="Unknown speaker"):
        svc._wrap_generate_from_text("Hello.")
    assert not any(p.suffix == ".wav" for p in cache_dir.parent.rglob("*") if cache_dir not in p.parents)
