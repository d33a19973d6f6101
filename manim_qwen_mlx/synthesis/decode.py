"""The official qwen-tts policy for one generation (a row of ``scheduler``), over the talker and code
predictor's logits:

- the repetition penalty is the one asked for (mlx-audio floors it at 1.5), over every first-codebook
  code generated so far (mlx-audio: the last 64);
- end-of-speech is suppressed for the first ``MIN_FRAMES`` steps (official ``min_new_tokens=2``), so a
  model that would stop at once still speaks;
- ``max_frames`` frames at most (official ``max_new_tokens`` is one more: its last code never gets its
  other codebooks);
- the code predictor samples with its own options (official ``subtalker_*``), which default to the
  talker's;
- processors in Hugging Face's order: penalty, suppressed codes, minimum length, then temperature,
  top-k, top-p; temperature 0 is greedy.

A generation that degenerates into a loop of a few codes (mlx-audio issue 921: one code 59 times,
seconds of noise) is stopped at once and reported, so the runaway guard retries without waiting for
the frame ceiling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from manim_qwen_mlx.core.settings import Sampling
from manim_qwen_mlx.model.decoder_context import DecoderContext, LaterSamples
from manim_qwen_mlx.model.loaded import LoadedTTS, TTSConfig

MIN_FRAMES = 2
LOOP_PERIODS = (1, 2, 3, 4)  # a cycle of this many codes...
LOOP_FRAMES = 36  # ...repeated over this many frames (~2.9 s) is a degenerate loop, not speech
TOP_K_SLACK = 14  # a top-k draw's exponentials cover this many more than k logits, for ties at the k-th


@dataclass(frozen=True)
class Codes:
    codes: Any  # [frames, 16] int32 (mlx)
    ended: bool  # the model said end-of-speech
    looped: bool  # stopped because the codes degenerated into a loop


class RowPolicy:
    """The official policy for one generation (one row of the scheduler): its own random stream, seeded
    as ``mx.random.seed(seed)`` seeds the global one (each draw splits the key, as mlx's global stream
    does), so a row draws the same codes whatever shares its batch."""

    def __init__(self, config: TTSConfig, talker: Sampling, subtalker: Sampling, max_frames: int, seed: int):
        import mlx.core as mx

        self.talker_sampling, self.subtalker_sampling, self.max_frames = talker, subtalker, max_frames
        self.eos, self.groups = config.codec_eos_id, config.num_code_groups
        self.key = mx.random.key(seed)
        # Additive masks: the codec's control codes never, end-of-speech not before MIN_FRAMES.
        self.allowed = mx.zeros((config.vocab_size,))
        self.allowed[config.vocab_size - 1024 :] = -mx.inf
        self.allowed[self.eos] = 0.0
        self.too_early = self.allowed.at[self.eos].add(-mx.inf)
        self.seen = mx.zeros((config.vocab_size,), dtype=mx.bool_)  # first-codebook codes said: the penalty's
        self.history: list[int] = []
        self.frames: list[Any] = []
        self.ended = self.looped = False

    @property
    def mask(self) -> Any:
        """The suppressed codes, end-of-speech too before ``MIN_FRAMES`` (additive, [V])."""
        return self.too_early if len(self.frames) < MIN_FRAMES else self.allowed

    def take(self, codes: Any) -> None:
        """Take a frame's codes [16] (numpy), drawn for every row in flight: end-of-speech as its first code
        ends the row (the rest is dropped), a loop ends it, as does its frame ceiling."""
        self.ended = int(codes[0]) == self.eos
        if self.ended:
            return
        self.frames.append(codes)
        self.history.append(int(codes[0]))
        if self.talker_sampling.repetition_penalty != 1.0:
            self.seen[int(codes[0])] = True
        self.looped = is_loop(self.history)

    @property
    def done(self) -> bool:
        return self.ended or self.looped or len(self.frames) >= self.max_frames

    def result(self) -> Codes:
        import mlx.core as mx
        import numpy as np

        stacked = np.array(self.frames, dtype=np.int32).reshape(-1, self.groups)
        return Codes(mx.array(stacked), self.ended, self.looped)


def sample(logits: Any, options: Sampling, key: Any = None) -> Any:
    """One code from [1, vocab] logits: greedy at temperature 0, else temperature, top-k, top-p, drawn
    with ``key`` (mlx's global stream without one)."""
    import mlx.core as mx

    if options.temperature <= 0:
        return mx.argmax(logits, axis=-1)
    return mx.random.categorical(_filtered(logits, options), key=key)


def first_codes(policies: list[RowPolicy], logits: Any) -> Any:
    """Every row's first-codebook code [R] (lazy mlx) from the talker's logits [R, V], in one graph: each row's
    repetition penalty over the codes it said, its masks, then its own sampler and key (``RowDraws``)."""
    import mlx.core as mx

    penalty = mx.array([[policy.talker_sampling.repetition_penalty] for policy in policies], dtype=logits.dtype)
    penalized = _penalized(logits, mx.stack([policy.seen for policy in policies]), penalty)
    draws = RowDraws(policies, talker=True)
    codes, keys = draws(penalized + mx.stack([policy.mask for policy in policies]), draws.keys())
    draws.keep(keys)
    return codes


class RowDraws:
    """The draws of one codebook for the rows of a frame (the first with the talker's samplers, 2..16 with
    the code predictor's), as one pure function ``(logits [R, V], keys [R, 2]) -> (codes [R], keys)`` that a
    backend may trace into one compiled graph for the whole code predictor: rows that share a sampler draw
    together, each with its own key, so each row's code is the one it draws alone. ``signature`` is what the
    function depends on besides its inputs."""

    def __init__(self, policies: list[RowPolicy], talker: bool = False) -> None:
        self.policies = policies
        self.signature = tuple(p.talker_sampling if talker else p.subtalker_sampling for p in policies)
        groups: dict[Sampling, list[int]] = {}
        for index, options in enumerate(self.signature):
            groups.setdefault(options, []).append(index)
        self._groups = list(groups.items())

    def keys(self) -> Any:
        """The rows' random keys [R, 2]."""
        import mlx.core as mx

        return mx.stack([policy.key for policy in self.policies])

    def keep(self, keys: Any) -> None:
        """Hand each row its key after the frame's draws."""
        for index, policy in enumerate(self.policies):
            policy.key = keys[index]

    def __call__(self, logits: Any, keys: Any) -> tuple[Any, Any]:
        import mlx.core as mx
        import numpy as np

        if len(self._groups) == 1:
            return _draw_group(logits, keys, self._groups[0][0])
        order = [index for _, members in self._groups for index in members]
        drawn = [_draw_group(logits[mx.array(members)], keys[mx.array(members)], options)
                 for options, members in self._groups]
        back = mx.array(np.argsort(order))
        return mx.concatenate([codes for codes, _ in drawn])[back], mx.concatenate([new for _, new in drawn])[back]


def _draw_group(logits: Any, keys: Any, options: Sampling) -> tuple[Any, Any]:
    import mlx.core as mx

    if options.temperature <= 0:  # greedy draws take no key (as with the global stream)
        return mx.argmax(logits, axis=-1), keys
    codes, keys = _row_sampler(options)(logits, keys)
    return codes, keys


@functools.cache
def _row_sampler(options: Sampling) -> Callable[[Any, Any], tuple[Any, Any]]:
    """(logits [R, V], keys [R, 2]) -> (codes [R], next keys [R, 2]), compiled once per sampler and row
    count: each row splits its key and draws as ``sample`` does alone, every row's random bits made by one
    operation mapped over the rows' keys (``mx.vmap``), not one draw a row."""
    import mlx.core as mx

    def draw(logits: Any, keys: Any) -> tuple[Any, Any]:
        pairs = mx.vmap(mx.random.split)(keys)  # [R, 2, 2]: each row's next key and this draw's subkey
        if 0 < options.top_k < logits.shape[-1] and options.top_p >= 1.0:
            weights = _top_k_weights(logits, options)
        else:
            weights = _weights(_filtered(logits, options))
        return _inverse_cdf(weights, pairs[:, 1]), pairs[:, 0]

    compiled: Callable[[Any, Any], tuple[Any, Any]] = mx.compile(draw)
    return compiled


def categorical_rows(logits: Any, keys: Any) -> Any:
    """``mx.random.categorical`` of each row of logits [R, V] with its own key [R, 2], written out over the row
    axis (mlx cannot map its categorical over rows): the inverse CDF of exp(logits - max) in float32 at one
    uniform draw a row, as mlx computes it, so each row gets the code ``mx.random.categorical`` gives it alone
    (tests/test_decode.py checks it draw for draw)."""
    return _inverse_cdf(_weights(logits), keys)


def _weights(logits: Any) -> Any:
    """mlx's categorical weights of logits [R, V]: exp(logits - max) in float32 (a row at +-inf: its tops)."""
    import mlx.core as mx

    logits = logits.astype(mx.float32)
    top = mx.max(logits, axis=-1, keepdims=True)
    infinite = (top == mx.inf) | (top == -mx.inf)
    return mx.where(infinite, (logits == top).astype(logits.dtype), mx.exp(logits - top))


def _inverse_cdf(weights: Any, keys: Any) -> Any:
    import mlx.core as mx

    uniform = mx.vmap(lambda key: mx.random.uniform(shape=(1,), key=key))(keys)
    target = uniform * mx.sum(weights, axis=-1, keepdims=True)
    return mx.sum(mx.cumsum(weights, axis=-1) < target, axis=-1).astype(mx.uint32)


def _top_k_weights(logits: Any, options: Sampling) -> Any:
    """``_weights(_filtered(logits, options))`` for a top-k sampler without top-p, the exponentials taken over
    the row's ``top_k + TOP_K_SLACK`` largest logits only (the rest are exactly 0 either way) and put back in
    place: the same array bit for bit (one ``exp`` of the same value), so the same draws, unless more than
    ``TOP_K_SLACK + 1`` logits tie at the k-th largest value (tests/test_decode.py); a fraction of the work
    at the vocabulary's width."""
    import mlx.core as mx

    scaled = logits / options.temperature
    vocab = scaled.shape[-1]
    count = min(vocab, options.top_k + TOP_K_SLACK)
    largest = mx.argpartition(scaled, vocab - count, axis=-1)[:, vocab - count :]
    values = mx.take_along_axis(scaled, largest, axis=-1)
    kth = mx.partition(values, count - options.top_k, axis=-1)[:, count - options.top_k : count - options.top_k + 1]
    weights = _weights(mx.where(values < kth, -mx.inf, values))
    return mx.put_along_axis(mx.zeros(scaled.shape, mx.float32), largest, weights, axis=-1)


def _filtered(logits: Any, options: Sampling) -> Any:
    """Logits [R, V] after temperature, top-k and top-p (Hugging Face's order), row by row."""
    import mlx.core as mx

    logits = logits / options.temperature
    vocab = logits.shape[-1]
    if 0 < options.top_k < vocab:
        kth = mx.partition(logits, vocab - options.top_k, axis=-1)[:, vocab - options.top_k : vocab - options.top_k + 1]
        logits = mx.where(logits < kth, -mx.inf, logits)
    if options.top_p < 1.0:
        order = mx.argsort(logits, axis=-1)  # ascending, as Hugging Face's TopPLogitsWarper
        ascending = mx.take_along_axis(logits, order, axis=-1)
        cumulative = mx.cumsum(mx.softmax(ascending, axis=-1), axis=-1)
        drop = (cumulative <= 1 - options.top_p).astype(mx.int32)
        drop[:, -1] = 0  # keep at least the likeliest code
        logits = mx.where(_scatter(drop, order) > 0, -mx.inf, logits)
    return logits


def is_loop(history: list[int]) -> bool:
    """The last ``LOOP_FRAMES`` codes repeat a cycle of at most four codes."""
    if len(history) < LOOP_FRAMES:
        return False
    tail = history[-LOOP_FRAMES:]
    return any(all(tail[i] == tail[i % period] for i in range(LOOP_FRAMES)) for period in LOOP_PERIODS)


def _penalize(logits: Any, history: list[int], penalty: float) -> Any:
    """Hugging Face's repetition penalty over every code in ``history``, for logits [1, V]."""
    import mlx.core as mx

    seen = mx.zeros(logits.shape, dtype=mx.bool_)
    if history:
        seen[:, mx.array(sorted(set(history)))] = True
    return _penalized(logits, seen, mx.array([[penalty]], dtype=logits.dtype))


def _penalized(logits: Any, seen: Any, penalty: Any) -> Any:
    """Logits [R, V] with each row's ``seen`` codes penalized by its ``penalty`` [R, 1] (Hugging Face's rule:
    a positive logit divided, a negative one multiplied; a penalty of 1 changes nothing)."""
    import mlx.core as mx

    return mx.where(seen, mx.where(logits < 0, logits * penalty, logits / penalty), logits)


def _scatter(values: Any, order: Any) -> Any:
    """``values`` given in ``order``'s positions, put back in vocabulary order."""
    import mlx.core as mx

    return mx.put_along_axis(mx.zeros_like(values), order, values, axis=-1)


def to_audio_later(model: LoadedTTS, codes: Any, context: DecoderContext | None = None) -> LaterSamples:
    """Samples (float32 numpy) of generated codes [frames, 16]: the mlx part now, the numpy stages (the numpy-cpu
    backend's) when ``finish`` is called. A clone's are decoded after the reference, from the decoder's state
    there (``context``): the audio the official implementation makes by decoding the reference's codes in
    front and cutting their share off."""
    return model.decode_after_later(context or model.decoder_context(), codes)
