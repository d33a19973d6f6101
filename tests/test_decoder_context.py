"""A clone's sentence decoded from the decoder's state after the reference equals the official way:
the reference's codes decoded in front, their share cut off (within 1e-4 and >= 60 dB), on both
backends, on references longer than the 72-frame window, for one-frame sentences and across the
official decoder's 300-frame chunks. The state travels with the voice prompt."""

from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import one_row
import pytest

from manim_qwen_mlx.core.defaults import FAST_CPU_ENV, VOICE_STORE_FOLDER
from manim_qwen_mlx.model import decoder_context, loader

SAMPLES_PER_FRAME = 1920
# (reference frames, sentence frames): no reference; short; longer than the window with a one-frame
# and a longer sentence; a sentence crossing a chunk's end; a reference ending on one; one past it.
CASES = [(0, 40), (5, 3), (100, 1), (100, 30), (290, 20), (300, 10), (310, 300)]
DEEP_CASES = [(80, 1), (80, 30), (290, 20)]


def _load(folder: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(FAST_CPU_ENV, "1" if backend == "numpy-cpu" else "0")
    model = loader.load(folder)
    assert model.backend.name == backend
    return model


def _assert_same_as_full_decode(model: Any, cases: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(len(cases))
    for reference, sentence in cases:
        codes = rng.integers(0, 2048, size=(reference + sentence, 16)).astype(np.int32)
        full = np.array(one_row.whole(model, mx.array(codes[None])))[reference * SAMPLES_PER_FRAME :]
        context = model.decoder_context(mx.array(codes[:reference].T[None])) if reference else None
        ours = one_row.after(model, context or model.decoder_context(), codes[reference:])
        assert ours.shape == full.shape, (reference, sentence)
        error = float(np.sum((ours - full) ** 2))
        snr = np.inf if error == 0 else 10 * np.log10(float(np.sum(full**2)) / error)
        # Float rounding only: within 1e-4, or >= 60 dB where random weights' gain amplifies it.
        assert np.abs(ours - full).max() <= 1e-4 or snr >= 60, (reference, sentence, snr)


@pytest.fixture(scope="module")
def deep_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "deep-decoder", decoder_layers=3)


@pytest.mark.parametrize("backend", ["numpy-cpu", "mlx"])
def test_decoding_after_the_reference_equals_decoding_it_in_front(
    deep_decoder: Path, backend: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder per backend: the loader keeps one model per folder and process.
    folder = tmp_path_factory.mktemp(backend) / "model"
    folder.symlink_to(deep_decoder, target_is_directory=True)
    _assert_same_as_full_decode(_load(folder, backend, monkeypatch), CASES)


def test_two_waveform_blocks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each block's reach (a transposed convolution, then residual units) counted through two blocks."""
    from fixtures.tiny_qwen3_tts import build_checkpoint

    folder = build_checkpoint(tmp_path_factory.mktemp("models") / "two-blocks", decoder_layers=3, two_blocks=True)
    model = _load(folder, "numpy-cpu", monkeypatch)
    assert model.continued_decoder.latent_reach >= 2
    _assert_same_as_full_decode(model, DEEP_CASES)


def test_the_state_is_kept_with_the_voice(
    deep_decoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _load(deep_decoder, "numpy-cpu", monkeypatch)
    samples = mx.array(np.random.default_rng(1).standard_normal(24_000).astype(np.float32))
    codes = mx.array(np.random.default_rng(2).integers(0, 2048, size=(1, 16, 90)).astype(np.int32))
    first = model.decoder_context(codes, samples, tmp_path)
    stored = list((tmp_path / VOICE_STORE_FOLDER).rglob(f"*.decoder-{decoder_context.CONTEXT_VERSION}.npz"))
    assert len(stored) == 1
    assert first.keys.shape[2] == 72 and first.position == 90  # the window's frames only

    fresh = type(model)(model.module, model.config, model.backend, type(model.voice_prompts)("another process"),
                        model.path)
    fresh.voice_prompts.model_id = model.voice_prompts.model_id  # the same model and fixes

    def not_again(self: Any, codes: Any) -> Any:
        raise AssertionError("computed again")

    monkeypatch.setattr(decoder_context.ContinuedDecoder, "after", not_again)
    again = fresh.decoder_context(codes, samples, tmp_path)
    for name, value in first.arrays().items():
        np.testing.assert_array_equal(again.arrays()[name], value)

    monkeypatch.undo()
    stored[0].write_bytes(b"damaged")
    repaired = type(model)(model.module, model.config, model.backend, type(model.voice_prompts)("x"), model.path)
    repaired.voice_prompts.model_id = model.voice_prompts.model_id
    np.testing.assert_array_equal(repaired.decoder_context(codes, samples, tmp_path).keys, first.keys)
