"""Every option of the service, defined once: name, type, default, environment variable, help.

The service's keyword arguments, the settings dataclass, the CLI's options and the README's table
are all derived from ``OPTIONS`` (tests/test_options.py fails when one of them disagrees).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from manim_qwen_mlx.core.defaults import (
    ALIGNER_ENV,
    ASR_ENV,
    CACHE_DIR_ENV,
    DEFAULT_ALIGNER,
    DEFAULT_ASR,
    DEFAULT_LANG_CODE,
    DEFAULT_LOUDNESS,
    DEFAULT_MAX_TAKES,
    DEFAULT_MAX_WER,
    DEFAULT_MIN_VOICE_SIMILARITY,
    DEFAULT_MODEL,
    DEFAULT_PACE_TOLERANCE,
    DEFAULT_REPETITION_PENALTY,
    DEFAULT_SEED,
    DEFAULT_SENTENCE_PAUSE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    DRAFT_ENV,
    MAX_TOKENS_ENV,
    MODEL_ENV,
    OFFLINE_ENV,
)
from manim_qwen_mlx.core.errors import SettingsError

# model: which weights; voice: who speaks; text: what is said for what is written (the key holds its result);
# setting: how (the SynthesisSettings fields);
# timing: word times for bookmarks; quality: checks of each take (not in the cache key);
# service: where narration is kept and fetched from.
Group = Literal["model", "voice", "text", "setting", "timing", "quality", "service"]


@dataclass(frozen=True)
class Option:
    name: str
    type: type  # str, int, float, bool or Path
    default: Any
    help: str
    group: Group
    env: str | None = None  # supplies the default when set
    shown_default: str | None = None  # how docs show a default that is computed (None: the value)
    choices: tuple[str, ...] = ()
    per_call: bool = True  # may also be passed to one voiceover: self.voiceover(text=..., seed=7)
    none_allowed: bool = False  # None, given on purpose, is a value ("none" on the command line), not the default

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("model", str, DEFAULT_MODEL, "a Hugging Face repo id or a local Qwen3-TTS folder", "model",
           env=MODEL_ENV, per_call=False),
    Option("revision", str, None, "pin a repo id to a commit or tag", "model", per_call=False),
    Option("ref_audio", Path, None, "clone this clip (Base models)", "voice"),
    Option("ref_text", str, None, "exact transcript of ref_audio", "voice", shown_default="the sidecar <clip>.txt"),
    Option("voice", str, None, "a preset speaker of a CustomVoice model (ryan, aiden, vivian, serena, ...)", "voice"),
    Option("instruct", str, None, "a voice description (VoiceDesign) or a speaking style (1.7B CustomVoice)",
           "voice"),
    Option("pronunciations", dict, None, "words to say otherwise, whole words: {'Euler': 'Oiler'} (capitals match "
           "their case only); a pronunciations.toml beside the scene file adds its own", "text",
           shown_default="pronunciations.toml"),
    Option("math_speech", bool, True, "say common math in English words: x², θ, ≤, inline $...$ LaTeX", "text"),
    Option("lang_code", str, DEFAULT_LANG_CODE, "english, chinese, ... (en, zh, ... work too)", "setting"),
    Option("temperature", float, DEFAULT_TEMPERATURE, "sampling temperature (0 is greedy)", "setting"),
    Option("top_k", int, DEFAULT_TOP_K, "sample from the k likeliest codes (0: all)", "setting"),
    Option("top_p", float, DEFAULT_TOP_P, "nucleus sampling threshold", "setting"),
    Option("repetition_penalty", float, DEFAULT_REPETITION_PENALTY, "penalty on codes already spoken", "setting"),
    Option("subtalker_temperature", float, None, "temperature of the code predictor (codebooks 2-16)", "setting",
           shown_default="temperature"),
    Option("subtalker_top_k", int, None, "top_k of the code predictor", "setting", shown_default="top_k"),
    Option("subtalker_top_p", float, None, "top_p of the code predictor", "setting", shown_default="top_p"),
    Option("max_tokens", int, None, "hard ceiling in codec frames per sentence (12.5 frames = 1 s)", "setting",
           env=MAX_TOKENS_ENV, shown_default="from the text"),
    Option("seed", int, DEFAULT_SEED, "the same inputs and seed give the same audio", "setting"),
    Option("sentence_pause", float, DEFAULT_SENTENCE_PAUSE, "seconds of silence between sentences", "setting"),
    Option("speed", float, 1.0, "faster (> 1) or slower speech, pitch kept", "setting"),
    Option("trim_silence", bool, True, "cut leading and trailing silence of each sentence", "setting"),
    Option("loudness", float, DEFAULT_LOUDNESS, "integrated loudness in LUFS every narration is brought to, its "
           "true peak kept under -1 dBTP (None keeps the model's level)", "setting", none_allowed=True),
    Option("streaming_prompt", bool, False, "interleave the text with the codec in the prompt (qwen-tts's clone "
           "default; drifts in pace on long text) instead of all text first", "setting"),
    Option("bookmarks", str, "align", "word times for bookmarks: align (Qwen3-ForcedAligner) or estimate (no model)",
           "timing", choices=("align", "estimate")),
    Option("aligner", str, DEFAULT_ALIGNER, "the forced aligner (repo id or local folder)", "timing",
           env=ALIGNER_ENV, per_call=False),
    Option("word_boundaries", bool, False, "compute word times even for text without bookmarks", "timing"),
    Option("checks", bool, True, "score each take's pacing and synthesize again (derived seed) when it fails; "
           "skipped under a max_tokens ceiling, which cuts on purpose", "quality", per_call=False),
    Option("verify", bool, False, "also score voice similarity to the reference clip and what a speech "
           "recognizer hears (a speaker-encoder and an ASR pass per take)", "quality", per_call=False),
    Option("max_takes", int, DEFAULT_MAX_TAKES, "takes at most when checks fail; the best one is kept", "quality",
           per_call=False),
    Option("pace_tolerance", float, DEFAULT_PACE_TOLERANCE, "fail a take speaking this many times faster or slower "
           "than the voice usually does", "quality", per_call=False),
    Option("min_voice_similarity", float, DEFAULT_MIN_VOICE_SIMILARITY, "fail a verified take less similar to "
           "the reference clip", "quality", per_call=False),
    Option("max_wer", float, DEFAULT_MAX_WER, "fail a verified take whose transcript has a higher word error rate",
           "quality", per_call=False),
    Option("asr", str, DEFAULT_ASR, "the speech recognizer of verify (any mlx-audio STT model); it also writes a "
           "missing reference transcript", "quality", env=ASR_ENV, per_call=False),
    Option("draft", bool, False, "render at once: cached narration plays, missing narration is silence of its "
           "estimated length with estimated bookmark times (no model, no MLX); precache makes it real", "service",
           env=DRAFT_ENV, per_call=False),
    Option("allow_download", bool, True,
           f"False (or {OFFLINE_ENV}=1, HF_HUB_OFFLINE=1) never downloads a model", "service", per_call=False),
    Option("cache_dir", Path, None, "where narration is cached", "service", env=CACHE_DIR_ENV,
           shown_default="<media_dir>/voiceovers", per_call=False),
)
BY_NAME = {option.name: option for option in OPTIONS}
SETTING_OPTIONS = tuple(o for o in OPTIONS if o.group == "setting")
PER_CALL_NAMES = frozenset(o.name for o in OPTIONS if o.per_call)


def default(name: str) -> Any:
    """The option's default as written in the table (environment variables not applied)."""
    return BY_NAME[name].default


def value(name: str, given: Any = None, explicit: bool = False) -> Any:
    """What the option is for this run: the value given, else its environment variable, else its default.
    ``explicit``: the caller passed ``given`` on purpose, so None is a value where the option allows it."""
    option = BY_NAME[name]
    if given is not None or (explicit and option.none_allowed):
        return given
    raw = os.environ.get(option.env, "").strip() if option.env else ""
    return parse(option, raw, source=f"{option.env}={raw!r}") if raw else option.default


def parse(option: Option, raw: str, source: str) -> Any:
    """A value typed as text (an environment variable), converted to the option's type."""
    try:
        if option.none_allowed and raw.lower() in {"none", "off"}:
            return None
        if option.type is bool:
            lowered = raw.lower()
            if lowered not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        return option.type(raw)
    except ValueError:
        raise SettingsError(f"{source} is not a valid {option.type.__name__} for {option.name}.") from None


def shown_default(option: Option) -> str:
    if option.shown_default is not None:
        return option.shown_default
    return "none" if option.default is None else str(option.default)


# The README's short table: what people set most; docs/options.md has every option.
COMMON = ("model", "ref_audio", "ref_text", "pronunciations", "lang_code", "seed", "speed", "draft")


def markdown_table(names: tuple[str, ...] | None = None) -> str:
    """The option table (docs/options.md), or the rows of ``names`` in the table's order (the README's)."""
    rows = ["| option | default | environment | per call | what it does |", "|---|---|---|---|---|"]
    for option in OPTIONS:
        if names is not None and option.name not in names:
            continue
        env = f"`{option.env}`" if option.env else ""
        per_call = "yes" if option.per_call else ""
        rows.append(f"| `{option.name}` | `{shown_default(option)}` | {env} | {per_call} | {option.help} |")
    return "\n".join(rows)
