"""Probes: does the installed mlx-audio still compute what each fix of ``fixes`` corrects?

Each probe runs mlx-audio's own code on a tiny input: a speech tokenizer built from its own config
classes at a few channels (random weights, no checkpoint read), so ``doctor`` can ask without a model,
and a newer mlx-audio that already behaves as the official implementation is left alone. A probe
returns True where mlx-audio still differs; one that cannot run raises, and the caller says so.
"""

from __future__ import annotations

from functools import cache
from typing import Any

WINDOW = 2  # the tiny decoder's sliding window: a few frames more than it tell a window from none
_DECODER = {
    "latent_dim": 16, "codebook_dim": 130, "codebook_size": 64, "decoder_dim": 2, "hidden_size": 16,
    "intermediate_size": 32, "head_dim": 8, "num_attention_heads": 2, "num_key_value_heads": 2,
    "num_hidden_layers": 1, "num_quantizers": 16, "num_semantic_quantizers": 1, "sliding_window": WINDOW,
    "upsample_rates": [2], "upsampling_ratios": [2, 2],
}
_ENCODER = {
    "frame_rate": 12.5, "codebook_dim": 8, "codebook_size": 64, "hidden_size": 16, "intermediate_size": 32,
    "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 8, "num_filters": 2,
    "num_hidden_layers": 1, "num_quantizers": 32, "num_residual_layers": 1, "upsampling_ratios": [8, 6, 5, 4],
    "sampling_rate": 24_000,
}


@cache
def tiny_tokenizer() -> Any:
    """mlx-audio's speech tokenizer (decoder and reference encoder) at the smallest widths it builds."""
    from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerConfig
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizer

    config = Qwen3TTSTokenizerConfig(decoder_config=dict(_DECODER), encoder_config=dict(_ENCODER),
                                     decode_upsample_rate=8, encode_downsample_rate=1920)
    return Qwen3TTSSpeechTokenizer(config)


def unwindowed_decoder() -> bool:
    """Fix 1: the decoder's transformer, called without a mask, lets a frame see past its window."""
    import mlx.core as mx

    from manim_qwen_mlx.model.fixes import sliding_window_mask

    transformer = dict(tiny_tokenizer().decoder.items())["pre_transformer"]
    window = int(transformer.config.sliding_window)
    x = mx.random.normal((1, window + 3, transformer.config.latent_dim), key=mx.random.key(0))
    windowed = transformer(x, mask=sliding_window_mask(0, x.shape[1], window).astype(x.dtype))
    return not bool(mx.allclose(transformer(x), windowed, atol=1e-5))


def trims_code_zero() -> bool:
    """Fix 2: decoding cuts frames whose first code is 0 from the length it reports."""
    import mlx.core as mx

    tokenizer = tiny_tokenizer()
    codes = mx.zeros((1, 3, 16), dtype=mx.int32)
    _, lengths = tokenizer.decode(codes)
    return bool(int(lengths[0]) != 3 * tokenizer.decode_upsample_rate)


def approximate_gelu() -> bool:
    """Fix 3: the reference encoder's transformer uses the tanh approximation of GELU."""
    import mlx.core as mx
    import mlx.nn as nn

    activation = tiny_tokenizer().encoder_model.encoder_transformer.transformer.layers[0].gating.activation
    x = mx.linspace(-4, 4, 81)
    return not bool(mx.allclose(activation(x), nn.gelu(x), atol=1e-6))  # type: ignore[attr-defined]


def symmetric_speaker_window() -> bool:
    """Fix 4: the speaker encoder's mel spectrogram differs from the official one (a symmetric Hann
    window): mlx-audio's own extractor is called with an encoder that hands back what it is given."""
    import mlx.core as mx
    from mlx_audio.tts.models.qwen3_tts.qwen3_tts import Model

    from manim_qwen_mlx.model.fixes import speaker_mel

    class Echo:
        def speaker_encoder(self, mels: Any) -> Any:
            return mels

    audio = mx.random.normal((4096,), key=mx.random.key(0)) * 0.1
    theirs = Model.extract_speaker_embedding(Echo(), audio)
    ours = speaker_mel(audio)
    return theirs.shape != ours.shape or not bool(mx.allclose(theirs, ours, atol=1e-4))
