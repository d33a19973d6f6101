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


def test_on_the_installed_mlx_audio_every_fix_applies() -> None:
    states = model_fixes.states()
    assert [s.name for s in states] == [f.name for f in model_fixes.FIXES]
    assert all(s.applies is True and s.detail == "applied at load" for s in states)
    assert model_fixes.signature() == f"fixes-{model_fixes.FIXES_VERSION}"  # the stored voices' key as before


@pytest.fixture
def official_mlx_audio(monkeypatch: pytest.MonkeyPatch):
    """A stand-in for an mlx-audio that made all four fixes upstream: its classes patched to compute what
    the official implementation does, the probes asked afresh; all put back afterwards."""
    from mlx_audio.codec.models.mimi.modules.transformer import MlpNoGating
    from mlx_audio.tts.models.qwen3_tts import qwen3_tts
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizer

    transformer_call, decode = DecoderTransformer.__call__, Qwen3TTSSpeechTokenizer.decode
    mlp_init = MlpNoGating.__init__

    def windowed(self, inputs_embeds, mask=None, cache=None):
        offset = cache[0].offset if cache is not None else 0
        if mask is None and offset + inputs_embeds.shape[1] > 1:
            window = int(self.config.sliding_window)
            mask = model_fixes.sliding_window_mask(offset, inputs_embeds.shape[1], window).astype(inputs_embeds.dtype)
        return transformer_call(self, inputs_embeds, mask, cache)

    def every_frame(self, audio_codes):
        wav, _ = decode(self, audio_codes)
        return wav, mx.full((audio_codes.shape[0],), audio_codes.shape[1] * self.decode_upsample_rate, dtype=mx.int32)

    def exact(self, cfg):
        mlp_init(self, cfg)
        self.activation = nn.gelu

    monkeypatch.setattr(DecoderTransformer, "__call__", windowed)
    monkeypatch.setattr(Qwen3TTSSpeechTokenizer, "decode", every_frame)
    monkeypatch.setattr(MlpNoGating, "__init__", exact)
    monkeypatch.setattr(qwen3_tts, "mel_spectrogram", lambda audio, **_: model_fixes.speaker_mel(audio))
    model_fixes.states.cache_clear()
    model_fixes.fix_probes.tiny_tokenizer.cache_clear()
    yield
    monkeypatch.undo()
    model_fixes.states.cache_clear()
    model_fixes.fix_probes.tiny_tokenizer.cache_clear()


def test_no_fix_is_applied_where_mlx_audio_already_computes_it(
    official_mlx_audio: None, fixed_model, tiny_model: Path, tmp_path: Path
) -> None:
    import shutil

    from manim_qwen_mlx.audio.clips import load_reference

    states = model_fixes.states()
    assert [s.applies for s in states] == [False] * 4
    assert all("not needed" in s.detail for s in states)
    stand_in = loader.load(Path(shutil.copytree(tiny_model, tmp_path / "official")))  # not the shared load
    pre_transformer = dict(stand_in.speech_tokenizer.decoder.items())["pre_transformer"]
    assert type(pre_transformer) is DecoderTransformer  # no window of ours on top of theirs
    assert "decode_every_frame" not in stand_in.speech_tokenizer.decode.__qualname__  # nor a length of ours
    # What the stand-in computes unfixed is what the fixed installed mlx-audio computes: nothing twice.
    codes = mx.array(np.random.default_rng(0).integers(0, 64, (1, 80, 16)).astype(np.int32))  # past the window
    codes[:, 5, 0] = 0
    for ours, theirs in zip(stand_in.speech_tokenizer.decode(codes), fixed_model.speech_tokenizer.decode(codes),
                            strict=True):
        np.testing.assert_allclose(np.array(ours), np.array(theirs), atol=1e-5)
    clip = mx.array(load_reference(Path(__file__).parents[1] / "example_scenes" / "voices" / "espeak.wav"))
    np.testing.assert_allclose(np.array(stand_in.speech_tokenizer.encode(clip[None, None])),
                               np.array(fixed_model.speech_tokenizer.encode(clip[None, None])))
    np.testing.assert_allclose(np.array(stand_in.module.extract_speaker_embedding(clip)),
                               np.array(fixed_model.module.extract_speaker_embedding(clip)), atol=1e-5)


def test_a_probe_that_cannot_run_leaves_its_fix_out_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    from manim_qwen_mlx.model import doctor

    def changed() -> bool:
        raise AttributeError("'DecoderTransformer' object has no attribute 'config'")

    applied: list[str] = []

    def recorded(fix: model_fixes.Fix) -> model_fixes.Fix:
        return replace(fix, apply=lambda model: applied.append(fix.name) or model)

    first, *others = model_fixes.FIXES
    monkeypatch.setattr(model_fixes, "FIXES", (replace(recorded(first), still_wrong=changed), *map(recorded, others)))
    model_fixes.states.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="manim.qwen_mlx"):
            states = model_fixes.states()
        assert states[0].applies is None and "probe failed" in states[0].detail
        assert "decoder window fix (AttributeError" in caplog.text and "it is not applied" in caplog.text
        model = object()
        assert model_fixes.apply(model) is model
        assert applied == [fix.name for fix in others]  # the others, in order; never the one not probed
        checks = {check.name: check for check in doctor._fixes()}
        assert checks["decoder window"].status == "warn" and "reinstall" in checks["decoder window"].fix
        assert checks["decoded length"].status == "ok" and "applied at load" in checks["decoded length"].detail
        # A stored voice made without that fix is never read where it is applied, nor the other way round.
        assert model_fixes.signature() == f"fixes-{model_fixes.FIXES_VERSION}-unprobed-0"
    finally:
        monkeypatch.undo()
        model_fixes.states.cache_clear()
