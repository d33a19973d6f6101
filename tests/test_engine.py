"""Real synthesis through mlx-audio on the tiny random checkpoint (its audio is noise)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import FRAMES

from manim_qwen_mlx import (
    ModelLoadError,
    ModelNotAvailableError,
    ReferenceAudioError,
    SynthesisError,
    VoiceError,
)
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import engine, prompt, scheduler

SAMPLES_PER_FRAME = 1920
SHORT = SynthesisSettings(max_tokens=FRAMES)


def _say(model: Path, voice: Voice, text: str = "A circle.", settings: SynthesisSettings = SHORT) -> np.ndarray:
    return engine.synthesize(text, voice, settings, ModelRef.resolve(model)).samples


def test_clone_is_deterministic_for_a_seed(tiny_model: Path, reference: Path) -> None:
    voice = Voice.from_options(reference)
    first = _say(tiny_model, voice)
    assert first.dtype == np.float32 and 0 < first.size <= FRAMES * SAMPLES_PER_FRAME
    np.testing.assert_array_equal(first, _say(tiny_model, voice))
    assert not np.array_equal(first, _say(tiny_model, voice, settings=SynthesisSettings(max_tokens=FRAMES, seed=9)))


def test_sentences_are_synthesized_one_by_one_and_joined_with_a_pause(
    tiny_model: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = Voice.from_options(reference)
    spoken: list[str] = []
    real_build = prompt.build

    def spy(model: object, text: str, *args: object) -> object:
        spoken.append(text)
        return real_build(model, text, *args)

    monkeypatch.setattr(prompt, "build", spy)
    settings = SynthesisSettings(max_tokens=FRAMES, sentence_pause=0.5, loudness=None)  # the joining alone
    joined = _say(tiny_model, voice, "A circle. Watch it grow!", settings)
    assert spoken == ["A circle.", "Watch it grow!"]
    parts = [_say(tiny_model, voice, s, settings) for s in list(spoken)]
    assert joined.size == parts[0].size + 12_000 + parts[1].size
    np.testing.assert_array_equal(joined[: parts[0].size], parts[0])
    assert not joined[parts[0].size : parts[0].size + 12_000].any()


def test_runaway_generation_is_retried_with_derived_seeds_then_refused(
    tiny_model: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Random weights never emit end-of-speech, so every try reaches the ceiling the text allows.
    frames: list[int] = []
    real_results = scheduler.Scheduler.results

    def spy(self: scheduler.Scheduler[object]) -> Iterator[scheduler.Finished[object]]:
        for done in real_results(self):
            frames.append(int(done.codes.codes.shape[0]))
            yield done

    monkeypatch.setattr(scheduler.Scheduler, "results", spy)
    with pytest.raises(SynthesisError, match=r"kept talking past 2\.6 s \(or looped\) for 'Hi\.' in 3 tries"):
        _say(tiny_model, Voice.from_options(reference), "Hi.", SynthesisSettings())
    assert frames == [33, 33, 33]  # ceil(12.5 * (2 s + 0.2 s * 3 chars)), each try


def test_a_ceiling_below_the_texts_is_a_deliberate_cut(tiny_model: Path, reference: Path) -> None:
    audio = _say(tiny_model, Voice.from_options(reference), "Hi.", SynthesisSettings(max_tokens=10))
    assert 0 < audio.size <= 10 * SAMPLES_PER_FRAME


def test_reference_in_any_format_is_resampled(tiny_model: Path, tmp_path: Path) -> None:
    data, rate = sf.read(Path(__file__).parents[1] / "example_scenes/voices/espeak.wav", dtype="float32")
    stereo = tmp_path / "stereo48k.wav"
    sf.write(stereo, np.stack([data, data], axis=1)[::1], rate, subtype="FLOAT")
    resampled = tmp_path / "stereo44k.flac"
    sf.write(resampled, np.stack([data, data], axis=1), 44_100)
    for clip in (stereo, resampled):
        assert _say(tiny_model, Voice.from_options(clip, ref_text="The quick brown fox.")).size > 0


def test_undecodable_reference_names_the_file(tiny_model: Path, tmp_path: Path) -> None:
    clip = tmp_path / "broken.wav"
    clip.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(ReferenceAudioError, match=r"broken\.wav"):
        _say(tiny_model, Voice.from_options(clip, ref_text="Hello."))


def test_preset_speaker_and_designed_voice(tiny_custom_voice: Path, tiny_voice_design: Path) -> None:
    assert _say(tiny_custom_voice, Voice.from_options(voice="Ryan")).size > 0
    assert _say(tiny_voice_design, Voice.from_options(instruct="A calm, low voice.")).size > 0


def test_wrong_voice_for_the_model_is_a_clear_error(
    tiny_model: Path, tiny_custom_voice: Path, tiny_voice_design: Path, reference: Path
) -> None:
    clone = Voice.from_options(reference)
    cases = [
        (tiny_model, Voice.from_options(voice="ryan"), "preset speaker.*Base"),
        (tiny_model, Voice.from_options(reference, instruct="Happy."), "ignores instruct"),
        (tiny_model, Voice.from_options(instruct="Happy."), "VoiceDesign"),
        (tiny_custom_voice, clone, "CustomVoice.*voice="),
        (tiny_custom_voice, Voice.from_options(voice="nobody"), "Unknown speaker 'nobody'.*ryan"),
        (tiny_voice_design, Voice.from_options(voice="ryan"), "VoiceDesign.*instruct="),
    ]
    for model, voice, message in cases:
        with pytest.raises(VoiceError, match=message):
            _say(model, voice)
    with pytest.raises(VoiceError, match="Language 'klingon'"):
        _say(tiny_model, clone, settings=SynthesisSettings(lang_code="klingon", max_tokens=FRAMES))


def test_model_not_downloaded_while_offline(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotAvailableError, match="hf download org/not-here"):
        engine.synthesize("Hi.", Voice.from_options(reference), SHORT, ModelRef.resolve("org/not-here"))


def test_missing_model_folder(reference: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="does not exist: pass model= to QwenMLXService"):
        _say(tmp_path / "nowhere", Voice.from_options(reference))


def test_an_aligner_that_cannot_be_had_is_looked_up_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from manim_qwen_mlx.companions import aligner
    from manim_qwen_mlx.model import loader

    lookups = []
    real = loader.resolve_path
    monkeypatch.setattr(loader, "resolve_path", lambda *args: lookups.append(args) or real(*args))
    ref = ModelRef.resolve(str(tmp_path / "no-aligner"))
    for _ in range(3):  # one narration after another
        with pytest.raises(ModelNotAvailableError, match="aligner="):
            aligner.load(ref, allow_download=False)
    assert len(lookups) == 1


@pytest.mark.parametrize("option, env", [("aligner", "MANIM_QWEN_MLX_ALIGNER"), ("asr", "MANIM_QWEN_MLX_ASR")])
def test_a_missing_companion_names_its_own_option(option: str, env: str, tmp_path: Path) -> None:
    from manim_qwen_mlx.companions import aligner, asr

    companion = {"aligner": aligner, "asr": asr}[option]
    with pytest.raises(ModelNotAvailableError, match=rf"pass {option}= to QwenMLXService \(or set {env}\)"):
        companion.load(ModelRef.resolve(str(tmp_path / "nowhere")), allow_download=False)


def test_incomplete_model_folder_names_the_missing_file(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_model, tmp_path / "partial")
    (copy / "speech_tokenizer" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"speech_tokenizer/model\.safetensors"):
        _say(copy, Voice.from_options(reference))


def test_truncated_weights_fail_at_load_not_mid_render(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    """The model loads lazily (so the text embedding is never read) and is then evaluated whole: a
    download cut short is still a load error."""
    copy = shutil.copytree(tiny_model, tmp_path / "truncated")
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size * 2 // 3])
    with pytest.raises(ModelLoadError, match="Could not load the model"):
        _say(copy, Voice.from_options(reference))


def test_other_model_types_are_refused(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_model, tmp_path / "other")
    (copy / "config.json").write_text('{"model_type": "kokoro"}')
    with pytest.raises(ModelLoadError, match="not Qwen3-TTS"):
        _say(copy, Voice.from_options(reference))


def test_batch_synthesis_speaks_every_narration(tiny_model: Path, reference: Path) -> None:
    texts = ["A circle. Watch it grow.", "A square.", "And a triangle, too."]
    voice = Voice.from_options(reference)
    made = dict(engine.synthesize_many([engine.Narrate(t, voice, SHORT) for t in texts], ModelRef.resolve(tiny_model),
                                       batch_size=2))
    speeches = [made[i] for i in range(3)]
    assert all(isinstance(s, engine.Speech) for s in speeches)
    assert [len(s.spans) for s in speeches] == [2, 1, 1]
    for speech in speeches:
        assert speech.samples.size > 0 and speech.spans[-1].sample_end == speech.samples.size


def test_batch_runaways_go_through_the_guard_and_fail_alone(tiny_model: Path, reference: Path) -> None:
    # With a 30-frame ceiling "Hi." (33 frames of its own) is cut on purpose, "A." (30) is a runaway.
    voice, settings = Voice.from_options(reference), SynthesisSettings(max_tokens=30)
    made = dict(engine.synthesize_many([engine.Narrate(t, voice, settings) for t in ("Hi.", "A.")],
                                       ModelRef.resolve(tiny_model), batch_size=2))
    speeches = [made[0], made[1]]
    assert isinstance(speeches[0], engine.Speech) and speeches[0].samples.size > 0
    assert isinstance(speeches[1], SynthesisError) and "kept talking" in str(speeches[1])


def test_a_local_lookup_that_breaks_is_reported_not_downloaded_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only "not downloaded yet" leads to a download; an unreadable cache says so."""
    import huggingface_hub

    downloads = []

    def snapshot_download(name: str, local_files_only: bool = False, **kwargs: object) -> str:
        if local_files_only:
            raise PermissionError(13, "Permission denied", str(tmp_path / "hf"))
        downloads.append(name)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    with pytest.raises(ModelNotAvailableError, match=r"Permission denied.*HF_HOME"):
        loader.resolve_path(ModelRef.resolve("org/model"), allow_download=True)
    assert downloads == []
