"""The decoder's waveform stages in numpy equal mlx-audio's layers, at the tiny and the released sizes."""

from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_map
from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizerDecoder

from manim_qwen_mlx.backends import device
from manim_qwen_mlx.backends.numpy_cpu import decoder as cpu_decoder


def _decoder(config: Qwen3TTSTokenizerDecoderConfig) -> Any:
    """Random weights (mlx's own initialisation), Snake parameters away from zero so they matter."""
    mx.random.seed(5)
    decoder = Qwen3TTSSpeechTokenizerDecoder(config)
    for layer in decoder.decoder[1:]:
        for _, module in layer.named_modules():
            if "alpha" in module:
                module.alpha = mx.random.normal(module.alpha.shape) * 0.3
                module.beta = mx.random.normal(module.beta.shape) * 0.3
    mx.eval(decoder.parameters())
    return decoder


def _tiny_config() -> Qwen3TTSTokenizerDecoderConfig:
    from fixtures.tiny_qwen3_tts import _speech_tokenizer_config

    return Qwen3TTSTokenizerDecoderConfig(**_speech_tokenizer_config()["decoder_config"])


@pytest.mark.parametrize("chunk", [cpu_decoder.CHUNK_VALUES, 2048], ids=["chunk default", "chunk small"])
@pytest.mark.parametrize("size", ["tiny", "released"])
def test_numpy_stages_equal_mlx_audios_layers(size: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_decoder, "CHUNK_VALUES", chunk)  # small: many chunks, so their seams are crossed
    decoder = _decoder(_tiny_config() if size == "tiny" else Qwen3TTSTokenizerDecoderConfig())
    channels = decoder.decoder[0].conv.weight.shape[2]
    x = mx.random.normal((2, 3, channels))  # two batch items, three input steps
    for layer in decoder.decoder:  # the first convolution, the blocks, the last Snake and convolution
        stand_in = cpu_decoder.numpy_version(layer)
        assert stand_in is not None, type(layer).__name__
        want, got = np.array(layer(x)), np.array(stand_in(x))
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), type(layer).__name__
        x = mx.array(want)


def test_other_precisions_keep_mlx_audios_layers() -> None:
    decoder = _decoder(_tiny_config())
    block = decoder.decoder[1]
    block.update(tree_map(lambda p: p.astype(mx.bfloat16), block.parameters()))
    assert cpu_decoder.numpy_version(block) is None
    assert cpu_decoder.numpy_version(decoder.upsample[0][1]) is None  # a ConvNeXt block: not a waveform stage


def test_stages_read_the_loaded_weights_in_place() -> None:
    decoder = _decoder(_tiny_config())
    unit = decoder.decoder[1].block[2]
    stand_in = cpu_decoder.ResidualUnit(unit)
    assert np.shares_memory(stand_in.conv1.weight, np.asarray(unit.conv1.conv.weight))  # a view, no copy


def test_a_transposed_view_of_the_upsampling_weights_is_copied_once_into_product_order() -> None:
    """A checkpoint's transposed-convolution weights load as a transposed view ([in, out, K] in memory)."""
    decoder = _decoder(_tiny_config())
    snake, upsample = decoder.decoder[1].block[:2]
    stored = mx.array(np.ascontiguousarray(np.asarray(upsample.conv.weight).transpose(2, 0, 1)))  # [in, out, K]
    x = mx.random.normal((1, 4, snake.alpha.shape[0]))
    want = np.array(upsample(snake(x)))
    upsample.conv.weight = stored.transpose(1, 2, 0)  # what loading makes: [out, K, in] over [in, out, K]
    stand_in = cpu_decoder.Upsample(snake, upsample)
    assert stand_in.conv.weight.flags.c_contiguous
    assert np.abs(stand_in(np.array(x[0])) - want[0]).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.usefixtures("numpy_cpu")
def test_the_decoder_can_be_called_directly_after_the_swap(tiny_model: Path) -> None:
    """mlx-audio's own paths call the decoder (an mx.compile wrapper when loaded) directly."""
    from manim_qwen_mlx.model import loader

    decoder = loader.load(tiny_model).speech_tokenizer.decoder
    assert any(isinstance(layer, cpu_decoder.NumpyBlock) for layer in decoder.decoder) == device.is_cpu()
    audio = decoder(mx.random.randint(1, 2048, (1, 16, 5)))
    assert audio.shape == (1, 1, 5 * decoder.total_upsample)
