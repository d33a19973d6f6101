"""Synthesis: check the voice against the model, then speak the text sentence by sentence.

The only module that imports mlx and mlx_audio, and only once a narration is not in the cache.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from . import audio, loader
from .defaults import LOGGER_NAME, SAMPLE_RATE
from .errors import ModelLoadError, SynthesisError, VoiceError
from .model_ref import ModelRef
from .settings import SynthesisSettings
from .text import frame_cap, split_sentences
from .voice import Voice, reference_sha256

log = logging.getLogger(LOGGER_NAME)

_references: dict[str, np.ndarray] = {}  # decoded clips by sha256, so mlx-audio's ICL cache hits


def check_voice(info: loader.ModelInfo, voice: Voice, settings: SynthesisSettings) -> None:
    """Reject combinations mlx-audio would silently ignore or fail on with a bare ValueError."""
    name = info.path.name
    if info.tts_model_type == "base":
        if voice.kind == "preset":
            raise VoiceError(
                f"voice={voice.speaker!r} is a preset speaker, but {name} is a Base "
                "(voice-clone) model: pass ref_audio and ref_text, or use a CustomVoice model."
            )
        if voice.kind == "design":
            raise VoiceError(
                f"instruct alone describes a voice for a VoiceDesign model, but {name} is a "
                "Base (voice-clone) model: pass ref_audio and ref_text."
            )
        if voice.instruct:
            raise VoiceError(
                f"{name} is a Base model, which ignores instruct: remove instruct=, or use a "
                "CustomVoice or VoiceDesign model for styled speech."
            )
        if not info.can_clone:
            raise ModelLoadError(
                f"The speech tokenizer of {name} has no encoder, which cloning needs: "
                "download the complete model folder again."
            )
    elif info.tts_model_type == "custom_voice":
        if voice.kind != "preset":
            raise VoiceError(
                f"{name} is a CustomVoice model: pass voice= one of {list(info.speakers)} "
                "(and no ref_audio); cloning needs a Base model."
            )
        if voice.speaker not in info.speakers:
            raise VoiceError(f"Unknown speaker {voice.speaker!r} for {name}: choose one of {list(info.speakers)}.")
        if voice.instruct and info.size == "0b6":
            log.warning("The 0.6B CustomVoice model ignores instruct=%r; use the 1.7B one for styles.", voice.instruct)
    elif info.tts_model_type == "voice_design":
        if voice.kind != "design":
            raise VoiceError(
                f"{name} is a VoiceDesign model: describe the voice with instruct= only (no ref_audio, no voice=)."
            )
    else:
        raise ModelLoadError(f"{name} has an unknown tts_model_type {info.tts_model_type!r}.")
    if settings.lang_code != "auto" and settings.lang_code not in info.languages:
        raise VoiceError(
            f"Language {settings.lang_code!r} is not known to {name}: use 'auto' or one of {list(info.languages)}."
        )


def synthesize(
    text: str, voice: Voice, settings: SynthesisSettings, ref: ModelRef, allow_download: bool = True
) -> np.ndarray:
    """Audio for normalised ``text`` at 24 kHz, sentences joined by ``settings.sentence_pause``."""
    info = loader.read_info(loader.resolve_path(ref, allow_download))
    check_voice(info, voice, settings)
    model = loader.load(info.path)
    import mlx.core as mx

    voice_kwargs = _voice_kwargs(voice)
    chunks: list[np.ndarray] = []
    for sentence in split_sentences(text):
        cap = frame_cap(sentence)
        if settings.max_tokens is not None:
            cap = min(cap, settings.max_tokens)
        mx.random.seed(settings.seed)  # each sentence depends only on its own inputs
        try:
            results = list(
                model.generate(
                    text=sentence,
                    lang_code=settings.lang_code,
                    temperature=settings.temperature,
                    top_k=settings.top_k,
                    top_p=settings.top_p,
                    repetition_penalty=settings.repetition_penalty,
                    max_tokens=cap,
                    verbose=False,
                    **voice_kwargs,
                )
            )
        except ValueError as exc:
            raise VoiceError(f"The model rejected the voice options: {exc}") from exc
        finally:
            mx.clear_cache()
        samples = [np.asarray(r.audio, dtype=np.float32).reshape(-1) for r in results]
        chunk = np.concatenate(samples) if samples else np.zeros(0, dtype=np.float32)
        log.debug("Synthesized %.2f s for %r", chunk.size / SAMPLE_RATE, sentence)
        chunks.append(chunk)
    if not any(chunk.size for chunk in chunks):
        raise SynthesisError(f"The model produced no audio for {text!r}: try another seed= or rephrase it.")
    return audio.join(chunks, settings.sentence_pause)


def _voice_kwargs(voice: Voice) -> dict[str, Any]:
    if voice.kind == "clone":
        assert voice.ref_audio is not None
        import mlx.core as mx

        digest = reference_sha256(voice.ref_audio)
        if digest not in _references:
            _references[digest] = audio.load_reference(voice.ref_audio)
        return {"ref_audio": mx.array(_references[digest]), "ref_text": voice.ref_text}
    if voice.kind == "preset":
        return {"voice": voice.speaker, "instruct": voice.instruct}
    return {"instruct": voice.instruct}
