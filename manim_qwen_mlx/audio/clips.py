"""WAV input and output: reference clips in, narration out (24 kHz mono 16-bit PCM)."""

from __future__ import annotations

import logging
from math import gcd
from pathlib import Path

import numpy as np

from manim_qwen_mlx.core.defaults import LOGGER_NAME, LONG_REFERENCE_SECONDS, MIN_REFERENCE_SECONDS, SAMPLE_RATE
from manim_qwen_mlx.core.errors import ReferenceAudioError
from manim_qwen_mlx.core.fsutil import atomic_write

log = logging.getLogger(LOGGER_NAME)


def load_reference(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip as float32 mono at ``sample_rate``; any channel count, rate or sample format."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ReferenceAudioError(
            f"Cannot decode reference audio {path} ({exc}). Save it as WAV or FLAC "
            "(for example: ffmpeg -i clip.m4a -ac 1 -ar 24000 clip.wav)."
        ) from exc
    mono = data.mean(axis=1)
    if mono.size == 0:
        raise ReferenceAudioError(f"Reference audio {path} holds no samples: record the clip again.")
    if not np.all(np.isfinite(mono)):
        raise ReferenceAudioError(f"Reference audio {path} has invalid (NaN or infinite) samples.")
    seconds = mono.size / rate
    if seconds < MIN_REFERENCE_SECONDS:
        raise ReferenceAudioError(
            f"Reference audio {path} is only {seconds:.2f} s long: cloning needs at least "
            f"{MIN_REFERENCE_SECONDS:.0f} s; record 5-15 s of clean speech."
        )
    from manim_qwen_mlx.audio.dsp import speech_bounds

    if speech_bounds(mono, rate) is None:
        raise ReferenceAudioError(f"Reference audio {path} is silent: check the microphone and record it again.")
    if seconds > LONG_REFERENCE_SECONDS:
        log.warning(
            "Reference audio %s is %.0f s long: over %.0f s cloning gets slow and drifts; 5-15 s works best.",
            path,
            seconds,
            LONG_REFERENCE_SECONDS,
        )
    return resample(mono, rate, sample_rate)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    common = gcd(rate_in, rate_out)
    resampled: np.ndarray = resample_poly(samples, rate_out // common, rate_in // common)
    return resampled.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM atomically, so no half-written clip is ever served."""
    import soundfile as sf

    clipped = np.clip(np.nan_to_num(samples), -1.0, 1.0)
    atomic_write(path, lambda handle: sf.write(handle, clipped, sample_rate, subtype="PCM_16", format="WAV"))


def duration(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return float(info.frames) / float(info.samplerate)


def read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
    mono: np.ndarray = samples.mean(axis=1)
    return mono
