"""The one adaptation pipeline: a freshly loaded mlx-audio model becomes a ``LoadedTTS``.

Each step is a named function that takes the model and returns it, applied in this order:

1. ``backend.before_eval``: swaps made while the weights are still lazy (numpy-cpu reads the text
   embedding's rows from the file, so that tensor is never loaded);
2. precision: dequantize and widen to float32, layer by layer as each is read, when the backend runs
   float32 (before the swaps, which view float32 weights in place);
3. evaluate the rest of the weights (a truncated file fails here or in 2, at load);
4. ``fixes``: what makes mlx-audio compute what the official implementation does, where the installed
   mlx-audio still needs it (before any swap, so the swapped layers inherit the fixed behaviour; the
   speaker embedding's mel spectrogram among them);
5. ``backend.after_fixes``: the backend's layer swaps (numpy-cpu: the decoder's stages);
6. the voice store around the reference encoder and the speaker-embedding extractor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from manim_qwen_mlx.backends import precision
from manim_qwen_mlx.backends.base import Backend, MlxAudioTTS
from manim_qwen_mlx.model import fixes
from manim_qwen_mlx.model.loaded import LoadedTTS, TTSConfig
from manim_qwen_mlx.model.voice_prompts import VoicePromptStore, remember_voice_prompts

Step = Callable[[Any], Any]


def evaluate(model: MlxAudioTTS) -> MlxAudioTTS:
    import mlx.core as mx

    mx.eval(model.parameters())
    return model


def to_backend_precision(backend: Backend) -> Step:
    def convert(model: MlxAudioTTS) -> MlxAudioTTS:
        if backend.float32:  # the decoder is inside an mx.compile wrapper that parameters() cannot see
            precision.to_float32(model, model.speech_tokenizer.decoder)
        return model

    return convert


def read_weights(model: MlxAudioTTS, folder: Path, backend: Backend) -> MlxAudioTTS:
    """Steps 1 to 3, on a model just loaded lazily from ``folder`` (the loader turns their failures,
    a truncated file say, into load errors)."""
    return evaluate(to_backend_precision(backend)(backend.before_eval(model, folder)))


def adapt(model: MlxAudioTTS, folder: Path, backend: Backend) -> LoadedTTS:
    """Steps 4 to 6, on the model ``read_weights`` returned, as ``backend`` runs it."""
    model = backend.after_fixes(fixes.apply(model))
    # Reference codes and speaker embeddings depend on the fixes: a new version, or a fix left out, encodes
    # voices again.
    store = VoicePromptStore(f"{folder}|{fixes.signature()}")
    model = remember_voice_prompts(model, store)
    return LoadedTTS(model, TTSConfig.of(model.config), backend, store, folder)
