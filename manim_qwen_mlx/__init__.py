"""Narrate Manim scenes in your own cloned voice with Qwen3-TTS on MLX.

Importing this package is light (manim imports every plugin at start-up): the service, manim-voiceover
and MLX load only when first used.
"""

from __future__ import annotations

from manim_qwen_mlx import quiet_sox
from manim_qwen_mlx.core.errors import (
    CacheError,
    InvalidTextError,
    ModelLoadError,
    ModelNotAvailableError,
    QwenMLXError,
    ReferenceAudioError,
    SettingsError,
    SynthesisError,
    TranscriptError,
    VoiceError,
)

quiet_sox.install()

TYPE_CHECKING = False  # not typing's: the wheel's .pth imports this package in every Python start-up
if TYPE_CHECKING:
    from manim_qwen_mlx.voiceover.service import QwenMLXService

__all__ = [
    "CacheError",
    "InvalidTextError",
    "ModelLoadError",
    "ModelNotAvailableError",
    "QwenMLXError",
    "QwenMLXService",
    "ReferenceAudioError",
    "SettingsError",
    "SynthesisError",
    "TranscriptError",
    "VoiceError",
]


def __getattr__(name: str) -> object:
    if name == "QwenMLXService":
        from manim_qwen_mlx.voiceover.service import QwenMLXService

        return QwenMLXService
    raise AttributeError(f"module 'manim_qwen_mlx' has no attribute {name!r}")
