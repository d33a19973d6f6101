"""The key covers every input that changes the audio, and nothing that does not."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from manim_qwen_mlx.cache.key import cache_key, input_data
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice


def _key(text: str, voice: Voice, settings: SynthesisSettings, model: ModelRef) -> str:
    return cache_key(input_data(text, voice, settings, model))


@pytest.fixture
def base(reference: Path) -> tuple[str, Voice, SynthesisSettings, ModelRef]:
    return "A circle.", Voice.from_options(reference), SynthesisSettings(), ModelRef.resolve("org/model")


def test_same_inputs_same_key(base: tuple[str, Voice, SynthesisSettings, ModelRef], reference: Path) -> None:
    text, voice, settings, model = base
    again = Voice.from_options(str(reference))
    assert _key(text, voice, settings, model) == _key(text, again, SynthesisSettings(), ModelRef.resolve("org/model"))


@pytest.mark.parametrize(
    "change",
    [
        {"lang_code": "english"},
        {"temperature": 0.5},
        {"top_k": 10},
        {"top_p": 0.8},
        {"repetition_penalty": 1.2},
        {"max_tokens": 40},
        {"seed": 7},
        {"sentence_pause": 0.5},
    ],
)
def test_each_setting_changes_the_key(base: tuple[str, Voice, SynthesisSettings, ModelRef], change: dict) -> None:
    text, voice, settings, model = base
    assert _key(text, voice, settings, model) != _key(text, voice, replace(settings, **change), model)


def test_text_model_revision_and_voice_change_the_key(
    base: tuple[str, Voice, SynthesisSettings, ModelRef], reference: Path, tmp_path: Path
) -> None:
    text, voice, settings, model = base
    original = _key(text, voice, settings, model)
    assert _key("A square.", voice, settings, model) != original
    assert _key(text, voice, settings, ModelRef.resolve("org/other")) != original
    assert _key(text, voice, settings, ModelRef.resolve("org/model", revision="abc123")) != original
    assert _key(text, Voice.from_options(reference, ref_text="Other words."), settings, model) != original
    changed = tmp_path / "changed.wav"
    changed.write_bytes(reference.read_bytes() + b"\0\0")
    assert _key(text, Voice.from_options(changed, ref_text=voice.ref_text), settings, model) != original
    assert _key(text, Voice.from_options(voice="ryan"), settings, model) != _key(
        text, Voice.from_options(voice="serena"), settings, model
    )
    assert _key(text, Voice.from_options(instruct="Calm."), settings, model) != _key(
        text, Voice.from_options(instruct="Excited."), settings, model
    )


def test_moving_the_reference_keeps_the_key(
    base: tuple[str, Voice, SynthesisSettings, ModelRef], tmp_path: Path
) -> None:
    text, voice, settings, model = base
    assert voice.ref_audio is not None
    before = _key(text, voice, settings, model)
    moved = tmp_path / "elsewhere" / "renamed.wav"
    moved.parent.mkdir()
    shutil.move(voice.ref_audio, moved)
    assert _key(text, Voice.from_options(moved, ref_text=voice.ref_text), settings, model) == before


def test_language_aliases_share_a_key(base: tuple[str, Voice, SynthesisSettings, ModelRef]) -> None:
    text, voice, _, model = base
    assert _key(text, voice, SynthesisSettings(lang_code="en"), model) == _key(
        text, voice, SynthesisSettings(lang_code="English"), model
    )


def test_local_model_key_is_its_absolute_path(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    relative = ModelRef.resolve("./my-model")
    assert relative.is_local and relative.name == str(folder)
    # A local folder that is gone keeps its key, so a cached render needs no model.
    folder.rmdir()
    assert ModelRef.resolve("./my-model") == relative


def test_model_env_variable_supplies_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_MODEL", "org/draft")
    assert ModelRef.resolve().name == "org/draft"
    assert ModelRef.resolve("org/final").name == "org/final"
    monkeypatch.delenv("MANIM_QWEN_MLX_MODEL")
    assert ModelRef.resolve().name == "mlx-community/Qwen3-TTS-12Hz-1.7B-Base-8bit"


def test_local_models_are_keyed_by_name_so_the_cache_travels(tmp_path: Path) -> None:
    one = ModelRef.resolve(tmp_path / "a" / "tiny-base").identity()
    other = ModelRef.resolve(tmp_path / "b" / "elsewhere" / "tiny-base").identity()
    assert one == other == {"model": "tiny-base", "revision": None}
    assert ModelRef.resolve(tmp_path / "tiny-large").identity() != one


def test_a_hub_cache_snapshot_is_keyed_by_repo_id_and_revision(tmp_path: Path) -> None:
    snapshot = tmp_path / "hub" / "models--mlx-community--Qwen3-TTS-12Hz-0.6B-Base-8bit" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert ModelRef.resolve(snapshot).identity() == {
        "model": "mlx-community/Qwen3-TTS-12Hz-0.6B-Base-8bit",
        "revision": "abc123",
    }
    assert ModelRef.resolve("org/model", "v1").identity() == {"model": "org/model", "revision": "v1"}
