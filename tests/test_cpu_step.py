"""numpy's single-token steps equal mlx's, and are used only where they apply."""

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
from conftest import EXAMPLE_VOICE

from manim_qwen_mlx import audio, backends
from manim_qwen_mlx.backends import device
from manim_qwen_mlx.backends.mlx_backend import MlxFrames
from manim_qwen_mlx.backends.numpy_cpu.steps import NumpyFrames
from manim_qwen_mlx.core.defaults import FAST_CPU_ENV, PRECISION_ENV
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import decode, prompt, sentence

SAMPLED = decode.Sampling(temperature=0.9, top_k=50, top_p=0.95, repetition_penalty=1.05)


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three layers each, grouped-query attention, a code predictor narrower than the talker (behind
    the projection the 1.7B model has)."""
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-deep", layers=3, predictor_hidden=16)


def _prompt(model: Any, streaming: bool = False) -> Any:
    voice = Voice.from_options(EXAMPLE_VOICE)
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    return prompt.build(model, "A circle grows slowly on the screen.", spoken, "auto", streaming)


def _greedy(logits: Any) -> Any:
    return mx.argmax(logits, axis=-1)


@pytest.mark.parametrize("which", ["tiny_model", "deep"])
def test_numpy_steps_equal_mlx_steps(which: str, request: pytest.FixtureRequest) -> None:
    model = loader.load(request.getfixturevalue(which))
    built = _prompt(model)
    fast, slow = NumpyFrames(model.module, built, 12), MlxFrames(model.module, built)
    fast_inputs = slow_inputs = None
    for step in range(12):
        fast_logits, fast_hidden = fast.talk(fast_inputs)
        slow_logits, slow_hidden = slow.talk(slow_inputs)
        np.testing.assert_allclose(np.array(fast_logits), np.array(slow_logits), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(fast_hidden, np.array(slow_hidden).reshape(-1), rtol=1e-4, atol=1e-5)
        first = _greedy(slow_logits)
        fast_codes, fast_inputs = fast.frame(first, fast_hidden, step, _greedy)
        slow_codes, slow_inputs = slow.frame(first, slow_hidden, step, _greedy)
        np.testing.assert_array_equal(np.array(fast_codes), np.array(slow_codes))
        np.testing.assert_allclose(fast_inputs, np.array(slow_inputs).reshape(-1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("streaming", [False, True])
def test_sampled_generation_gives_the_same_codes(deep: Path, streaming: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = loader.load(deep)
    built = _prompt(loaded, streaming)
    codes = {}
    for fast in ("1", "0"):
        monkeypatch.setenv(FAST_CPU_ENV, fast)
        model = replace(loaded, backend=backends.choose())  # the backend a load would choose now
        assert isinstance(model.steps(built, 30), NumpyFrames) == (fast == "1")
        mx.random.seed(11)  # sampling draws from mlx's stream on both paths, in the same order
        codes[fast] = np.array(decode.generate(model, built, SAMPLED, SAMPLED, 30).codes)
    assert codes["1"].shape == (30, 16)
    np.testing.assert_array_equal(codes["1"], codes["0"])


def test_mlx_keeps_the_steps_where_numpy_cannot_help(
    tiny_model: Path, tiny_model_8bit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "is_cpu", lambda: False)  # Metal: mlx's own kernels are the fast ones
    model = loader.load(Path(shutil.copytree(tiny_model, tmp_path / "metal")))  # not the shared load
    built = _prompt(model)
    assert isinstance(model.steps(built, 8), MlxFrames)
    monkeypatch.undo()
    monkeypatch.setenv(PRECISION_ENV, "keep")  # 8-bit layers and bfloat16 stay as downloaded
    quantized = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "kept")))  # not the shared load
    assert isinstance(quantized.steps(_prompt(quantized), 8), MlxFrames)
    assert np.array(decode.generate(quantized, _prompt(quantized), SAMPLED, SAMPLED, 4).codes).shape == (4, 16)


def test_a_store_too_small_is_an_error_not_a_wrong_answer(tiny_model: Path) -> None:
    model = loader.load(tiny_model)
    frames = NumpyFrames(model.module, _prompt(model), 2)
    logits, hidden = frames.talk(None)
    for step in range(2):
        _, inputs = frames.frame(_greedy(logits), hidden, step, _greedy)
        logits, hidden = frames.talk(inputs)
    with pytest.raises(ValueError, match="store"):
        frames.talk(inputs)


def test_numpy_reads_the_loaded_weights_in_place(tiny_model: Path) -> None:
    model = loader.load(tiny_model)
    frames = NumpyFrames(model.module, _prompt(model), 4)
    loaded = model.talker.model.layers[0].self_attn.q_proj.weight
    assert np.shares_memory(frames.talker.layers[0].q.weight, np.asarray(loaded))  # a view, no second copy
    assert np.shares_memory(frames.heads[3].weight, np.asarray(model.talker.code_predictor.lm_head[3].weight))
