"""numpy's single-token steps equal mlx's, and are used only where they apply."""

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import one_row
import pytest
from conftest import EXAMPLE_VOICE
from draws import Greedy

from manim_qwen_mlx import audio, backends
from manim_qwen_mlx.backends import device
from manim_qwen_mlx.backends.mlx_backend import MlxSteps
from manim_qwen_mlx.backends.numpy_cpu.steps import NumpySteps
from manim_qwen_mlx.core.defaults import FAST_CPU_ENV, PRECISION_ENV
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import decode, prompt, sentence

SAMPLED = decode.Sampling(temperature=0.9, top_k=50, top_p=0.95, repetition_penalty=1.05)


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three layers each, grouped-query attention, a code predictor narrower than the talker (behind
    the projection the 1.7B model has)."""
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-deep", layers=3, predictor_hidden=16)


def _prompt(model: Any, streaming: bool = False) -> Any:
    voice = Voice.from_options(EXAMPLE_VOICE)
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    return prompt.build(model, "A circle grows slowly on the screen.", spoken, "auto", streaming)


def _greedy(logits: Any) -> Any:
    return mx.argmax(logits, axis=-1)


@pytest.mark.parametrize("which", ["tiny_model", "deep"])
def test_numpy_steps_equal_mlx_steps(which: str, request: pytest.FixtureRequest) -> None:
    model = loader.load(request.getfixturevalue(which))
    built = _prompt(model)
    fast, slow = NumpySteps(model.module), MlxSteps(model.module)
    fast_row, slow_row = fast.start([built], [12])[0], slow.start([built], [12])[0]
    for _ in range(12):
        fast_logits, slow_logits = fast.talk([fast_row]), slow.talk([slow_row])
        np.testing.assert_allclose(np.array(fast_logits), np.array(slow_logits), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(fast_row.hidden, np.array(slow_row.hidden).reshape(-1), rtol=1e-4, atol=1e-5)
        first = _greedy(slow_logits)
        fast_codes, slow_codes = fast.frame([fast_row], first, Greedy()), slow.frame([slow_row], first, Greedy())
        np.testing.assert_array_equal(fast_codes, slow_codes)  # the next inputs: the next talk's logits


@pytest.mark.parametrize("streaming", [False, True])
def test_sampled_generation_gives_the_same_codes(deep: Path, streaming: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = loader.load(deep)
    built = _prompt(loaded, streaming)
    codes = {}
    for fast in ("1", "0"):
        monkeypatch.setenv(FAST_CPU_ENV, fast)
        model = replace(loaded, backend=backends.choose())  # the backend a load would choose now
        assert isinstance(model.steps(), NumpySteps) == (fast == "1")
        # Sampling draws from the row's own mlx stream on both paths, in the same order.
        codes[fast] = np.array(one_row.generate(model, built, SAMPLED, SAMPLED, 30, seed=11).codes)
    assert codes["1"].shape == (30, 16)
    np.testing.assert_array_equal(codes["1"], codes["0"])


def test_mlx_keeps_the_steps_where_numpy_cannot_help(
    tiny_model: Path, tiny_model_8bit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "is_cpu", lambda: False)  # Metal: mlx's own kernels are the fast ones
    model = loader.load(Path(shutil.copytree(tiny_model, tmp_path / "metal")))  # not the shared load
    assert isinstance(model.steps(), MlxSteps)
    monkeypatch.undo()
    monkeypatch.setenv(PRECISION_ENV, "keep")  # 8-bit layers and bfloat16 stay as downloaded
    quantized = loader.load(Path(shutil.copytree(tiny_model_8bit, tmp_path / "kept")))  # not the shared load
    assert isinstance(quantized.steps(), MlxSteps)
    assert np.array(one_row.generate(quantized, _prompt(quantized), SAMPLED, SAMPLED, 4).codes).shape == (4, 16)


def test_a_store_too_small_is_an_error_not_a_wrong_answer(tiny_model: Path) -> None:
    model = loader.load(tiny_model)
    steps = NumpySteps(model.module)
    row = steps.start([_prompt(model)], [2])[0]  # room for two steps after the prefill
    for _ in range(3):
        logits = steps.talk([row])
        steps.frame([row], _greedy(logits), Greedy())
    with pytest.raises(ValueError, match="store"):
        steps.talk([row])


def test_numpy_reads_the_loaded_weights_in_place(tiny_model: Path) -> None:
    model = loader.load(tiny_model)
    frames = NumpySteps(model.module)
    loaded = model.talker.model.layers[0].self_attn.q_proj.weight
    assert np.shares_memory(frames.talker.layers[0].q.weight, np.asarray(loaded))  # a view, no second copy
    assert np.shares_memory(frames.heads[3].weight, np.asarray(model.talker.code_predictor.lm_head[3].weight))


@pytest.mark.parametrize("position", [0, 1, 4])
@pytest.mark.usefixtures("numpy_cpu")
def test_a_row_s_every_value_is_the_same_alone_and_beside_others(deep: Path, position: int) -> None:
    """Bit for bit, not only the codes: the steps' products and attention never mix rows' arithmetic."""
    model = loader.load(deep)
    voice = Voice.from_options(EXAMPLE_VOICE)
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    texts = ["A circle grows slowly on the screen.", "Then a square.", "And at last a triangle, drawn edge by edge.",
             "Two more rows,", "so that BLAS would run a matrix product."]
    built = [prompt.build(model, text, spoken, "auto", False) for text in texts]
    steps = NumpySteps(model.module)

    def trace(prompts: list[Any], watched: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        rows = steps.start(prompts, [8] * len(prompts))
        seen = []
        for _ in range(8):
            logits = steps.talk(rows)
            codes = steps.frame(rows, _greedy(logits), Greedy())
            seen.append((np.array(logits[watched]), rows[watched].hidden.copy(), codes[watched]))
        return seen

    others = built[1:]
    together = trace([*others[:position], built[0], *others[position:]], position)
    for (logits, hidden, codes), (alone_logits, alone_hidden, alone_codes) in zip(together, trace(built[:1], 0),
                                                                                strict=True):
        np.testing.assert_array_equal(logits, alone_logits)
        np.testing.assert_array_equal(hidden, alone_hidden)
        np.testing.assert_array_equal(codes, alone_codes)


def _voice_of(model: Any, kind: str) -> prompt.VoicePrompt:
    if kind == "clone":
        voice = Voice.from_options(EXAMPLE_VOICE)
        assert voice.ref_audio is not None
        return sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    return prompt.VoicePrompt(speaker="ryan", instruct="Speak slowly.")


@pytest.mark.parametrize("streaming", [False, True], ids=["non-streaming", "streaming"])
@pytest.mark.parametrize("kind", ["clone", "preset"])
def test_the_voiced_start_is_exactly_what_sentences_in_a_voice_share(
    kind: str, streaming: bool, tiny_model: Path, tiny_custom_voice: Path
) -> None:
    model = loader.load(tiny_model if kind == "clone" else tiny_custom_voice)
    voice = _voice_of(model, kind)
    texts = ("Circles grow.", "Why not draw a much longer sentence, one with many more words in it?")
    one, other = (prompt.build(model, text, voice, "english", streaming) for text in texts)
    assert one.voiced == other.voiced > 3  # past the role tokens
    first, second = np.array(one.embeds[0]), np.array(other.embeds[0])
    np.testing.assert_array_equal(first[: one.voiced], second[: one.voiced])
    assert not np.array_equal(first[one.voiced], second[one.voiced])  # the sentence starts right there


def test_a_voice_s_start_is_prefilled_once_and_changes_nothing(tiny_model: Path) -> None:
    model = loader.load(tiny_model)
    voice = _voice_of(model, "clone")
    texts = ("Circles grow.", "Then squares appear, one after another, all over the screen.")
    built = [prompt.build(model, text, voice, "auto", False) for text in texts]
    steps = NumpySteps(model.module)
    calls: list[int] = []
    whole = steps.talker.prefill
    steps.talker.prefill = lambda x, store: calls.append(len(x)) or whole(x, store)  # type: ignore[method-assign]
    rows = steps.start(built, [4] * len(built))
    assert calls[0] == built[0].voiced and calls[1:] == [len(built[0].embeds[0]) - built[0].voiced,
                                                         len(built[1].embeds[0]) - built[1].voiced]
    assert len(steps._shared) == 1
    # The split prefill is the whole prompt's, up to rounding; and a fresh process gives the same bits.
    unsplit = NumpySteps(model.module).start([replace(built[1], voiced=0)], [4])[0]
    np.testing.assert_allclose(rows[1].hidden, unsplit.hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rows[1].hidden, NumpySteps(model.module).start([built[1]], [4])[0].hidden)


@pytest.mark.parametrize("which", ["tiny_model", "deep"])
def test_the_compiled_code_predictor_gives_what_the_uncompiled_one_does(
    which: str, request: pytest.FixtureRequest
) -> None:
    model = loader.load(request.getfixturevalue(which))
    built = [_prompt(model), _prompt(model, streaming=True)]

    def run(compiled: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
        (mx.enable_compile if compiled else mx.disable_compile)()
        steps = MlxSteps(model.module)
        rows, codes, logits = steps.start(built, [8] * len(built)), [], []
        for frame in range(8):
            if frame == 5:
                rows = rows[:1]  # a row leaves: the predictor's row count changes
            out = steps.talk(rows)
            logits.append(np.array(out))
            codes.append(steps.frame(rows, _greedy(out), Greedy()))
        return codes, logits

    try:
        (compiled_codes, compiled_logits), (codes, logits) = run(True), run(False)
    finally:
        mx.enable_compile()
    for made, expected in zip(compiled_codes, codes, strict=True):
        np.testing.assert_array_equal(made, expected)
    for made, expected in zip(compiled_logits, logits, strict=True):
        np.testing.assert_allclose(made, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which", ["tiny_model", "deep"])
def test_rows_prefilled_together_are_what_each_prefill_alone_gives(which: str, request: pytest.FixtureRequest) -> None:
    """mlx prefills the rows that join in one frame as one padded batch after their voice's shared start
    (prefilled once): each row's logits and keys are the ones its prefill alone gives (on the CPU, bit for
    bit), and those are mlx-audio's prefill of the whole prompt, up to rounding."""
    model = loader.load(request.getfixturevalue(which))
    built = [_prompt(model), _prompt(model, streaming=True), _prompt(model)]
    assert len({each.embeds.shape[1] for each in built}) == 2  # padded: the rows' lengths differ
    talker = model.module.talker
    caches = talker.make_cache()
    logits, _ = talker(built[1].embeds, cache=caches)
    steps = MlxSteps(model.module)
    together = steps.start(built, [4] * len(built))
    assert len(steps._shared) == 2  # one voice, two starts (a streaming prompt's differs), each prefilled once
    alone_steps = MlxSteps(model.module)
    alone = alone_steps.start([built[1]], [4])[0]
    np.testing.assert_allclose(np.array(alone.logits), np.array(logits[:, -1]), rtol=1e-5, atol=1e-6)
    length = built[1].embeds.shape[1]
    for row in together:
        single = MlxSteps(model.module).start([row.prompt], [4])[0]
        np.testing.assert_array_equal(np.array(row.logits[row.index]), np.array(single.logits[0]))
        np.testing.assert_array_equal(np.array(row.hidden[row.index]), np.array(single.hidden[0]))
    for layer in (0, -1):
        slot, own = together[1].seat.slot, alone.seat.slot
        mine = np.array(steps.slots.keys[layer][slot, :, :length])
        np.testing.assert_array_equal(mine, np.array(alone_steps.slots.keys[layer][own, :, :length]))
        np.testing.assert_allclose(mine, np.array(caches[layer].keys[0, :, :length]), rtol=1e-5, atol=1e-6)


def test_attention_over_a_window_of_the_cache_is_attention_over_all_of_it(
    deep: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The talker attends over the positions up to the longest row's, in blocks (a view of the cache), not
    its whole capacity: the same logits and codes while the rows cross blocks and the cache grows."""
    from manim_qwen_mlx.backends import mlx_slots

    model = loader.load(deep)
    built = [_prompt(model), _prompt(model, streaming=True)]
    frames = 2 * mlx_slots.POSITION_BLOCK - min(each.embeds.shape[1] for each in built) + 8  # past 256 positions

    def run() -> tuple[list[np.ndarray], list[np.ndarray], set[int]]:
        steps = MlxSteps(model.module)
        rows, codes, logits = steps.start(built, [frames] * len(built)), [], []
        for _ in range(frames):
            out = steps.talk(rows)
            logits.append(np.array(out))
            codes.append(steps.frame(rows, _greedy(out), Greedy()))
        return codes, logits, {shape[2] for shape in steps.slots._steps}

    windowed = run()
    monkeypatch.setattr(mlx_slots, "WINDOW_BLOCK", 1 << 20)  # always the whole capacity
    whole = run()
    assert len(windowed[2]) >= 4 and len(whole[2]) == 2  # windows crossed; the capacity grew by a block
    for made, expected in zip(windowed[0], whole[0], strict=True):
        np.testing.assert_array_equal(made, expected)
    for made, expected in zip(windowed[1], whole[1], strict=True):
        np.testing.assert_array_equal(made, expected)
