"""The one exception family users see; each message says what to do next."""

from __future__ import annotations


class QwenMLXError(Exception):
    """Base of every error manim-qwen-mlx raises on purpose."""

    exit_code = 1  # the command's exit status when it ends on this error


class InvalidTextError(QwenMLXError, ValueError):
    """The narration text cannot be spoken (empty, only bookmarks...)."""


class ReferenceAudioError(QwenMLXError):
    """The reference clip for a cloned voice is missing or unreadable."""


class TranscriptError(QwenMLXError):
    """The transcript of the reference clip is missing or empty."""


class MissingTranscriptError(TranscriptError):
    """Neither ref_text nor a sidecar transcript: the service can write one with its speech recognizer."""


class VoiceError(QwenMLXError, ValueError):
    """The voice options do not fit each other or the model."""


class SettingsError(QwenMLXError, ValueError):
    """A sampling setting is out of range."""


class ModelNotAvailableError(QwenMLXError):
    """The model is neither a local folder nor downloadable right now."""


class ModelLoadError(QwenMLXError):
    """The model folder is incomplete or not a Qwen3-TTS checkpoint."""


class SynthesisError(QwenMLXError):
    """The model ran but produced no usable audio."""


class CacheError(QwenMLXError):
    """The voiceover cache directory cannot be used."""
