"""Voices and settings are validated on their own, before any model is involved."""

from pathlib import Path

import pytest

from manim_qwen_mlx import ReferenceAudioError, SettingsError, TranscriptError, VoiceError
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice


def test_clone_reads_the_sidecar_transcript(reference: Path) -> None:
    voice = Voice.from_options(reference)
    assert voice.kind == "clone"
    assert voice.ref_text == reference.with_suffix(".txt").read_text().strip()


def test_missing_transcript_says_how_to_give_it(reference: Path) -> None:
    reference.with_suffix(".txt").unlink()
    with pytest.raises(TranscriptError, match=r"ref_text=.*me\.txt"):
        Voice.from_options(reference)


def test_empty_transcript_is_refused(reference: Path) -> None:
    with pytest.raises(TranscriptError, match="empty"):
        Voice.from_options(reference, ref_text="   ")
    reference.with_suffix(".txt").write_text("\n")
    with pytest.raises(TranscriptError, match="empty"):
        Voice.from_options(reference)


@pytest.mark.parametrize("kind", ["missing", "directory", "empty"])
def test_bad_reference_names_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "clip.wav"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(ReferenceAudioError, match=str(path)):
        Voice.from_options(path, ref_text="Hello.")


def test_voice_combinations(reference: Path) -> None:
    with pytest.raises(VoiceError, match="No voice"):
        Voice.from_options()
    with pytest.raises(VoiceError, match="ref_audio"):
        Voice.from_options(reference, voice="ryan")
    with pytest.raises(VoiceError, match="without ref_audio"):
        Voice.from_options(ref_text="Hello.", voice="ryan")
    assert Voice.from_options(voice="Ryan").speaker == "ryan"  # mlx-audio's speaker keys are lower-case
    assert Voice.from_options(instruct="A calm voice.").kind == "design"


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -1},
        {"top_k": -5},
        {"top_p": 0},
        {"top_p": 1.5},
        {"repetition_penalty": 0},
        {"max_tokens": 0},
        {"seed": 1.5},
        {"sentence_pause": -0.1},
    ],
)
def test_settings_out_of_range(bad: dict) -> None:
    with pytest.raises(SettingsError):
        SynthesisSettings(**bad)
