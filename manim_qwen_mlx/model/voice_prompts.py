"""Encode a cloned voice once. mlx-audio re-encodes the reference clip in every new process and
recomputes its speaker embedding on every call; here both are remembered by the clip's samples and
the model, in memory and on disk beside the narration cache, so later calls and processes skip them.
The values are the ones the model computes, so the audio is the same as without the store."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import MlxAudioTTS
from manim_qwen_mlx.core.defaults import LOGGER_NAME, VOICE_STORE_FOLDER
from manim_qwen_mlx.core.fsutil import atomic_write

log = logging.getLogger(LOGGER_NAME)



class VoicePromptStore:
    """Remembers one loaded model's reference codes and speaker embeddings (``remember_voice_prompts``)."""

    def __init__(self, model_id: str) -> None:
        self.model_id = hashlib.sha256(model_id.encode()).hexdigest()[:16]
        self.directory: Path | None = None
        self.memory: dict[str, np.ndarray] = {}

    def use(self, cache_dir: Path | None) -> None:
        """Keep prompts beside this narration cache from now on (None: in memory only)."""
        self.directory = cache_dir / VOICE_STORE_FOLDER / self.model_id if cache_dir is not None else None

    def remembered(self, kind: str, compute: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(audio: Any, *args: Any, **kwargs: Any) -> Any:
            import mlx.core as mx

            samples = np.asarray(audio, dtype=np.float32)
            name = f"{hashlib.sha256(samples.tobytes()).hexdigest()[:32]}.{kind}.npy"
            if name not in self.memory:
                found = self._load(name)
                if found is None:
                    found = np.asarray(compute(audio, *args, **kwargs))
                    self._save(name, found)
                self.memory[name] = found
            return mx.array(self.memory[name])

        return wrapper

    def _load(self, name: str) -> np.ndarray | None:
        if self.directory is None:
            return None
        try:
            return np.asarray(np.load(self.directory / name, allow_pickle=False))
        except (OSError, ValueError):
            return None  # missing or damaged: compute it again

    def _save(self, name: str, value: np.ndarray) -> None:
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            atomic_write(self.directory / name, lambda handle: handle.write(buffer.getvalue()), durable=False)
        except OSError as exc:  # a read-only cache still narrates; it only re-encodes next time
            log.debug("Could not keep the voice prompt %s: %s", name, exc)


def remember_voice_prompts(model: MlxAudioTTS, store: VoicePromptStore, extract_speaker_embedding: Any) -> MlxAudioTTS:
    """Route the model's reference encoder and speaker-embedding extractor (the fixed one) through
    ``store``. Replaced on the model, not only called by us: mlx-audio's batch generation calls both."""
    tokenizer = model.speech_tokenizer
    if getattr(tokenizer, "has_encoder", False):
        tokenizer.encode = store.remembered("codes", tokenizer.encode)
    if getattr(model, "speaker_encoder", None) is not None:
        model.extract_speaker_embedding = store.remembered("speaker", extract_speaker_embedding)
    return model
