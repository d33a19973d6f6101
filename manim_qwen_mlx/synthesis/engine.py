"""Synthesis: check the voice against the model, then speak the text sentence by sentence.

Nothing here imports mlx at module level: it comes in with the model, once a narration is not in the
cache (tests/test_import_light.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manim_qwen_mlx import audio
from manim_qwen_mlx.audio import dsp, loudness
from manim_qwen_mlx.core.defaults import (
    LOGGER_NAME,
    SAMPLE_RATE,
    TRANSCRIPT_CHARS_PER_SECOND,
)
from manim_qwen_mlx.core.errors import (
    InvalidTextError,
    ModelLoadError,
    ModelNotAvailableError,
    QwenMLXError,
    SynthesisError,
    VoiceError,
)
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import shorten, split_sentences, spoken_units, unspoken_script
from manim_qwen_mlx.core.timing import Span, locate
from manim_qwen_mlx.core.voice import Voice, reference_sha256
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import background, scheduler, sentence
from manim_qwen_mlx.synthesis.prompt import VoicePrompt
from manim_qwen_mlx.synthesis.scheduler import Job

log = logging.getLogger(LOGGER_NAME)

_warned_scripts: set[str] = set()  # a warning once per script and process
_references: dict[str, np.ndarray] = {}  # decoded clips by sha256, once per process


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


def check_script(info: loader.ModelInfo, text: str, settings: SynthesisSettings) -> None:
    """Text in a writing system no Qwen3-TTS language uses: an error when a language was named (the
    narration cannot be that language), else a warning once per script and process (the model will
    still make sounds, not that language's speech)."""
    script = unspoken_script(text)
    if script is None:
        return
    message = (f"{shorten(text, 40)!r} is written in {script} script, which {info.path.name} does not speak "
               f"(its languages: {', '.join(info.languages)})")
    if settings.lang_code != "auto":
        raise InvalidTextError(f"{message}; lang_code={settings.lang_code!r} cannot make it so. Translate the "
                               "narration, or narrate it with a model that speaks it.")
    if script not in _warned_scripts:
        _warned_scripts.add(script)
        log.warning("%s: its audio will not be that language's speech.", message)


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray
    spans: list[Span]  # where each sentence lies, in the text and in ``samples``


@dataclass(frozen=True)
class Narrate:
    """One narration to synthesize: normalised text, voice, settings."""

    text: str
    voice: Voice
    settings: SynthesisSettings


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
    ((_, result),) = synthesize_many([Narrate(text, voice, settings)], ref, allow_download, 1, voice_store)
    if isinstance(result, QwenMLXError):
        raise result
    return result


def synthesize_many(
    narrations: list[Narrate],
    ref: ModelRef,
    allow_download: bool = True,
    batch_size: int = 1,
    voice_store: Path | None = None,
    on_sentence: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, Speech | QwenMLXError]]:
    """Every narration's audio (or the error that stopped it alone), each as soon as its last sentence is
    decoded (in the order their codes were done; on the CPU the decodes run beside the steps: ``background``):
    their sentences run through the scheduler ``batch_size`` rows at a time, each row seeded as
    one-by-one synthesis seeds it, so a narration's audio depends on its own inputs only. Voices and
    settings may differ; a model that cannot load raises. ``on_sentence`` hears each kept sentence's
    number of frames (progress)."""
    info = loader.read_info(loader.resolve_path(ref, allow_download))
    model: LoadedTTS | None = None
    voices: dict[Voice, VoicePrompt] = {}
    texts: dict[int, list[str]] = {}
    queue: deque[tuple[tuple[int, int, int], Job]] = deque()
    for index, item in enumerate(narrations):
        try:
            check_voice(info, item.voice, item.settings)
            check_script(info, item.text, item.settings)
            model = model or loader.load(info.path)
            if item.voice not in voices:
                voices[item.voice] = _voice_prompt(model, item.voice, voice_store)
        except (ModelLoadError, ModelNotAvailableError):
            raise
        except QwenMLXError as exc:
            yield index, exc
            continue
        texts[index] = split_sentences(item.text)
        queue.extend(((index, number, 0), sentence.job(model, piece, item.settings, voices[item.voice]))
                     for number, piece in enumerate(texts[index]))
    if model is None:
        return
    chunks: dict[int, dict[int, Future[np.ndarray]]] = {index: {} for index in texts}
    spoken: deque[int] = deque()  # narrations whose sentences all have codes, in that order
    coming = len(queue)  # rows queued or in flight: while any are, decodes go beside the steps
    decodes = background.Decodes(model)
    try:
        for (index, number, attempt), built, codes in scheduler.run(model, queue, batch_size):
            coming -= 1
            if index not in chunks:
                continue  # its narration failed already
            item, piece = narrations[index], texts[index][number]
            kept = sentence.verdict(piece, item.settings, codes, attempt)
            if kept is False:  # a runaway: this row tries again, the others go on
                retry = sentence.job(model, piece, item.settings, voices[item.voice], attempt + 1, built)
                queue.appendleft(((index, number, attempt + 1), retry))
                coming += 1
                continue
            if isinstance(kept, SynthesisError):
                del chunks[index]
                coming -= _drop(queue, index)
                yield index, kept
                continue
            chunks[index][number] = decodes.submit(codes.codes, voices[item.voice].decoder, coming > 0)
            if on_sentence is not None:
                on_sentence(int(codes.codes.shape[0]))
            if len(chunks[index]) == len(texts[index]):
                spoken.append(index)
            yield from _decoded(narrations, texts, chunks, spoken, wait=coming == 0)
        decodes.rest_here()
        yield from _decoded(narrations, texts, chunks, spoken, wait=True)
    finally:
        decodes.close()


def _decoded(narrations: list[Narrate], texts: dict[int, list[str]], chunks: dict[int, dict[int, Future[np.ndarray]]],
             spoken: deque[int], wait: bool) -> Iterator[tuple[int, Speech | QwenMLXError]]:
    """The ``spoken`` narrations in order, while their decodes are done (or ``wait``ing for them)."""
    while spoken and (wait or all(samples.done() for samples in chunks[spoken[0]].values())):
        index = spoken.popleft()
        done, item = chunks.pop(index), narrations[index]
        try:
            yield index, _finish(item.text, texts[index], [done[n].result() for n in range(len(done))], item.settings)
        except SynthesisError as exc:
            yield index, exc


def _drop(queue: deque[tuple[tuple[int, int, int], Job]], narration: int) -> int:
    """Take a failed narration's sentences out of the queue (the scheduler reads the same deque); how many."""
    kept = [entry for entry in queue if entry[0][0] != narration]
    dropped = len(queue) - len(kept)
    queue.clear()
    queue.extend(kept)
    return dropped


def _finish(text: str, sentences: list[str], chunks: list[np.ndarray], settings: SynthesisSettings) -> Speech:
    """Trim each sentence's silence, refuse all-silence, join with pauses, apply the speed and the loudness."""
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
    return Speech(loudness.normalize(samples, settings.loudness), spans)


def reference(voice: Voice) -> np.ndarray:
    """The clone's clip at 24 kHz, decoded once per process (and its transcript checked then)."""
    assert voice.ref_audio is not None
    digest = reference_sha256(voice.ref_audio)
    if digest not in _references:
        _references[digest] = audio.load_reference(voice.ref_audio)
        _check_transcript(voice, _references[digest].size / SAMPLE_RATE)
    return _references[digest]


def _voice_prompt(model: LoadedTTS, voice: Voice, voice_store: Path | None) -> VoicePrompt:
    """What our decoding loop conditions on; the 0.6B CustomVoice model takes no instruct (as official)."""
    instruct = None if model.config.size == "0b6" else voice.instruct
    clip = reference(voice) if voice.kind == "clone" else None
    return sentence.voice_prompt(model, voice.kind, clip, voice.ref_text, voice.speaker, instruct, voice_store)


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
