"""One sentence's part in synthesis: its voice prompt, its job for the scheduler, and the runaway guard:
a sentence that reaches its frame ceiling without end-of-speech, or whose codes degenerate into a loop,
is generated again with a derived seed, then refused; it is never cached silently."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from manim_qwen_mlx.backends.base import Prompt
from manim_qwen_mlx.core.defaults import FRAME_RATE, LOGGER_NAME, RUNAWAY_RETRIES, RUNAWAY_SEED_STEP
from manim_qwen_mlx.core.errors import SynthesisError
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import frame_cap, shorten
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import decode, prompt
from manim_qwen_mlx.synthesis.scheduler import Job

log = logging.getLogger(LOGGER_NAME)


def voice_prompt(model: LoadedTTS, kind: str, reference: Any = None, ref_text: str | None = None,
                 speaker: str | None = None, instruct: str | None = None,
                 voice_store: Path | None = None) -> prompt.VoicePrompt:
    """A clone's reference codes, x-vector and decoder state (through the voice store, on disk beside
    ``voice_store``), or a speaker / instruct."""
    import mlx.core as mx

    if kind != "clone":
        return prompt.VoicePrompt(speaker=speaker, instruct=instruct)
    samples = mx.array(reference)
    codes = model.reference_codes(samples, voice_store)
    x_vector = model.speaker_embedding(samples, voice_store)
    decoder = model.decoder_context(codes, samples, voice_store)
    return prompt.VoicePrompt(ref_codes=mx.array(codes), ref_text=ref_text, x_vector=x_vector, decoder=decoder)


def job(model: LoadedTTS, sentence: str, settings: SynthesisSettings, voice: prompt.VoicePrompt, attempt: int = 0,
        built: Prompt | None = None) -> Job:
    """The generation of one sentence's try ``attempt`` (each try its own derived seed; a retry reuses the
    prompt already ``built``)."""

    def make() -> Prompt:
        return built or prompt.build(model, sentence, voice, settings.lang_code, settings.streaming_prompt)

    seed = settings.seed + attempt * RUNAWAY_SEED_STEP  # each sentence depends only on its own inputs
    return Job(make, settings.talker_sampling(), settings.subtalker_sampling(), _cap(sentence, settings), seed)


def verdict(sentence: str, settings: SynthesisSettings, codes: decode.Codes, attempt: int) -> bool | SynthesisError:
    """True to keep a try's codes, False to try again with the next seed, or the error once no try is left.
    A ceiling the user set lower than ours is a deliberate cut, not a runaway; a loop never is."""
    ceiling = frame_cap(sentence)
    if codes.ended or (_cap(sentence, settings) < ceiling and not codes.looped):
        return True
    log.warning(
        "%s for %r (try %d of %d)%s",
        "The codes fell into a loop" if codes.looped else f"No end of speech within {ceiling} frames",
        shorten(sentence),
        attempt + 1,
        RUNAWAY_RETRIES + 1,
        "; trying another seed." if attempt < RUNAWAY_RETRIES else ".",
    )
    if attempt < RUNAWAY_RETRIES:
        return False
    return SynthesisError(
        f"Qwen3-TTS kept talking past {ceiling / FRAME_RATE:.1f} s (or looped) for {sentence!r} in "
        f"{RUNAWAY_RETRIES + 1} tries (a known failure of the model). Rephrase or split the sentence, pass "
        "another seed=, or check that the reference transcript matches the clip."
    )


def _cap(sentence: str, settings: SynthesisSettings) -> int:
    ceiling = frame_cap(sentence)
    return ceiling if settings.max_tokens is None else min(ceiling, settings.max_tokens)
