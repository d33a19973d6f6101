"""``LoadedTTS``: what the rest of the package sees of a loaded Qwen3-TTS model. Above the model layer
nothing reads mlx-audio's attributes; it asks this object (and its typed ``TTSConfig``) instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import Backend, FrameSteps
from manim_qwen_mlx.model.decoder_context import CONTEXT_VERSION, ContinuedDecoder, DecoderContext, LaterSamples
from manim_qwen_mlx.model.fixes import speaker_mel
from manim_qwen_mlx.model.voice_prompts import VoicePromptStore


@dataclass(frozen=True)
class TTSConfig:
    """The ids and sizes the prompt and the decoding loop need, read once from mlx-audio's config."""

    size: str  # "0b6", "1b7"
    num_code_groups: int
    vocab_size: int
    tts_bos_id: int
    tts_eos_id: int
    tts_pad_id: int
    codec_bos_id: int
    codec_eos_id: int
    codec_pad_id: int
    codec_think_id: int
    codec_nothink_id: int
    codec_think_bos_id: int
    codec_think_eos_id: int
    speakers: dict[str, list[int]] = field(default_factory=dict)  # preset speaker -> codec id (a list of one)
    dialects: dict[str, str] = field(default_factory=dict)  # preset speaker -> dialect language
    languages: dict[str, int] = field(default_factory=dict)  # language -> codec id

    @classmethod
    def of(cls, config: Any) -> TTSConfig:
        talker = config.talker_config
        return cls(
            size=str(getattr(config, "tts_model_size", "")),
            num_code_groups=int(talker.num_code_groups),
            vocab_size=int(talker.vocab_size),
            tts_bos_id=int(config.tts_bos_token_id),
            tts_eos_id=int(config.tts_eos_token_id),
            tts_pad_id=int(config.tts_pad_token_id),
            codec_bos_id=int(talker.codec_bos_id),
            codec_eos_id=int(talker.codec_eos_token_id),
            codec_pad_id=int(talker.codec_pad_id),
            codec_think_id=int(talker.codec_think_id),
            codec_nothink_id=int(talker.codec_nothink_id),
            codec_think_bos_id=int(talker.codec_think_bos_id),
            codec_think_eos_id=int(talker.codec_think_eos_id),
            speakers=dict(talker.spk_id or {}),
            dialects={k: v for k, v in (talker.spk_is_dialect or {}).items() if v},
            languages={k: int(v) for k, v in (talker.codec_language_id or {}).items()},
        )


@dataclass(frozen=True)
class LoadedTTS:
    module: Any  # mlx-audio's Qwen3TTS model, adapted by ``model.adapt``
    config: TTSConfig
    backend: Backend
    voice_prompts: VoicePromptStore
    path: Path

    # The parts, for the backends and for tests that compare against mlx-audio's layers.
    @property
    def talker(self) -> Any:
        return self.module.talker

    @property
    def speech_tokenizer(self) -> Any:
        return self.module.speech_tokenizer

    @property
    def can_embed_speakers(self) -> bool:
        return getattr(self.module, "speaker_encoder", None) is not None

    def encode_text(self, text: str) -> list[int]:
        return list(self.module.tokenizer.encode(text))

    def text_embed(self, ids: Any) -> Any:
        """Text token ids [1, N] -> the talker's input space [1, N, D]."""
        talker = self.module.talker
        return talker.text_projection(talker.get_text_embeddings()(ids))

    def codec_embed(self, ids: Any) -> Any:
        """First-codebook (and control) codes -> [.., D]."""
        return self.module.talker.get_input_embeddings()(ids)

    def codebook_embed(self, group: int, ids: Any) -> Any:
        """Codes of codebook ``group + 2`` -> [.., D]."""
        return self.module.talker.code_predictor.codec_embedding[group](ids)

    def steps(self) -> FrameSteps[Any]:
        """The backend's single-token steps for rows of this model (one for the model's life: what they
        keep, such as a voice's prefilled start, serves every later synthesis)."""
        return self._steps

    @cached_property
    def _steps(self) -> FrameSteps[Any]:
        return self.backend.steps(self.module)

    def reference_codes(self, samples: Any, cache_dir: Path | None = None) -> Any:
        """A clip's codes [1, 16, T], remembered by the voice store (on disk beside ``cache_dir``)."""
        encode = self.module.speech_tokenizer.encode
        return self.voice_prompts.lookup("codes", samples, lambda: encode(samples[None, None, :]), cache_dir)

    def speaker_embedding(self, samples: Any, cache_dir: Path | None = None) -> Any:
        """A reference clip's x-vector [1, D], remembered likewise; None for models without a speaker encoder."""
        if not self.can_embed_speakers:
            return None
        extract = self.module.extract_speaker_embedding
        return self.voice_prompts.lookup("speaker", samples, lambda: extract(samples), cache_dir)

    def narration_embedding(self, samples: Any) -> Any:
        """A narration's x-vector, for the similarity check (not remembered: one-off)."""
        return self.module.speaker_encoder(speaker_mel(samples))

    @cached_property
    def continued_decoder(self) -> ContinuedDecoder:
        return ContinuedDecoder(self.module.speech_tokenizer)

    def decoder_context(self, codes: Any = None, samples: Any = None, cache_dir: Path | None = None) -> DecoderContext:
        """Where the speech decoder stands after a reference's ``codes`` [1, 16, T] (nothing decoded: no
        codes); remembered by the voice store for the clip's ``samples`` when given."""
        decoder = self.continued_decoder
        if codes is None:
            return decoder.start()
        frames = np.asarray(codes)[0].T
        if samples is None:
            return decoder.after(frames)
        arrays = self.voice_prompts.lookup_arrays(f"decoder-{CONTEXT_VERSION}", samples,
                                                  lambda: decoder.after(frames).arrays(), cache_dir)
        return DecoderContext.of_arrays(arrays)

    def decode_after_later(self, context: DecoderContext, codes: Any) -> LaterSamples:
        """Samples (float32) of codes [T, 16] decoded after ``context`` (the same as decoding them after the codes
        that led there and cutting those off): the mlx part now, the numpy stages (if any) at ``finish``."""
        return self.continued_decoder.decode_later(context, np.asarray(codes))

