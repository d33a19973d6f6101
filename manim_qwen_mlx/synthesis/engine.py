"""Synthesis: check the voice against the model, then speak the text sentence by sentence.

Nothing here imports mlx at module level: it comes in with the model, once a narration is not in the
cache (tests/test_import_light.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from manim_qwen_mlx.audio import dsp, loudness
from manim_qwen_mlx.core.defaults import (
    LOGGER_NAME,
    SAMPLE_RATE,
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
from manim_qwen_mlx.core.text import shorten, split_sentences, unspoken_script
from manim_qwen_mlx.core.timing import Span, locate
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import background, scheduler, sentence, takes
from manim_qwen_mlx.synthesis.prompt import VoicePrompt
from manim_qwen_mlx.synthesis.speech import Speech, reference

log = logging.getLogger(LOGGER_NAME)

_warned_scripts: set[str] = set()  # a warning once per script and process


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
class Narrate:
    """One narration to synthesize: normalised text, voice, settings, and its checks (None: the first take is
    kept)."""

    text: str
    voice: Voice
    settings: SynthesisSettings
    checking: takes.Checking | None = None


@dataclass(frozen=True)
class _Piece:
    """What a row is: a sentence of a narration's take, and the sentence's try (a runaway's retry)."""

    narration: int
    sentence: int
    take: int
    attempt: int = 0


def synthesize(text: str, voice: Voice, settings: SynthesisSettings, ref: ModelRef, allow_download: bool = True,
               voice_store: Path | None = None) -> Speech:
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
    decoded (on the CPU the decodes run beside the steps: ``background``) and its checks pass: their
    sentences run through one scheduler, ``batch_size`` rows at a time, each row seeded as one-by-one
    synthesis seeds it, so a narration's audio depends on its own inputs only. Both retries go back into the
    same queue, ahead of the rest, while the other rows go on: a runaway sentence's next try, and a take that
    fails its checks (all its sentences, with the next take's seed). Voices and settings may differ; a model
    that cannot load raises. ``on_sentence`` hears each kept sentence's number of frames (progress)."""
    info = loader.read_info(loader.resolve_path(ref, allow_download))
    model: LoadedTTS | None = None
    voices: dict[Voice, VoicePrompt] = {}
    texts: dict[int, list[str]] = {}
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
    if model is None:
        return
    judged = {index: takes.Takes(narrations[index].text, narrations[index].voice, narrations[index].settings, ref,
                                 allow_download, checking)
              for index in texts if (checking := narrations[index].checking) is not None}
    work: scheduler.Scheduler[_Piece] = scheduler.Scheduler(model, batch_size)
    chunks: dict[int, dict[int, Future[np.ndarray]]] = {}
    taken = dict.fromkeys(texts, 0)  # each narration's take in progress

    def settings_of(index: int) -> SynthesisSettings:
        settings = narrations[index].settings
        return settings.with_overrides(seed=judged[index].seed) if index in judged else settings

    def submit(index: int, first: bool = False) -> None:
        chunks[index] = {}
        jobs = [(_Piece(index, number, taken[index]),
                 sentence.job(model, piece, settings_of(index), voices[narrations[index].voice]))
                for number, piece in enumerate(texts[index])]
        for tag, job in reversed(jobs) if first else jobs:
            work.submit(tag, job, first)

    def finished(index: int, speech: Speech) -> Speech | None:
        """The narration's speech to hand back, or None when its take failed a check and another was queued."""
        if index not in judged:
            return speech
        if judged[index].judge(speech):
            taken[index] += 1
            submit(index, first=True)
            return None
        return judged[index].best()

    for index in texts:
        submit(index)
    spoken: deque[int] = deque()  # narrations whose sentences all have codes, in that order
    decodes = background.Decodes(model)
    try:
        while work.pending or spoken:
            for done in work.results():
                tag = done.tag
                if chunks.get(tag.narration) is None:
                    continue  # its narration failed already
                index = tag.narration
                item, piece = narrations[index], texts[index][tag.sentence]
                kept = sentence.verdict(piece, item.settings, done.codes, tag.attempt)
                if kept is False:  # a runaway: this row tries again, the others go on
                    retry = sentence.job(model, piece, settings_of(index), voices[item.voice], tag.attempt + 1,
                                         done.prompt)
                    work.submit(replace(tag, attempt=tag.attempt + 1), retry, first=True)
                    continue
                if isinstance(kept, SynthesisError):
                    del chunks[index]
                    work.cancel(lambda other: other.narration == index)  # noqa: B023 (used at once)
                    yield index, kept
                    continue
                chunks[index][tag.sentence] = decodes.submit(done.codes.codes, voices[item.voice].decoder,
                                                             work.pending > 0)
                if on_sentence is not None:
                    on_sentence(int(done.codes.codes.shape[0]))
                if len(chunks[index]) == len(texts[index]):
                    spoken.append(index)
                yield from _decoded(narrations, texts, chunks, spoken, finished, wait=work.pending == 0)
            decodes.rest_here()
            yield from _decoded(narrations, texts, chunks, spoken, finished, wait=True)
    finally:
        decodes.close()


def _decoded(narrations: list[Narrate], texts: dict[int, list[str]], chunks: dict[int, dict[int, Future[np.ndarray]]],
             spoken: deque[int], finished: Callable[[int, Speech], Speech | None],
             wait: bool) -> Iterator[tuple[int, Speech | QwenMLXError]]:
    """The ``spoken`` narrations in order, while their decodes are done (or ``wait``ing for them), each once
    ``finished`` keeps its take."""
    while spoken and (wait or all(samples.done() for samples in chunks[spoken[0]].values())):
        index = spoken.popleft()
        done, item = chunks.pop(index), narrations[index]
        try:
            speech = finished(index, _finish(item.text, texts[index], [done[n].result() for n in range(len(done))],
                                             item.settings))
        except SynthesisError as exc:
            yield index, exc
            continue
        if speech is not None:
            yield index, speech


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


def _voice_prompt(model: LoadedTTS, voice: Voice, voice_store: Path | None) -> VoicePrompt:
    """What our decoding loop conditions on; the 0.6B CustomVoice model takes no instruct (as official)."""
    instruct = None if model.config.size == "0b6" else voice.instruct
    clip = reference(voice) if voice.kind == "clone" else None
    return sentence.voice_prompt(model, voice.kind, clip, voice.ref_text, voice.speaker, instruct, voice_store)
