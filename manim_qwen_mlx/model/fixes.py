"""Fixes to mlx-audio's loaded Qwen3-TTS objects, applied once at load, so that they compute what the
official ``qwen-tts`` implementation computes (docs/fidelity.md). This is the one module that changes
mlx-audio's objects for correctness (the numpy-cpu backend swaps layers for speed, with equal results):

1. The speech decoder's transformer attends within its sliding window (``sliding_window`` frames, 72
   in the released decoder), as every layer of the official decoder does; mlx-audio reads the value
   but builds a plain causal mask, so from frame 72 on its audio drifts from the official.
2. The decoded length counts every frame. mlx-audio counts code 0 of the first codebook as padding
   (``> 0``; official ``> -1``), so each such code cut 80 ms off the end of a clone and moved the cut
   that removes the reference.
3. The reference encoder's transformer uses exact (erf) GELU, as the official one; mlx-audio's Mimi
   default is the tanh approximation, enough to flip reference codes near ties.
4. The speaker encoder's mel spectrogram uses a periodic Hann window (``torch.hann_window``), not a
   symmetric one.

Each fix is a named function that takes and returns the model, with a probe (``fix_probes``) that
tells whether the installed mlx-audio still computes what it corrects. ``apply`` applies, in order,
only the fixes whose probe says so, so a newer mlx-audio that made one upstream is never fixed twice;
``states`` says which apply (``doctor`` prints it). Audio changes with these fixes, so ``FIXES_VERSION``
is part of the cache schema and of the stored voice prompts' key: bump it whenever a fix is added or
changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from manim_qwen_mlx.backends.base import MlxAudioTTS
from manim_qwen_mlx.core.defaults import LOGGER_NAME
from manim_qwen_mlx.model import fix_probes

log = logging.getLogger(LOGGER_NAME)
FIXES_VERSION = 1
SPEAKER_MEL = {"n_fft": 1024, "num_mels": 128, "sample_rate": 24_000, "hop": 256, "fmin": 0.0, "fmax": 12_000.0}


def fix_sliding_window(model: MlxAudioTTS) -> MlxAudioTTS:
    """Fix 1: the decoder's transformer attends within its sliding window."""
    # mlx-audio wraps the decoder in mx.compile; the wrapper reaches the module's items, not its attributes.
    _sliding_window_decoder(dict(model.speech_tokenizer.decoder.items())["pre_transformer"])
    return model


def fix_valid_length(model: MlxAudioTTS) -> MlxAudioTTS:
    """Fix 2: the decoded length counts every frame."""
    _full_valid_length(model.speech_tokenizer)
    return model


def fix_exact_gelu(model: MlxAudioTTS) -> MlxAudioTTS:
    """Fix 3: the reference encoder's transformer uses exact GELU."""
    if getattr(model.speech_tokenizer, "encoder_model", None) is not None:
        _exact_gelu(model.speech_tokenizer.encoder_model.encoder_transformer)
    return model


def fix_speaker_mel(model: MlxAudioTTS) -> MlxAudioTTS:
    """Fix 4: the speaker embedding is computed from the official mel spectrogram."""
    if getattr(model, "speaker_encoder", None) is not None:
        model.extract_speaker_embedding = speaker_embedding_with_periodic_hann(model)
    return model


@dataclass(frozen=True)
class Fix:
    name: str
    corrects: str  # what mlx-audio computes that the official implementation does not
    still_wrong: Callable[[], bool]  # the probe
    apply: Callable[[MlxAudioTTS], MlxAudioTTS]


@dataclass(frozen=True)
class FixState:
    name: str
    corrects: str
    applies: bool | None  # None: the probe could not run, so the fix is left out
    detail: str


FIXES = (
    Fix("decoder window", "the speech decoder attends past its sliding window", fix_probes.unwindowed_decoder,
        fix_sliding_window),
    Fix("decoded length", "frames whose first code is 0 are cut from a decode", fix_probes.trims_code_zero,
        fix_valid_length),
    Fix("exact GELU", "the reference encoder uses tanh-approximate GELU", fix_probes.approximate_gelu,
        fix_exact_gelu),
    Fix("speaker mel", "the speaker encoder's mel uses a symmetric Hann window", fix_probes.symmetric_speaker_window,
        fix_speaker_mel),
)


@cache
def states() -> tuple[FixState, ...]:
    """Each fix and whether the installed mlx-audio needs it (probed once per process)."""
    found = []
    for fix in FIXES:
        try:
            wrong = fix.still_wrong()
        except Exception as exc:  # mlx-audio's code changed under the probe: never patch what we cannot test
            log.warning("Could not probe mlx-audio for the %s fix (%s: %s); it is not applied.", fix.name,
                        type(exc).__name__, exc)
            found.append(FixState(fix.name, fix.corrects, None, f"not applied: the probe failed ({exc})"))
            continue
        detail = "applied at load" if wrong else "not needed: this mlx-audio already computes it officially"
        found.append(FixState(fix.name, fix.corrects, wrong, detail))
    return tuple(found)


def signature() -> str:
    """What the fixes make of a model, for the voice store's key: their version, and each fix whose probe
    could not run (left out, so mlx-audio's own values stand where the fix would have changed them)."""
    unprobed = "".join(f"-unprobed-{index}" for index, state in enumerate(states()) if state.applies is None)
    return f"fixes-{FIXES_VERSION}{unprobed}"


def apply(model: MlxAudioTTS) -> MlxAudioTTS:
    """The fixes this mlx-audio still needs, applied in order."""
    for fix, state in zip(FIXES, states(), strict=True):
        if state.applies:
            model = fix.apply(model)
    return model


def sliding_window_mask(offset: int, length: int, window: int) -> Any:
    """Additive mask [length, offset + length]: query ``offset + i`` sees keys ``k`` with
    ``offset + i - window < k <= offset + i`` (HF's sliding-window causal mask)."""
    import mlx.core as mx

    queries = mx.arange(offset, offset + length)[:, None]
    keys = mx.arange(offset + length)[None, :]
    visible = (keys <= queries) & (keys > queries - window)
    return mx.where(visible, mx.array(0.0), mx.array(-mx.inf))


def _sliding_window_decoder(transformer: Any) -> None:
    """Give this DecoderTransformer instance a class whose default mask is the sliding window. Trick kept:
    mlx-audio calls it with and without a cache and reads its ``make_cache``; a subclass keeps them all."""
    base = type(transformer)
    window = int(transformer.config.sliding_window)

    class SlidingWindowDecoderTransformer(base):  # type: ignore[misc, valid-type]
        def __call__(self, inputs_embeds: Any, mask: Any = None, cache: Any = None) -> Any:
            offset = cache[0].offset if cache is not None else 0
            if mask is None and offset + inputs_embeds.shape[1] > 1:
                mask = sliding_window_mask(offset, inputs_embeds.shape[1], window).astype(inputs_embeds.dtype)
            return super().__call__(inputs_embeds, mask, cache)

    transformer.__class__ = SlidingWindowDecoderTransformer


def _full_valid_length(tokenizer: Any) -> None:
    # Replaced on the object, not wrapped by us alone: mlx-audio's own paths on this module call it too.
    decode = tokenizer.decode

    def decode_every_frame(audio_codes: Any) -> Any:
        import mlx.core as mx

        wav, _ = decode(audio_codes)
        frames = audio_codes.shape[1]
        return wav, mx.full((audio_codes.shape[0],), frames * tokenizer.decode_upsample_rate, dtype=mx.int32)

    tokenizer.decode = decode_every_frame


def _exact_gelu(projected_transformer: Any) -> None:
    import mlx.nn as nn

    for layer in projected_transformer.transformer.layers:
        mlp = layer.gating
        if hasattr(mlp, "activation"):
            mlp.activation = nn.gelu  # type: ignore[attr-defined]


def speaker_mel(audio: Any) -> Any:
    """Log-mel spectrogram [1, frames, 128] of 24 kHz audio as the official speaker encoder sees it:
    reflect padding, periodic Hann window, magnitude with 1e-9, Slaney mel, log of values >= 1e-5."""
    import mlx.core as mx
    from mlx_audio.dsp import hanning, mel_filters, stft

    n_fft, hop = SPEAKER_MEL["n_fft"], SPEAKER_MEL["hop"]
    samples = mx.array(audio).reshape(-1).astype(mx.float32)
    pad = (n_fft - hop) // 2
    samples = mx.concatenate([samples[1 : pad + 1][::-1], samples, samples[-(pad + 1) : -1][::-1]])
    window = hanning(n_fft, periodic=True)
    spec = stft(samples, n_fft=n_fft, hop_length=hop, win_length=n_fft, window=window, center=False)
    magnitude = mx.sqrt(mx.abs(spec) ** 2 + 1e-9)
    basis = mel_filters(
        sample_rate=SPEAKER_MEL["sample_rate"],
        n_fft=n_fft,
        n_mels=SPEAKER_MEL["num_mels"],
        f_min=SPEAKER_MEL["fmin"],
        f_max=SPEAKER_MEL["fmax"],
        norm="slaney",
        mel_scale="slaney",
    )
    return mx.log(mx.clip(magnitude @ basis.T, 1e-5, None))[None]


def speaker_embedding_with_periodic_hann(model: MlxAudioTTS) -> Callable[..., Any]:
    """Fix 4: mlx-audio's ``extract_speaker_embedding`` with the official mel spectrogram."""

    def extract_speaker_embedding(audio: Any, sr: int = 24_000) -> Any:
        import mlx.core as mx

        if sr != SPEAKER_MEL["sample_rate"]:
            raise ValueError("Only 24 kHz audio is supported for speaker embedding extraction")
        embedding = model.speaker_encoder(speaker_mel(audio))
        mx.eval(embedding)
        return embedding

    return extract_speaker_embedding
