"""Our decoding loop on the tiny checkpoint: the official policy, rule by rule, and both prompt layouts."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import one_row
import pytest

from manim_qwen_mlx import audio, backends
from manim_qwen_mlx.core.defaults import FAST_CPU_ENV
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import decode, prompt, sentence

GREEDY = decode.Sampling(temperature=0.0, top_k=0, top_p=1.0)


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> Any:
    return loader.load(tiny_model)


@pytest.fixture
def model(loaded: Any, steps: str) -> Any:
    """The loaded model with the backend a load would choose under ``steps``' setting."""
    return replace(loaded, backend=backends.choose())


@pytest.fixture(scope="module")
def clone(loaded: Any) -> prompt.VoicePrompt:
    voice = Voice.from_options(Path(__file__).parents[1] / "example_scenes" / "voices" / "espeak.wav")
    assert voice.ref_audio is not None
    return sentence.voice_prompt(loaded, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)


@pytest.fixture(autouse=True, params=["numpy steps", "mlx steps"])
def steps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every rule holds on both step paths: numpy's single-token steps on the CPU, mlx's elsewhere."""
    monkeypatch.setenv(FAST_CPU_ENV, "1" if request.param == "numpy steps" else "0")
    return str(request.param)


def _bias_first_codebook(model: Any, bias: dict[int, float], monkeypatch: pytest.MonkeyPatch) -> None:
    """The real talker, its codec head given a bias on some codes (to force a behaviour); both step
    paths read the head's weights, so both see it."""
    head = model.talker.codec_head
    biased = nn.Linear(head.weight.shape[1], head.weight.shape[0], bias=True)
    values = np.zeros(head.weight.shape[0], dtype=np.float32)
    for code, value in bias.items():
        values[code] = value
    biased.weight, biased.bias = head.weight, mx.array(values)
    monkeypatch.setitem(model.talker, "codec_head", biased)  # an mlx Module is a dict of its children


def _codes(model: Any, voice: prompt.VoicePrompt, frames: int, penalty: float = 1.0, **layout: Any) -> np.ndarray:
    built = prompt.build(model, "A circle grows slowly.", voice, "auto", layout.get("streaming", False))
    result = one_row.generate(model, built, decode.Sampling(0.0, 0, 1.0, penalty), GREEDY, frames)
    return np.array(result.codes)


def test_frame_ceiling_is_the_number_of_frames(model: Any, clone: prompt.VoicePrompt) -> None:
    assert _codes(model, clone, 9).shape == (9, 16)  # random weights never say end-of-speech


def test_repetition_penalty_is_applied_as_asked(model: Any, clone: prompt.VoicePrompt) -> None:
    plain, mild, strong = (_codes(model, clone, 40, penalty) for penalty in (1.0, 1.05, 1.5))
    assert not np.array_equal(plain, strong) and not np.array_equal(mild, strong)


def test_penalty_formula_covers_the_whole_history() -> None:
    logits = mx.array([[2.0, -2.0, 1.0, 0.5]])
    history = [0, 1] + [3] * 100  # code 0 and 1 are far back, beyond mlx-audio's 64-code window
    penalized = np.array(decode._penalize(mx.array(logits), history, 2.0))
    np.testing.assert_allclose(penalized, [[1.0, -4.0, 1.0, 0.25]])


def test_end_of_speech_waits_for_two_frames(
    model: Any, clone: prompt.VoicePrompt, monkeypatch: pytest.MonkeyPatch
) -> None:
    eos = model.config.codec_eos_id
    _bias_first_codebook(model, {eos: 1e4}, monkeypatch)  # a model that wants to stop at once
    built = prompt.build(model, "Hi.", clone, "auto", False)
    result = one_row.generate(model, built, decode.Sampling(0.9, 50, 1.0), decode.Sampling(0.9, 50, 1.0), 20)
    assert result.ended and result.codes.shape[0] == decode.MIN_FRAMES


def test_a_degenerate_loop_stops_early(model: Any, clone: prompt.VoicePrompt, monkeypatch: pytest.MonkeyPatch) -> None:
    _bias_first_codebook(model, {5: 1e4}, monkeypatch)  # one code, over and over (mlx-audio issue 921)
    built = prompt.build(model, "Hi.", clone, "auto", False)
    result = one_row.generate(model, built, GREEDY, GREEDY, 200)
    assert result.looped and not result.ended and result.codes.shape[0] == decode.LOOP_FRAMES


@pytest.mark.parametrize(
    ("history", "looped"),
    [
        ([7] * 36, True),
        ([1, 2] * 18, True),
        ([1, 2, 3, 4] * 9, True),
        ([7] * 35, False),
        (list(range(36)), False),
        ([1, 2, 3, 4, 5] * 8, False),
    ],
)
def test_loop_detector(history: list[int], looped: bool) -> None:
    assert decode.is_loop(history) is looped


def test_sampling_limits() -> None:
    logits = mx.array([[0.0, 3.0, 1.0, 2.0]])
    mx.random.seed(0)
    for _ in range(20):
        assert int(decode.sample(logits, decode.Sampling(1.0, 1, 1.0)).item()) == 1  # top-k 1
        assert int(decode.sample(logits, decode.Sampling(1.0, 0, 0.01)).item()) == 1  # top-p tiny
        assert int(decode.sample(logits, decode.Sampling(1.0, 2, 1.0)).item()) in (1, 3)
    assert int(decode.sample(logits, GREEDY).item()) == 1


def _own_key(policy: decode.RowPolicy, options: decode.Sampling) -> Any:
    """A row alone: a fresh subkey of its own stream when the draw samples; greedy draws take none."""
    if options.temperature <= 0:
        return None
    policy.key, sub = mx.random.split(policy.key)
    return sub


def test_first_codes_are_each_row_s_own_draw() -> None:
    """first_codes (every row's penalty, masks and sampler in one graph) against each row alone: its logits
    penalized over its own codes, its mask, ``sample`` with its own split key."""
    config = type("Config", (), {"codec_eos_id": 5, "num_code_groups": 16, "vocab_size": 2048})()
    samplers = [decode.Sampling(0.9, 50, 1.0, 1.05), decode.Sampling(0.0, 0, 1.0, 1.5),
                decode.Sampling(1.0, 0, 0.8, 1.0)]
    together = [decode.RowPolicy(config, s, s, 10, seed) for seed, s in enumerate(samplers * 2)]
    alone = [decode.RowPolicy(config, s, s, 10, seed) for seed, s in enumerate(samplers * 2)]
    for turn in range(5):
        logits = mx.random.normal((len(together), 2048), key=mx.random.key(turn)) * 4
        drawn = np.array(decode.first_codes(together, logits)).tolist()
        for index, (policy, code) in enumerate(zip(alone, drawn, strict=True)):
            options = policy.talker_sampling
            own = decode._penalize(logits[index : index + 1], policy.history, options.repetition_penalty) + policy.mask
            assert code == int(decode.sample(own, options, _own_key(policy, options)).item())
        for policies in (together, alone):
            for policy, code in zip(policies, drawn, strict=True):
                policy.take(np.array([code + 100 * turn % 1000] + [0] * 15))  # codes said: the next penalty's
    assert all(np.array_equal(np.array(a.key), np.array(b.key)) for a, b in zip(together, alone, strict=True))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_categorical_over_rows_is_mlx_s_categorical_row_by_row(dtype: str) -> None:
    """Every row's draw equals ``mx.random.categorical`` of that row with its key, over many keys, widths,
    scales and filters (top-k and top-p leave -inf), compiled as the samplers run it."""
    rows = mx.compile(decode.categorical_rows)
    samplers = [decode.Sampling(0.9, 50, 1.0), decode.Sampling(1.0, 0, 0.8), decode.Sampling(0.7, 0, 1.0),
                decode.Sampling(1.0, 3, 0.5)]
    drawn = 0
    for trial in range(120):
        width = [2048, 3072, 16][trial % 3]
        logits = (mx.random.normal((8, width), key=mx.random.key(trial)) * (1 + trial % 9)).astype(getattr(mx, dtype))
        filtered = decode._filtered(logits, samplers[trial % 4])
        keys = mx.stack([mx.random.key(1000 * trial + i) for i in range(8)])
        together = np.array(rows(filtered, keys)).tolist()
        alone = [int(mx.random.categorical(filtered[i : i + 1], key=keys[i]).item()) for i in range(8)]
        assert together == alone, (trial, together, alone)
        drawn += 8
    assert drawn == 960


def _draw_rows(policies: list[decode.RowPolicy], logits: Any) -> Any:
    draws = decode.RowDraws(policies)
    codes, keys = draws(logits, draws.keys())
    draws.keep(keys)
    return codes


def test_rows_drawn_together_draw_what_each_draws_alone() -> None:
    """RowDraws (one compiled graph for the rows sharing a sampler) against each row's own ``sample`` with
    its own split key: the same code every draw, and the same keys after, with mixed and greedy samplers."""
    config = type("Config", (), {"codec_eos_id": 0, "num_code_groups": 16, "vocab_size": 2048})()
    top_k, top_p = decode.Sampling(0.9, 50, 1.0, 1.05), decode.Sampling(1.0, 0, 0.8)
    samplers = [top_k, top_p, top_k, GREEDY, top_k, top_p, top_k]
    together = [decode.RowPolicy(config, top_k, s, 10, seed) for seed, s in enumerate(samplers)]
    alone = [decode.RowPolicy(config, top_k, s, 10, seed) for seed, s in enumerate(samplers)]
    for turn in range(6):
        logits = mx.random.normal((len(samplers), 2048), key=mx.random.key(100 + turn)) * 4
        drawn = np.array(_draw_rows(together, logits)).tolist()
        pairs = enumerate(zip(alone, samplers, strict=True))
        assert drawn == [int(decode.sample(logits[i : i + 1], s, _own_key(p, s)).item()) for i, (p, s) in pairs]
        one = np.array(_draw_rows(together[2:3], logits[2:3])).tolist()  # a row alone, as at batch 1
        assert one == [int(decode.sample(logits[2:3], top_k, _own_key(alone[2], top_k)).item())]
    for mine, theirs in zip(together, alone, strict=True):
        assert np.array_equal(np.array(mine.key), np.array(theirs.key))


def test_subtalker_options_default_to_the_talkers() -> None:
    settings = SynthesisSettings(temperature=0.7, top_k=20, top_p=0.9)
    assert settings.subtalker_sampling() == decode.Sampling(0.7, 20, 0.9)
    own = SynthesisSettings(temperature=0.7, subtalker_temperature=0.3, subtalker_top_k=5)
    assert own.subtalker_sampling() == decode.Sampling(0.3, 5, 1.0)
    assert own.talker_sampling().repetition_penalty == 1.05 and own.subtalker_sampling().repetition_penalty == 1.0


def test_prompt_layouts(model: Any, clone: prompt.VoicePrompt) -> None:
    text, ref_text = "A circle.", clone.ref_text or ""
    spoken = len(model.encode_text(text))
    ref = len(model.encode_text(ref_text))
    frames = clone.ref_codes.shape[2]
    prefix = 3 + 5  # role; think, think-bos, think-eos, speaker, pad (bos comes with the codec)
    flat = prompt.build(model, text, clone, "auto", streaming=False)
    assert flat.embeds.shape[1] == prefix + (ref + spoken + 1) + (1 + frames)
    assert flat.trailing.shape[1] == 1  # text-pad for every generated frame
    interleaved = prompt.build(model, text, clone, "auto", streaming=True)
    text_len, codec_len = ref + spoken + 1, 1 + frames
    assert interleaved.embeds.shape[1] == prefix + codec_len
    assert interleaved.trailing.shape[1] == max(text_len - codec_len, 1)
    preset_like = prompt.build(model, text, prompt.VoicePrompt(instruct="calm"), "auto", streaming=True)
    instruct = len(model.encode_text("<|im_start|>user\ncalm<|im_end|>\n"))
    assert preset_like.embeds.shape[1] == instruct + 3 + 4 + 1  # no speaker; first text token with bos
    assert preset_like.trailing.shape[1] == spoken  # the rest of the text, then tts-eos


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_top_k_draw_over_its_largest_logits_is_the_draw_over_all(dtype: str) -> None:
    """The top-k samplers take their exponentials over the k + TOP_K_SLACK largest logits only: the draws and
    keys are the full computation's, bit for bit, also where logits tie at the k-th value (rounded logits, as
    bfloat16 ones tie), at the talker's and the code predictor's widths."""
    tied = 0
    for trial in range(60):
        width = [2048, 3072][trial % 2]
        options = decode.Sampling([0.9, 1.0, 0.7][trial % 3], [50, 3, 1][trial % 3], 1.0)
        scale = 3 + trial % 5
        logits = (mx.round(mx.random.normal((8, width), key=mx.random.key(trial)) * scale * 50) / 50).astype(
            getattr(mx, dtype))
        keys = mx.stack([mx.random.key(500 * trial + i) for i in range(8)])
        codes, after = decode._row_sampler(options)(logits, keys)
        pairs = mx.vmap(mx.random.split)(keys)
        full = decode.categorical_rows(decode._filtered(logits, options), pairs[:, 1])
        assert np.array(codes).tolist() == np.array(full).tolist(), trial
        np.testing.assert_array_equal(np.array(after), np.array(pairs[:, 0]))
        expected = decode._weights(decode._filtered(logits, options))
        np.testing.assert_array_equal(np.array(decode._top_k_weights(logits, options)), np.array(expected))
        kth = np.sort(np.array(logits.astype(mx.float32)), axis=-1)[:, width - options.top_k]
        tied += int((np.sum(np.array(logits.astype(mx.float32)) == kth[:, None], axis=-1) > 1).sum())
    assert tied > 10  # rows whose k-th value is shared: the case the slack is for
