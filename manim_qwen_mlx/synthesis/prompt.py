"""The talker's prompt for one sentence, built from mlx-audio's modules the way the official qwen-tts
``Qwen3TTSForConditionalGeneration.generate`` builds it: role, codec prefix (language, speaker),
then the text and, for a clone, the reference codes, in either layout:

- non-streaming: all text over codec-pad, then the codec (the reference codes after codec-bos); each
  generated frame gets text-pad. The official default for preset and designed voices.
- streaming: text interleaved with the codec frames; generated frames take the rest of the text. The
  official default for clones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manim_qwen_mlx.backends.base import Prompt
from manim_qwen_mlx.model.decoder_context import DecoderContext
from manim_qwen_mlx.model.loaded import LoadedTTS, TTSConfig


@dataclass(frozen=True)
class VoicePrompt:
    """What conditions the voice: a clone's reference codes [1, 16, T], x-vector [1, D] and the speech
    decoder's state after the reference, a preset speaker's name, an instruct text (design, or a style)."""

    ref_codes: Any = None
    decoder: DecoderContext | None = None
    ref_text: str | None = None
    x_vector: Any = None
    speaker: str | None = None
    instruct: str | None = None


def build(model: LoadedTTS, text: str, voice: VoicePrompt, language: str, streaming: bool) -> Prompt:
    import mlx.core as mx

    config = model.config
    text_embed = model.text_embed

    def codec_ids(ids: list[int]) -> Any:
        return model.codec_embed(mx.array([ids]))

    ids = mx.array([model.encode_text(f"<|im_start|>assistant\n{text}<|im_end|>\n<|im_start|>assistant\n")])
    special = [config.tts_bos_id, config.tts_eos_id, config.tts_pad_id]
    bos, eos, pad = mx.split(text_embed(mx.array([special])), 3, axis=1)
    speaker_embed, language_id = None, _language_id(config, language)
    if voice.x_vector is not None:
        speaker_embed = voice.x_vector.reshape(1, 1, -1)
    elif voice.speaker is not None:
        speaker_embed = model.codec_embed(mx.array(config.speakers[voice.speaker])).reshape(1, 1, -1)
        dialect = config.dialects.get(voice.speaker)
        if dialect and language.lower() in ("chinese", "auto"):
            language_id = config.languages[dialect]
    think = [config.codec_nothink_id, config.codec_think_bos_id, config.codec_think_eos_id]
    if language_id is not None:
        think = [config.codec_think_id, config.codec_think_bos_id, language_id, config.codec_think_eos_id]
    prefix = [codec_ids(think)] + ([speaker_embed.astype(bos.dtype)] if speaker_embed is not None else [])
    prefix_codec = mx.concatenate([*prefix, codec_ids([config.codec_pad_id, config.codec_bos_id])], axis=1)
    # Text side of the codec prefix: pads, then tts-bos over the last-but-one codec position.
    overlay = mx.concatenate([mx.repeat(pad, prefix_codec.shape[1] - 2, axis=1), bos], axis=1)
    parts = [text_embed(ids[:, :3]), overlay + prefix_codec[:, :-1]]
    if voice.instruct:
        instruct = model.encode_text(f"<|im_start|>user\n{voice.instruct}<|im_end|>\n")
        parts.insert(0, text_embed(mx.array([instruct])))
    spoken = ids[:, 3:-5]
    voiced = sum(part.shape[1] for part in parts)  # role, instruct and codec prefix: the sentence comes after
    if voice.ref_codes is not None:
        icl, trailing, ref_tokens = _clone_part(model, voice, spoken, eos, pad, streaming, codec_ids)
        return Prompt(mx.concatenate([*parts, icl], axis=1), trailing, pad, voiced + ref_tokens)
    if streaming:
        first = text_embed(spoken[:, :1]) + prefix_codec[:, -1:]
        trailing = mx.concatenate([text_embed(spoken[:, 1:]), eos], axis=1)
        return Prompt(mx.concatenate([*parts, first], axis=1), trailing, pad, voiced)
    all_text = mx.concatenate([text_embed(spoken), eos], axis=1)
    over_pad = all_text + codec_ids([config.codec_pad_id] * all_text.shape[1])
    start = pad + codec_ids([config.codec_bos_id])
    return Prompt(mx.concatenate([*parts, over_pad, start], axis=1), pad, pad, voiced)


def _clone_part(
    model: LoadedTTS, voice: VoicePrompt, spoken: Any, eos: Any, pad: Any, streaming: bool, codec_ids: Any
) -> tuple[Any, Any, int]:
    """The in-context part of a clone: reference transcript + text, and codec-bos + reference codes; and
    how many of its first tokens the reference alone makes (the transcript's, in either layout)."""
    import mlx.core as mx

    config = model.config
    ref_ids = mx.array([model.encode_text(f"<|im_start|>assistant\n{voice.ref_text}<|im_end|>\n")])[:, 3:-2]
    # Embedded apart: a product's rows round by its row count, and the transcript's must not depend on the text.
    text = mx.concatenate([model.text_embed(ref_ids), model.text_embed(spoken), eos], axis=1)
    codes = voice.ref_codes
    frames = model.codec_embed(codes[:, 0, :])
    for group in range(config.num_code_groups - 1):
        frames = frames + model.codebook_embed(group, codes[:, group + 1, :])
    codec = mx.concatenate([codec_ids([config.codec_bos_id]), frames], axis=1)
    ref_tokens = ref_ids.shape[1]
    if not streaming:
        over_pad = text + codec_ids([config.codec_pad_id] * text.shape[1])
        return mx.concatenate([over_pad, codec + pad], axis=1), pad, ref_tokens
    if text.shape[1] > codec.shape[1]:
        return text[:, : codec.shape[1]] + codec, text[:, codec.shape[1] :], min(ref_tokens, codec.shape[1])
    padded = mx.concatenate([text, mx.repeat(pad, codec.shape[1] - text.shape[1], axis=1)], axis=1)
    return padded + codec, pad, ref_tokens


def _language_id(config: TTSConfig, language: str) -> int | None:
    if language.lower() == "auto" or not config.languages:
        return None
    return config.languages.get(language.lower())
