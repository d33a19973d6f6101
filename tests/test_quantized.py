"""The formats people download: 8-bit/bfloat16 Qwen3-TTS and a 4-bit aligner, built as mlx-community
builds them, through every path; and the CPU precision policy that makes them fast on the CPU."""

import json
import shutil
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, render_scene, run_cli
from mlx.utils import tree_flatten

from manim_qwen_mlx.backends import device
from manim_qwen_mlx.cache import NarrationCache
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import engine

LECTURE = REPO / "tests" / "scenes" / "lecture.py"


def _quantized_layers(model: Any) -> int:
    return sum(isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding)) for _, m in model.module.named_modules())


def _float_dtypes(model: Any) -> set[str]:
    return {str(v.dtype) for _, v in tree_flatten(model.module.parameters()) if mx.issubdtype(v.dtype, mx.floating)}


def test_fixtures_are_quantized_as_mlx_community_does(tiny_model_8bit: Path, tiny_aligner_4bit: Path) -> None:
    for folder, bits, at_least in ((tiny_model_8bit, 8, 30), (tiny_aligner_4bit, 4, 8)):
        config = json.loads((folder / "config.json").read_text())
        assert config["quantization"] == {"group_size": 64, "bits": bits, "mode": "affine"}
        weights = mx.load(str(folder / "model.safetensors"))
        assert sum(name.endswith(".scales") for name in weights) >= at_least
        assert {str(v.dtype) for v in weights.values()} == {"mlx.core.uint32", "mlx.core.bfloat16"}


@pytest.mark.usefixtures("numpy_cpu")
def test_on_the_cpu_a_quantized_model_runs_in_float32(tiny_model_8bit: Path, tmp_path: Path) -> None:
    model = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "m")))
    if device.is_cpu():
        assert _quantized_layers(model) == 0 and _float_dtypes(model) == {"mlx.core.float32"}
        fast = [m for _, m in model.speech_tokenizer.decoder.named_modules() if type(m).__name__.startswith("Fast")]
        assert fast, "the CPU fast path runs on the quantized model's decoder too"
    else:  # a Mac's GPU: the downloaded precision is what is fast there
        assert _quantized_layers(model) >= 30


@pytest.mark.parametrize("how", ["keep", "gpu"])
def test_stored_precision_is_kept_when_asked_or_off_the_cpu(
    tiny_model_8bit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "keep":
        monkeypatch.setenv("MANIM_QWEN_MLX_PRECISION", "keep")
    else:
        monkeypatch.setattr(device, "is_cpu", lambda: False)
    model = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / how)))
    assert _quantized_layers(model) >= 30 and "mlx.core.bfloat16" in _float_dtypes(model)
    assert not model.backend.float32
    if how == "gpu":
        assert not any(type(m).__name__.startswith("Fast") for _, m in model.speech_tokenizer.decoder.named_modules())


def test_dequantized_talker_computes_what_the_quantized_one_does(
    tiny_model_8bit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "float32")))
    monkeypatch.setenv("MANIM_QWEN_MLX_PRECISION", "keep")
    kept = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "kept")))
    inputs = mx.random.normal((1, 12, 64), key=mx.random.key(3))
    ours, theirs = (np.array(m.talker(inputs.astype(dtype))[0].astype(mx.float32))
                    for m, dtype in ((converted, mx.float32), (kept, mx.bfloat16)))
    assert np.abs(ours - theirs).max() <= 0.05 * np.abs(theirs).max()  # bfloat16 rounding, no more


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_model_8bit"])
def test_stored_voices_change_nothing(
    fixture: str, request: pytest.FixtureRequest, reference: Path, tmp_path: Path
) -> None:
    """Voice store cold (computed and written), warm (read back from disk) and absent: the same audio."""
    folder = Path(shutil.copytree(request.getfixturevalue(fixture), tmp_path / "model"))
    voice, settings, ref = Voice.from_options(reference), SynthesisSettings(max_tokens=12), ModelRef.resolve(folder)
    store = tmp_path / "voiceovers"

    def say(voice_store: Path | None) -> np.ndarray:
        loader.load(folder).voice_prompts.memory.clear()  # as a new process would start
        return engine.synthesize("A circle grows.", voice, settings, ref, voice_store=voice_store).samples

    cold, warm, absent = say(store), say(store), say(None)
    assert list((store / ".voices").rglob("*.npy")), "the cold run stored the voice"
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_array_equal(cold, absent)


def test_precache_say_and_render_through_the_downloaded_formats(
    tiny_model_8bit: Path, tiny_aligner_4bit: Path, reference: Path, tmp_path: Path
) -> None:
    model = shutil.copytree(tiny_model_8bit, tmp_path / "models" / "qwen-8bit")
    aligner = shutil.copytree(tiny_aligner_4bit, tmp_path / "models" / "aligner-4bit")
    env = {"TEST_MODEL": str(model), "TEST_REF": str(reference), "TEST_ALIGNER": str(aligner)}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    out = run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env)
    assert out.returncode == 0 and "0 failed" in out.stdout, out.stdout + out.stderr
    entries = NarrationCache(tmp_path / "media" / "voiceovers").entries()
    assert len(entries) == 2 and {e["word_boundaries_method"] for e in entries} == {"align"}
    said = run_cli(["say", "Hello there.", "--model", str(model), "--ref-audio", str(reference), "--max-tokens", "12",
                    "-o", str(tmp_path / "say.wav")], tmp_path, {})
    assert said.returncode == 0 and sf.info(str(tmp_path / "say.wav")).frames > 0, said.stderr

    shutil.rmtree(tmp_path / "models")
    render_scene(LECTURE, "Summary", tmp_path, env)
    report = json.loads((tmp_path / "report.jsonl").read_text().splitlines()[-1])
    assert report["mlx_imported"] is False and report["bookmarks"]["corners"] <= report["bookmarks"]["end"]


@pytest.mark.parametrize("scales", ["bfloat16", "float16", "float32"])
@pytest.mark.parametrize("bits", [4, 8, 6])
def test_dequantized_at_load_to_the_formats_float32_weights(bits: int, scales: str) -> None:
    """scale * code + bias in float32: in numpy for 4 and 8 bits, in mlx for 6, the same bits as mlx
    dequantizing with float32 scales (stored ones rounded to bfloat16 or float16 are within that)."""
    from concurrent.futures import ThreadPoolExecutor

    from manim_qwen_mlx.backends import precision

    dtype = getattr(mx, scales)
    linear = nn.Linear(320, 600)  # rows over several tasks, one left over
    linear.weight = (mx.random.normal((600, 320), key=mx.random.key(bits)) * 0.05).astype(dtype)
    layer = nn.QuantizedLinear.from_linear(linear, group_size=64, bits=bits)
    widened = (layer.scales.astype(mx.float32), layer.biases.astype(mx.float32))
    expected = mx.dequantize(layer.weight, *widened, 64, bits)
    stored = mx.dequantize(layer.weight, layer.scales, layer.biases, 64, bits).astype(mx.float32)
    with ThreadPoolExecutor(2) as pool:
        weight, tasks = precision.dequantize(layer, pool)
        for task in tasks:
            task.result()
    assert (len(tasks) > 1) == (bits in (4, 8))
    assert weight.dtype == mx.float32
    np.testing.assert_array_equal(np.array(weight), np.array(expected))
    # mlx's own dequantization in the stored dtype: the same weights, rounded to it.
    np.testing.assert_allclose(np.array(weight), np.array(stored), rtol=0, atol=2**-7 * float(mx.abs(stored).max()))


def test_the_whole_model_is_dequantized_at_load(tiny_model_8bit: Path, tmp_path: Path) -> None:
    """Every weight float32 once loaded, each the format's float32 weight."""
    stored = mx.load(str(tiny_model_8bit / "model.safetensors"))
    model = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "m")))
    if not device.is_cpu():
        pytest.skip("the stored precision runs off the CPU")
    name = "talker.model.layers.0.self_attn.q_proj"
    ours = model.talker.model.layers[0].self_attn.q_proj.weight
    scales, biases = (stored[f"{name}.{part}"].astype(mx.float32) for part in ("scales", "biases"))
    expected = mx.dequantize(stored[f"{name}.weight"], scales, biases, 64, 8)
    np.testing.assert_array_equal(np.array(ours), np.array(expected))
    assert _quantized_layers(model) == 0
