"""The architecture's rules that an import contract cannot see (the layers themselves are lint-imports'
contract in pyproject.toml, run by ./scripts/test.sh): only model/ and backends/ touch mlx-audio's
objects, and only the backend choice (and doctor, which reports it) asks which device MLX runs on."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "manim_qwen_mlx"
# Attributes of mlx-audio's Qwen3-TTS model, its parts and its config; our LoadedTTS says them in its own words.
MLX_AUDIO_ATTRIBUTES = {
    "talker", "speech_tokenizer", "code_predictor", "speaker_encoder", "extract_speaker_embedding",
    "batch_generate", "talker_config", "codec_embedding", "get_input_embeddings", "get_text_embeddings",
    "text_projection", "make_cache", "codec_head", "encoder_model", "tts_model_size", "spk_id",
    "codec_language_id", "decode_upsample_rate", "chunked_decode", "small_to_mtp_projection",
}
DEVICE_QUESTIONS = {"is_cpu", "default_device"}


def _attributes(source: str, names: set[str]) -> list[str]:
    return [node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute) and node.attr in names]


def _outside(*allowed: str) -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if str(p.relative_to(PACKAGE)) not in allowed
            and p.relative_to(PACKAGE).parts[0] not in allowed]


def test_the_checker_sees_an_attribute_access() -> None:
    assert _attributes("head = model.talker.codec_head", MLX_AUDIO_ATTRIBUTES) == ["codec_head", "talker"]
    assert _attributes("talker = 1; f(talker)", MLX_AUDIO_ATTRIBUTES) == []  # names are not attributes


def test_only_model_and_backends_touch_mlx_audios_objects() -> None:
    found = {
        str(path.relative_to(PACKAGE)): touched
        for path in _outside("model", "backends")
        if (touched := _attributes(path.read_text(encoding="utf-8"), MLX_AUDIO_ATTRIBUTES))
    }
    assert found == {}


def test_the_device_is_asked_only_where_the_backend_is_chosen() -> None:
    found = {
        str(path.relative_to(PACKAGE)): asked
        for path in _outside("backends/__init__.py", "backends/device.py", "model/doctor.py")
        if (asked := _attributes(path.read_text(encoding="utf-8"), DEVICE_QUESTIONS))
    }
    assert found == {}
