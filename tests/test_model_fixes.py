"""The fixes applied to mlx-audio's Qwen3-TTS at load, each against a computation of its own."""

import math
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx_audio.dsp import mel_filters
from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import DecoderTransformer
from scipy.signal import get_window

from manim_qwen_mlx.model import fixes as model_fixes
from manim_qwen_mlx.model import loader


def _decoder_transformer(window: int) -> DecoderTransformer:
    mx.random.seed(0)
    config = Qwen3TTSTokenizerDecoderConfig(
        latent_dim=16, hidden_size=16, intermediate_size=32, head_dim=8, num_attention_heads=2,
        num_key_value_heads=2, num_hidden_layers=1, sliding_window=window,
    )
    return DecoderTransformer(config)


def _changed_outputs(transformer: DecoderTransformer, poke: int, length: int = 16) -> set[int]:
    """Positions whose output moves when the input at ``poke`` does (one layer: its receptive field)."""
    x = mx.random.normal((1, length, 16), key=mx.random.key(1))
    y = np.array(transformer(x))
    bumped = np.array(transformer(x.at[:, poke, :].add(1.0)))
    return {t for t in range(length) if not np.allclose(y[0, t], bumped[0, t], atol=1e-6)}


def test_decoder_attends_only_within_its_sliding_window() -> None:
    stock = _decoder_transformer(window=4)
    assert _changed_outputs(stock, poke=3) == set(range(3, 16))  # mlx-audio: every later frame sees it
    fixed = _decoder_transformer(window=4)
    model_fixes._sliding_window_decoder(fixed)
    # A query at t sees keys t-3 .. t: input 3 reaches outputs 3, 4, 5 and 6 only.
    assert _changed_outputs(fixed, poke=3) == {3, 4, 5, 6}


def test_sliding_window_mask_with_a_cache_offset() -> None:
    mask = np.array(model_fixes.sliding_window_mask(offset=5, length=2, window=3))
    assert mask.shape == (2, 7)
    assert [list(np.isfinite(row).nonzero()[0]) for row in mask] == [[3, 4, 5], [4, 5, 6]]


@pytest.fixture(scope="module")
def fixed_model(tiny_model: Path):
    return loader.load(tiny_model)


def test_every_decoded_frame_counts_also_code_zero(fixed_model) -> None:
    codes = mx.array(np.tile([[0] * 16, [5] * 16, [0] * 16], (1, 4, 1)).astype(np.int32))  # [1, 12, 16]
    wav, lengths = fixed_model.speech_tokenizer.decode(codes)
    assert int(lengths[0]) == 12 * fixed_model.speech_tokenizer.decode_upsample_rate <= wav.shape[-1]


def test_reference_encoder_uses_exact_gelu(fixed_model) -> None:
    x = mx.linspace(-4, 4, 81)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in np.array(x)])
    layers = fixed_model.speech_tokenizer.encoder_model.encoder_transformer.transformer.layers
    for layer in layers:
        np.testing.assert_allclose(np.array(layer.gating.activation(x)), exact, atol=1e-6)
    assert np.abs(np.array(nn.gelu_approx(x)) - exact).max() > 1e-4  # the approximation is not exact


def test_speaker_mel_uses_a_periodic_hann_window() -> None:
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(24_000).astype(np.float32) * 0.1
    n_fft, hop = 1024, 256
    pad = (n_fft - hop) // 2
    padded = np.concatenate([audio[1 : pad + 1][::-1], audio, audio[-(pad + 1) : -1][::-1]])
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * get_window("hann", n_fft), axis=-1)  # scipy's default is periodic
    magnitude = np.sqrt(np.abs(spectrum) ** 2 + 1e-9)
    basis = np.array(mel_filters(24_000, n_fft, 128, 0.0, 12_000.0, norm="slaney", mel_scale="slaney"))
    expected = np.log(np.clip(magnitude @ basis.T, 1e-5, None))
    ours = np.array(model_fixes.speaker_mel(mx.array(audio)))[0]
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5)  # a symmetric window is off by 1e-2
