"""Encode a cloned voice once. mlx-audio re-encodes the reference clip in every new process and
recomputes its speaker embedding on every call; here both, and the speech decoder's state after the
clip, are remembered by the clip's samples and the model, in memory and on disk beside the narration
cache, so later calls and processes skip them.
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
    """Remembers one loaded model's reference codes and speaker embeddings: in memory, and on disk beside
    the narration cache the caller names (``VOICE_STORE_FOLDER``)."""

    def __init__(self, model_id: str) -> None:
        self.model_id = hashlib.sha256(model_id.encode()).hexdigest()[:16]
        self.memory: dict[str, dict[str, np.ndarray]] = {}

    def lookup(self, kind: str, audio: Any, compute: Callable[[], Any], cache_dir: Path | None) -> Any:
        """The remembered value for ``audio`` (mlx), else ``compute()``'s, kept from then on."""
        import mlx.core as mx

        found = self._remember(f"{self._name(audio)}.{kind}.npy", lambda: {"": np.asarray(compute())}, cache_dir)
        return mx.array(found[""])

    def lookup_arrays(self, kind: str, audio: Any, compute: Callable[[], dict[str, np.ndarray]],
                      cache_dir: Path | None) -> dict[str, np.ndarray]:
        """Several remembered arrays for ``audio`` (one file), else ``compute()``'s."""
        return self._remember(f"{self._name(audio)}.{kind}.npz", compute, cache_dir)

    def remembered(self, kind: str, compute: Callable[..., Any]) -> Callable[..., Any]:
        """``compute`` remembered in memory (mlx-audio's own calls, which name no cache)."""

        def wrapper(audio: Any, *args: Any, **kwargs: Any) -> Any:
            return self.lookup(kind, audio, lambda: compute(audio, *args, **kwargs), None)

        return wrapper

    @staticmethod
    def _name(audio: Any) -> str:
        return hashlib.sha256(np.asarray(audio, dtype=np.float32).tobytes()).hexdigest()[:32]

    def _remember(self, name: str, compute: Callable[[], dict[str, np.ndarray]],
                  cache_dir: Path | None) -> dict[str, np.ndarray]:
        if name not in self.memory:
            folder = cache_dir / VOICE_STORE_FOLDER / self.model_id if cache_dir is not None else None
            found = self._load(folder, name)
            if found is None:
                found = {key: np.asarray(value) for key, value in compute().items()}
                self._save(folder, name, found)
            self.memory[name] = found
        return self.memory[name]

    @staticmethod
    def _load(folder: Path | None, name: str) -> dict[str, np.ndarray] | None:
        if folder is None:
            return None
        try:
            if not name.endswith(".npz"):
                return {"": np.asarray(np.load(folder / name, allow_pickle=False))}
            with np.load(folder / name, allow_pickle=False) as stored:
                return dict(stored)
        except (OSError, ValueError, EOFError, KeyError):
            return None  # missing or damaged: compute it again

    @staticmethod
    def _save(folder: Path | None, name: str, value: dict[str, np.ndarray]) -> None:
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            if name.endswith(".npz"):
                np.savez(buffer, allow_pickle=False, **value)
            else:
                np.save(buffer, value[""], allow_pickle=False)
            atomic_write(folder / name, lambda handle: handle.write(buffer.getvalue()), durable=False)
        except OSError as exc:  # a read-only cache still narrates; it only re-encodes next time
            log.debug("Could not keep the voice prompt %s: %s", name, exc)


def remember_voice_prompts(model: MlxAudioTTS, store: VoicePromptStore) -> MlxAudioTTS:
    """Route the model's reference encoder and speaker-embedding extractor (as fixed) through ``store``.
    Replaced on the model, not only called by us: mlx-audio's own paths on it call both."""
    tokenizer = model.speech_tokenizer
    if getattr(tokenizer, "has_encoder", False):
        tokenizer.encode = store.remembered("codes", tokenizer.encode)
    if getattr(model, "speaker_encoder", None) is not None:
        model.extract_speaker_embedding = store.remembered("speaker", model.extract_speaker_embedding)
    return model
