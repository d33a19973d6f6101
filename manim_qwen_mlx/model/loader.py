"""Finding, checking and loading a Qwen3-TTS model: once per process, shared by every service."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manim_qwen_mlx import backends
from manim_qwen_mlx.backends.blas import prepare_blas
from manim_qwen_mlx.core.defaults import DOWNLOAD_PATTERNS, LOGGER_NAME, OFFLINE_ENV
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.options import BY_NAME
from manim_qwen_mlx.model.adapt import adapt, read_weights
from manim_qwen_mlx.model.loaded import LoadedTTS

log = logging.getLogger(LOGGER_NAME)

_loaded: dict[tuple[Path, backends.Backend], LoadedTTS] = {}  # a process may load one folder for two backends
_load_lock = threading.Lock()


@dataclass(frozen=True)
class ModelInfo:
    """What config.json says about a checkpoint; read without loading any weights."""

    path: Path
    tts_model_type: str  # base, custom_voice or voice_design
    size: str
    speakers: tuple[str, ...]
    languages: tuple[str, ...]
    can_clone: bool


def offline_requested() -> bool:
    return any(
        os.environ.get(name, "").lower() in {"1", "true", "yes", "on"} for name in (OFFLINE_ENV, "HF_HUB_OFFLINE")
    )


def resolve_path(ref: ModelRef, allow_download: bool = True, option: str = "model") -> Path:
    """The local folder of ``ref``; downloads a repo id once, and only when allowed. ``option``: the
    service option that names this model ("model", "aligner", "asr"), which the errors tell to set."""
    named = BY_NAME[option]
    pass_it = f"pass {option}= to QwenMLXService" + (f" (or set {named.env})" if named.env else "")
    if ref.is_local:
        path = Path(ref.name)
        if not path.is_dir():
            raise ModelNotAvailableError(
                f"Model folder {path} does not exist: {pass_it} an existing folder or a Hugging Face repo "
                f"id such as {named.default}."
            )
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                ref.name, revision=ref.revision, allow_patterns=list(DOWNLOAD_PATTERNS), local_files_only=True
            )
        )
    except LocalEntryNotFoundError:
        pass  # not downloaded yet: the only failure that a download can mend
    except (OSError, ValueError) as exc:
        raise ModelNotAvailableError(
            f"Could not look up model {ref} in the local Hugging Face cache ({exc}). Check that the cache "
            f"folder (HF_HOME) is readable, or {pass_it} a local folder."
        ) from exc
    get_it = (
        f"On a machine with internet run `hf download {ref.name}` (or any render with "
        f"downloads allowed), or {pass_it} a local folder."
    )
    if not allow_download or offline_requested():
        raise ModelNotAvailableError(f"Model {ref} is not downloaded and downloads are off. {get_it}")
    log.warning("Downloading model %s (once; later runs use the local copy).", ref)
    try:
        return Path(snapshot_download(ref.name, revision=ref.revision, allow_patterns=list(DOWNLOAD_PATTERNS)))
    except Exception as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotAvailableError(f"Could not download model {ref} ({cause}). {get_it}") from exc


def read_info(path: Path) -> ModelInfo:
    """Check that ``path`` holds a complete Qwen3-TTS checkpoint and describe it."""
    missing = [name for name in ("config.json", "speech_tokenizer/config.json") if not (path / name).is_file()]
    if not any(path.glob("*.safetensors")):
        missing.append("model.safetensors")
    if not any(path.glob("speech_tokenizer/*.safetensors")):
        missing.append("speech_tokenizer/model.safetensors")
    if not ((path / "tokenizer.json").is_file() or (path / "vocab.json").is_file()):
        missing.append("vocab.json (text tokenizer)")
    if missing:
        raise ModelLoadError(
            f"Model folder {path} is missing {', '.join(missing)}: download it again "
            "or copy the complete checkpoint folder."
        )
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        tokenizer_config = json.loads((path / "speech_tokenizer" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot read the configuration in {path}: {exc}") from exc
    if config.get("model_type") != "qwen3_tts":
        raise ModelLoadError(f"{path} is a {config.get('model_type')!r} model, not Qwen3-TTS (qwen3_tts).")
    talker = config.get("talker_config") or {}
    return ModelInfo(
        path=path,
        tts_model_type=str(config.get("tts_model_type", "base")),
        size=str(config.get("tts_model_size", "")),
        speakers=tuple(sorted(talker.get("spk_id") or {})),
        languages=tuple(sorted(k for k in (talker.get("codec_language_id") or {}) if "dialect" not in k)),
        can_clone=tokenizer_config.get("encoder_config") is not None,
    )


def load(path: Path) -> LoadedTTS:
    """The model in ``path``, loaded on first use for the backend chosen now, and then shared."""
    with _load_lock:
        prepare_blas()
        backend = backends.choose()
        if (path, backend) in _loaded:
            return _loaded[path, backend]
        log.info("Loading Qwen3-TTS model from %s", path)
        log.info("Backend: %s", backend.reason)
        from mlx_audio.tts.utils import load_model

        # Lazily: the backend may swap tensors before they are read; a damaged file fails while reading.
        model, printed = quiet_load(lambda folder: read_weights(load_model(folder, lazy=True), folder, backend),
                                    path, "the model")
        if getattr(model, "tokenizer", None) is None or getattr(model, "speech_tokenizer", None) is None:
            raise ModelLoadError(
                f"The text or speech tokenizer in {path} did not load ({printed.strip()}). "
                "Download the model folder again."
            )
        _loaded[path, backend] = adapt(model, path, backend)
        return _loaded[path, backend]


def quiet_load(load_model: Callable[[Path], Any], path: Path, what: str) -> tuple[Any, str]:
    """Run an mlx-audio loader with its prints kept out of the user's terminal (they go to the debug
    log); any failure becomes a ModelLoadError. Returns the model and what it printed."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            model = load_model(path)
    except Exception as exc:
        raise ModelLoadError(f"Could not load {what} in {path}: {exc}") from exc
    finally:
        for line in printed.getvalue().splitlines():
            log.debug("mlx-audio: %s", line)
    return model, printed.getvalue()
