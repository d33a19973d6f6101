"""The test checkpoint is real: mlx-audio's own loader reads it and every tensor we wrote arrives."""

from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten
from mlx_audio.tts.models.qwen3_tts.qwen3_tts import Model
from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizer
from mlx_audio.tts.utils import load_model


def _assert_round_trip(written: dict, loaded: dict, allowed_extra: tuple[str, ...]) -> None:
    assert written, "nothing was written"
    for name, value in written.items():
        assert name in loaded, f"{name} was written but not loaded (wrong name?)"
        assert loaded[name].shape == value.shape, name
        np.testing.assert_array_equal(np.array(loaded[name]), np.array(value), err_msg=name)
    extra = [n for n in loaded if n not in written and not (allowed_extra and n.endswith(allowed_extra))]
    assert not extra, f"parameters the checkpoint does not provide: {extra[:5]}"


def test_base_checkpoint_round_trips(tiny_model: Path) -> None:
    model = load_model(tiny_model)  # strict: every talker and speaker-encoder tensor must match
    assert model.config.tts_model_type == "base" and model.speech_tokenizer.has_encoder
    main = Model.sanitize(mx.load(str(tiny_model / "model.safetensors")))
    talker = {k: v for k, v in tree_flatten(model.parameters()) if not k.startswith("speech_tokenizer.")}
    _assert_round_trip(main, talker, ())
    speech = Qwen3TTSSpeechTokenizer.sanitize(mx.load(str(tiny_model / "speech_tokenizer" / "model.safetensors")))
    # The speech tokenizer loads non-strictly, so a misnamed tensor would pass silently without this.
    _assert_round_trip(speech, dict(tree_flatten(model.speech_tokenizer.parameters())), (".initialized",))


def test_text_tokenizer_matches_the_model_prompt(tiny_model: Path) -> None:
    model = load_model(tiny_model)
    ids = model.tokenizer.encode("<|im_start|>assistant\nA circle.<|im_end|>\n")
    assert ids[0] == model.config.im_start_token_id
    # The model slices "<|im_start|>assistant\n" as three tokens and "<|im_end|>\n" as two.
    assert model.tokenizer.decode(ids[3:-2]) == "A circle."
    assert ids[-2] == model.config.im_end_token_id


def test_custom_voice_and_voice_design_variants_load(tiny_custom_voice: Path, tiny_voice_design: Path) -> None:
    custom = load_model(tiny_custom_voice)
    assert custom.speaker_encoder is None and "ryan" in custom.get_supported_speakers()
    design = load_model(tiny_voice_design)
    assert design.config.tts_model_type == "voice_design"
