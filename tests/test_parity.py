"""Same speech as the official qwen-tts: our outputs against its outputs for the suite's tiny checkpoint.

tests/data/parity.npz comes from scripts/parity/run.sh (the official implementation in its own venv).
Greedy decoding, so the codes must be equal, not just close.
"""

from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
from conftest import REPO

from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import decode, prompt, scheduler, sentence

DATA = np.load(REPO / "tests" / "data" / "parity.npz")
GREEDY = decode.Sampling(temperature=0.0, top_k=0, top_p=1.0)


def _snr_db(reference: np.ndarray, ours: np.ndarray) -> float:
    assert ours.shape == reference.shape
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum((reference - ours) ** 2), 1e-30)))


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> Any:
    return loader.load(tiny_model)


@pytest.fixture(scope="module")
def voice(model: Any) -> prompt.VoicePrompt:
    return sentence.voice_prompt(model, "clone", DATA["clip_24k"], str(DATA["ref_text"]))


def test_reference_codes_and_speaker_embedding(voice: prompt.VoicePrompt) -> None:
    np.testing.assert_array_equal(np.array(voice.ref_codes)[0].T, DATA["ref_codes"])
    x_vector = np.array(voice.x_vector).reshape(-1)
    np.testing.assert_allclose(x_vector, DATA["x_vector"], rtol=0, atol=1e-5 * np.abs(DATA["x_vector"]).max())


@pytest.mark.parametrize("streaming", [False, True], ids=["flat", "streaming"])
@pytest.mark.parametrize("penalty", [1.0, 1.05, 1.5])
def test_greedy_codes_equal_the_official(
    model: Any, voice: prompt.VoicePrompt, streaming: bool, penalty: float
) -> None:
    expected = DATA[f"codes_{'streaming' if streaming else 'flat'}_{penalty}"]
    built = prompt.build(model, str(DATA["text"]), voice, "auto", streaming)
    result = scheduler.generate(model, built, decode.Sampling(0.0, 50, 1.0, penalty), GREEDY, 75)
    np.testing.assert_array_equal(np.array(result.codes), expected)
    assert result.ended == (len(expected) < 75)


def test_clone_waveform_matches_the_official(model: Any) -> None:
    context = model.decoder_context(mx.array(DATA["ref_codes"].T[None]))  # from the reference's codes alone
    ours = decode.to_audio(model, mx.array(DATA["codes_flat_1.05"]), context)
    assert _snr_db(DATA["clone_wav"], ours) >= 60


def test_code_zero_decodes_like_any_code(model: Any) -> None:
    ours = decode.to_audio(model, mx.array(DATA["zeros_codes"]))
    assert _snr_db(DATA["zeros_wav"], ours) >= 60


def test_a_model_that_stops_at_once_still_speaks_two_frames(tiny_eager: Path) -> None:
    eager = loader.load(tiny_eager)
    spoken = sentence.voice_prompt(eager, "clone", DATA["clip_24k"], str(DATA["ref_text"]))
    built = prompt.build(eager, str(DATA["text"]), spoken, "auto", False)
    result = scheduler.generate(eager, built, decode.Sampling(0.0, 50, 1.0, 1.05), GREEDY, 75)
    np.testing.assert_array_equal(np.array(result.codes), DATA["eager_codes"])  # official: min_new_tokens=2
    assert result.ended and len(DATA["eager_codes"]) == decode.MIN_FRAMES


def test_the_fixture_reference_codes_are_not_degenerate() -> None:
    # All-zero reference codes would hide the valid-length bug (test_code_zero... checks it directly).
    assert DATA["ref_codes"].any() and len(np.unique(DATA["ref_codes"])) > 16
