"""A reference clip without a transcript gets one from the speech recognizer, written to its sidecar
``<clip>.txt`` for the user to read and correct (a transcript that does not match the clip garbles
the clone), with a warning; later runs read the sidecar like any other."""

from __future__ import annotations

import logging
from pathlib import Path

from manim_qwen_mlx import audio
from manim_qwen_mlx.companions import asr
from manim_qwen_mlx.core.defaults import LOGGER_NAME, SAMPLE_RATE, SIDECAR_TRANSCRIPT_SUFFIX
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError, TranscriptError
from manim_qwen_mlx.core.fsutil import atomic_write
from manim_qwen_mlx.core.model_ref import ModelRef

log = logging.getLogger(LOGGER_NAME)


def write_for(clip: Path, recognizer: ModelRef, allow_download: bool) -> Path:
    """Transcribe ``clip`` into its sidecar; raises TranscriptError saying what to do when it cannot."""
    sidecar = clip.with_suffix(SIDECAR_TRANSCRIPT_SUFFIX)
    write_it = f"pass ref_text='...' with the exact words spoken in the clip, or write them to {sidecar}"
    try:
        model = asr.load(recognizer, allow_download)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        raise TranscriptError(
            f"No transcript for {clip} and no speech recognizer to write one ({exc}): {write_it}."
        ) from exc
    heard = asr.transcribe(model, audio.load_reference(clip), SAMPLE_RATE)
    if not heard:
        raise TranscriptError(f"No transcript for {clip}, and {recognizer} heard nothing in it: {write_it}.")
    data = (heard + "\n").encode("utf-8")
    atomic_write(sidecar, lambda handle: handle.write(data))
    log.warning(
        "No transcript for %s: wrote what %s heard to %s. Read it and correct it: the clone follows it.",
        clip.name, recognizer, sidecar,
    )
    return sidecar
