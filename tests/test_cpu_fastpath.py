"""The CPU fast path equals mlx-audio's own layers, and is a no-op off the CPU."""

import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from conftest import FRAMES
from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizerDecoder

from manim_qwen_mlx import backends
from manim_qwen_mlx.backends import blas, device
from manim_qwen_mlx.backends.numpy_cpu.conv import FastConv1d, FastConvTranspose1d
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import engine


def _layer_shapes(config: Qwen3TTSTokenizerDecoderConfig) -> set[tuple]:
    """Every distinct conv layer the decoder built from ``config`` uses (weights stay lazy)."""
    decoder = Qwen3TTSSpeechTokenizerDecoder(config)
    shapes = set()
    for _, module in decoder.named_modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            transpose = isinstance(module, nn.ConvTranspose1d)
            groups = 1 if transpose else module.groups
            shapes.add((transpose, tuple(module.weight.shape), module.stride, module.dilation, groups))
    return shapes


def _tiny_config() -> Qwen3TTSTokenizerDecoderConfig:
    from fixtures.tiny_qwen3_tts import _speech_tokenizer_config

    return Qwen3TTSTokenizerDecoderConfig(**_speech_tokenizer_config()["decoder_config"])


SHAPES = sorted(_layer_shapes(_tiny_config()) | _layer_shapes(Qwen3TTSTokenizerDecoderConfig()))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_fast_layer_equals_mlx_layer(shape: tuple) -> None:
    transpose, (out_ch, kernel, in_ch), stride, dilation, groups = shape
    mx.random.seed(1)
    if transpose:
        stock = nn.ConvTranspose1d(in_ch, out_ch, kernel, stride=stride)
        fast = FastConvTranspose1d(stock)
    else:
        stock = nn.Conv1d(in_ch * groups, out_ch, kernel, dilation=dilation, groups=groups)
        fast = FastConv1d(stock)
    # Causal padding as mlx-audio applies it, so the padded region is compared too.
    x = mx.random.normal((2, 40, in_ch * groups))
    if not transpose:
        x = mx.pad(x, [(0, 0), ((kernel - 1) * dilation, 0), (0, 0)])
    want, got = np.array(stock(x)), np.array(fast(x))
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(np.abs(want).max(), 1e-6)


@pytest.mark.usefixtures("numpy_cpu")
def test_whole_synthesis_matches_the_stock_path(
    tiny_model: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock_copy = Path(__import__("shutil").copytree(tiny_model, tmp_path / "stock"))
    voice, settings = Voice.from_options(reference), SynthesisSettings(max_tokens=FRAMES)
    fast = engine.synthesize("A circle. Watch it grow.", voice, settings, ModelRef.resolve(tiny_model)).samples
    # On the CPU the fast path swaps the decoder's layers; on a GPU (a Mac) it rightly leaves them.
    assert device.is_cpu() == any(
        isinstance(m, FastConv1d) for _, m in loader.load(tiny_model.resolve()).speech_tokenizer.decoder.named_modules()
    )
    monkeypatch.setenv("MANIM_QWEN_MLX_FAST_CPU", "0")
    stock = engine.synthesize("A circle. Watch it grow.", voice, settings, ModelRef.resolve(stock_copy)).samples
    assert not any(
        isinstance(m, FastConv1d) for _, m in loader.load(stock_copy.resolve()).speech_tokenizer.decoder.named_modules()
    )
    assert fast.shape == stock.shape
    assert np.abs(fast - stock).max() <= 1e-4 * max(np.abs(stock).max(), 1e-6)


def test_no_swap_off_the_cpu(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlx_audio.tts.utils import load_model

    model = load_model(tiny_model)
    monkeypatch.setattr(device, "is_cpu", lambda: False)
    model = backends.choose().after_fixes(model)
    assert not any(
        isinstance(m, (FastConv1d, FastConvTranspose1d)) for _, m in model.speech_tokenizer.decoder.named_modules()
    )


def _blas_report(env: dict[str, str], first: str = "") -> str:
    code = f"{first}\nfrom manim_qwen_mlx.backends.blas import prepare_blas\nprint(prepare_blas())"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, **env},
    ).stdout.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="the system OpenBLAS is a Linux remedy")
def test_openblas_is_loaded_before_mlx_when_present() -> None:
    library = blas.find_openblas()
    report = _blas_report({"MANIM_QWEN_MLX_BLAS": ""})
    assert report == (
        f"OpenBLAS {library}" if library else "mlx's bundled reference BLAS (slow: install libopenblas0-pthread)"
    )
    assert "bundled reference BLAS (MANIM_QWEN_MLX_BLAS=off)" in _blas_report({"MANIM_QWEN_MLX_BLAS": "off"})
    assert "mlx was imported before" in _blas_report({}, first="import mlx.core")
    assert "did not load" in _blas_report({"MANIM_QWEN_MLX_BLAS": "/no/such/libblas.so"})
