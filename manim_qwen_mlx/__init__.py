"""Narrate Manim scenes in your own cloned voice with Qwen3-TTS on MLX.

Importing this package is light (manim imports every plugin at start-up): the service, manim-voiceover
and MLX load only when first used.
"""

from __future__ import annotations

import os

import manim_qwen_mlx_quiet_sox  # noqa: F401  # installs the SoX hook where the .pth did not (see that module)
from manim_qwen_mlx.core.defaults import COLLECT_ENV
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

if os.environ.get(COLLECT_ENV):  # precache's dry run of the user's scenes: their failure in full
    from manim_qwen_mlx import plain_traceback

    plain_traceback.install()

TYPE_CHECKING = False  # not typing's: keep this import light
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
