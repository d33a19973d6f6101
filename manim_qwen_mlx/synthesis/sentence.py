"""One sentence into audio through our decoding loop (decode.py), with the runaway guard: a sentence
that reaches its frame ceiling without end-of-speech, or whose codes degenerate into a loop, is
generated again with a derived seed, then refused; it is never cached silently."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.core.defaults import FRAME_RATE, LOGGER_NAME, RUNAWAY_RETRIES, RUNAWAY_SEED_STEP
from manim_qwen_mlx.core.errors import SynthesisError
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import frame_cap
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import decode, prompt

log = logging.getLogger(LOGGER_NAME)


def voice_prompt(model: LoadedTTS, kind: str, reference: Any = None, ref_text: str | None = None,
                 speaker: str | None = None, instruct: str | None = None,
                 voice_store: Path | None = None) -> prompt.VoicePrompt:
    """A clone's reference codes and x-vector (through the voice store, on disk beside ``voice_store``), or
    a speaker / instruct."""
    import mlx.core as mx

    if kind != "clone":
        return prompt.VoicePrompt(speaker=speaker, instruct=instruct)
    samples = mx.array(reference)
    codes = model.reference_codes(samples, voice_store)
    x_vector = model.speaker_embedding(samples, voice_store)
    return prompt.VoicePrompt(ref_codes=mx.array(codes), ref_text=ref_text, x_vector=x_vector)


def speak(model: LoadedTTS, sentence: str, settings: SynthesisSettings, voice: prompt.VoicePrompt) -> np.ndarray:
    import mlx.core as mx

    ceiling = frame_cap(sentence)
    cap = ceiling if settings.max_tokens is None else min(ceiling, settings.max_tokens)
    built = prompt.build(model, sentence, voice, settings.lang_code, settings.streaming_prompt)
    for attempt in range(RUNAWAY_RETRIES + 1):
        mx.random.seed(settings.seed + attempt * RUNAWAY_SEED_STEP)  # each sentence depends only on its own inputs
        try:
            result = decode.generate(model, built, settings.talker_sampling(), settings.subtalker_sampling(), cap)
            chunk: np.ndarray = decode.to_audio(model, result.codes, built.ref_codes)
        finally:
            mx.clear_cache()
        # A ceiling the user set lower than ours is a deliberate cut, not a runaway; a loop never is.
        if result.ended or (cap < ceiling and not result.looped):
            return chunk
        log.warning(
            "%s for %r (try %d of %d); trying another seed.",
            "The codes fell into a loop" if result.looped else f"No end of speech within {ceiling} frames",
            sentence[:60],
            attempt + 1,
            RUNAWAY_RETRIES + 1,
        )
    raise SynthesisError(
        f"Qwen3-TTS kept talking past {ceiling / FRAME_RATE:.1f} s (or looped) for {sentence!r} in "
        f"{RUNAWAY_RETRIES + 1} tries (a known failure of the model). Rephrase or split the sentence, pass "
        "another seed=, or check that the reference transcript matches the clip."
    )
