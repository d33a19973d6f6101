"""Synthesis: check the voice against the model, then speak the text sentence by sentence.

Nothing here imports mlx at module level: it comes in with the model, once a narration is not in the
cache (tests/test_import_light.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx import audio
from manim_qwen_mlx.audio import dsp
from manim_qwen_mlx.core.defaults import (
    LOGGER_NAME,
    SAMPLE_RATE,
    TRANSCRIPT_CHARS_PER_SECOND,
)
from manim_qwen_mlx.core.errors import ModelLoadError, QwenMLXError, SynthesisError, VoiceError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import frame_cap, split_sentences, spoken_units
from manim_qwen_mlx.core.timing import Span, locate
from manim_qwen_mlx.core.voice import Voice, reference_sha256
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import sentence
from manim_qwen_mlx.synthesis.prompt import VoicePrompt

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


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray
    spans: list[Span]  # where each sentence lies, in the text and in ``samples``


def synthesize(
    text: str,
    voice: Voice,
    settings: SynthesisSettings,
    ref: ModelRef,
    allow_download: bool = True,
    voice_store: Path | None = None,
) -> Speech:
    """Audio for normalised ``text`` at 24 kHz: sentence by sentence, each trimmed of silence,
    joined by ``settings.sentence_pause``, then sped up or slowed down with the pitch kept."""
    model, voice_kwargs = _prepare(voice, settings, ref, allow_download)
    spoken_as = _voice_prompt(model, voice, voice_kwargs, voice_store)
    sentences = split_sentences(text)
    chunks = [sentence.speak(model, piece, settings, spoken_as) for piece in sentences]
    return _finish(text, sentences, chunks, settings)


def synthesize_many(
    texts: list[str],
    voice: Voice,
    settings: SynthesisSettings,
    ref: ModelRef,
    allow_download: bool = True,
    batch_size: int = 4,
    voice_store: Path | None = None,
) -> list[Speech | QwenMLXError]:
    """Several narrations in one voice, their sentences generated ``batch_size`` at a time with
    mlx-audio's batch generation (faster on a GPU). Audio is as valid as one-by-one synthesis but not
    bit-identical to it: sampling runs over the whole batch. A runaway sentence is redone alone; a
    narration that still fails gets its error in its place, and the others their audio."""
    model, voice_kwargs = _prepare(voice, settings, ref, allow_download)
    import mlx.core as mx

    # Encoded through the store on disk first; mlx-audio's batch generation then finds it in memory.
    spoken_as = _voice_prompt(model, voice, voice_kwargs, voice_store)
    split = [split_sentences(text) for text in texts]
    # Sentences of similar length share a batch, so one frame ceiling fits them all.
    todo = sorted(((frame_cap(s), t, i, s) for t, pieces in enumerate(split) for i, s in enumerate(pieces)))
    chunks: dict[tuple[int, int], np.ndarray] = {}
    failed: dict[int, QwenMLXError] = {}
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        cap = max(c for c, *_ in batch) if settings.max_tokens is None else min(settings.max_tokens, batch[-1][0])
        if "ref_audio" in voice_kwargs:
            batch_kwargs = voice_kwargs
        else:
            batch_kwargs = {
                "voices": [voice_kwargs.get("voice")] * len(batch),
                "instructs": [voice_kwargs.get("instruct")] * len(batch),
            }
        mx.random.seed(settings.seed)
        try:  # the voice was checked against the model already: a failure here is mlx-audio's own
            results = list(
                model.mlx_audio_batch_generate(
                    texts=[s for *_, s in batch], max_tokens=cap, **settings.sampling_kwargs(), **batch_kwargs
                )
            )
        except ValueError as exc:
            raise SynthesisError(f"Batch generation failed ({exc}): run precache with --batch-size 1.") from exc
        finally:
            mx.clear_cache()
        by_index = {int(r.sequence_idx): r for r in results}
        for index, (ceiling, text_index, sentence_index, piece) in enumerate(batch):
            result = by_index.get(index)
            deliberate_cut = settings.max_tokens is not None and settings.max_tokens < ceiling
            if result is None:  # end of speech at once: nothing to say for this sentence
                chunk = np.zeros(0, dtype=np.float32)
            elif int(result.token_count) < ceiling or deliberate_cut:
                chunk = np.asarray(result.audio, dtype=np.float32).reshape(-1)
            elif text_index in failed:
                continue
            else:  # no end of speech within its ceiling: the guarded one-by-one path decides
                try:
                    chunk = sentence.speak(model, piece, settings, spoken_as)
                except SynthesisError as exc:
                    failed[text_index] = exc
                    continue
            chunks[(text_index, sentence_index)] = chunk
    speeches: list[Speech | QwenMLXError] = []
    for t, (text, pieces) in enumerate(zip(texts, split, strict=True)):
        if t in failed:
            speeches.append(failed[t])
            continue
        try:
            speeches.append(_finish(text, pieces, [chunks[(t, i)] for i in range(len(pieces))], settings))
        except SynthesisError as exc:
            speeches.append(exc)
    return speeches


def _prepare(
    voice: Voice, settings: SynthesisSettings, ref: ModelRef, allow_download: bool
) -> tuple[LoadedTTS, dict[str, Any]]:
    """The loaded model (after the voice is checked against it) and mlx-audio's voice arguments."""
    info = loader.read_info(loader.resolve_path(ref, allow_download))
    check_voice(info, voice, settings)
    return loader.load(info.path), _voice_kwargs(voice)


def _finish(text: str, sentences: list[str], chunks: list[np.ndarray], settings: SynthesisSettings) -> Speech:
    """Trim each sentence's silence, refuse all-silence, join with pauses, apply the speed."""
    if settings.trim_silence:
        trimmed = []
        for chunk in chunks:
            bounds = dsp.speech_bounds(chunk)
            trimmed.append(chunk[bounds[0] : bounds[1]] if bounds else chunk[:0])
        chunks = trimmed
    if not any(chunk.size for chunk in chunks):
        raise SynthesisError(f"The model produced only silence for {text!r}: try another seed= or rephrase it.")
    return _join(text, sentences, chunks, settings)


def _join(text: str, sentences: list[str], chunks: list[np.ndarray], settings: SynthesisSettings) -> Speech:
    gap = np.zeros(round(settings.sentence_pause * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    spans: list[Span] = []
    cursor = 0
    for (char_start, char_end), chunk in zip(locate(text, sentences), chunks, strict=True):
        if pieces and chunk.size:
            pieces.append(gap)
            cursor += gap.size
        spans.append(Span(char_start, char_end, cursor, cursor + chunk.size))
        pieces.append(chunk)
        cursor += chunk.size
    samples = np.concatenate(pieces)
    if settings.speed != 1.0:
        stretched = dsp.stretch(samples, settings.speed)
        scale = len(stretched) / len(samples)
        spans = [
            Span(s.char_start, s.char_end, round(s.sample_start * scale), round(s.sample_end * scale)) for s in spans
        ]
        samples = stretched
    return Speech(samples, spans)


def reference(voice: Voice) -> np.ndarray:
    """The clone's clip at 24 kHz, decoded once per process (and its transcript checked then)."""
    assert voice.ref_audio is not None
    digest = reference_sha256(voice.ref_audio)
    if digest not in _references:
        _references[digest] = audio.load_reference(voice.ref_audio)
        _check_transcript(voice, _references[digest].size / SAMPLE_RATE)
    return _references[digest]


def _voice_prompt(
    model: LoadedTTS, voice: Voice, voice_kwargs: dict[str, Any], voice_store: Path | None
) -> VoicePrompt:
    """What our decoding loop conditions on; the 0.6B CustomVoice model takes no instruct (as official)."""
    instruct = None if model.config.size == "0b6" else voice.instruct
    reference = voice_kwargs.get("ref_audio")
    return sentence.voice_prompt(model, voice.kind, reference, voice.ref_text, voice.speaker, instruct, voice_store)


def _voice_kwargs(voice: Voice) -> dict[str, Any]:
    if voice.kind == "clone":
        import mlx.core as mx

        return {"ref_audio": mx.array(reference(voice)), "ref_text": voice.ref_text}
    if voice.kind == "preset":
        return {"voice": voice.speaker, "instruct": voice.instruct}
    return {"instruct": voice.instruct}


def _check_transcript(voice: Voice, seconds: float) -> None:
    """Warn when the transcript cannot be what the clip says: a mismatch makes the clone garble."""
    rate = spoken_units(voice.ref_text or "") / seconds
    low, high = TRANSCRIPT_CHARS_PER_SECOND
    if not low <= rate <= high:
        log.warning(
            "The transcript of %s has %.0f characters for %.1f s of audio; check that ref_text is "
            "exactly what the clip says.",
            voice.ref_audio,
            spoken_units(voice.ref_text or ""),
            seconds,
        )
