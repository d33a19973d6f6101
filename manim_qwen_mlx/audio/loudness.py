"""One loudness for every narration of a video: each is brought to a target integrated loudness (ITU-R
BS.1770, measured by pyloudnorm's meter: K-weighting and gating) by a gain, and a peak limiter keeps its
true peak (the waveform four times oversampled) under a ceiling, as broadcast loudness normalization does.
The limiter lowers the gain only around the peaks that would cross the ceiling, smoothly (a hold of
``HOLD_SECONDS`` each side, then a moving average as wide), so nothing is clipped; speech, whose peaks sit
12-18 dB over its loudness, is rarely touched at -16 LUFS. Nothing changes a duration or a word time.
"""

from __future__ import annotations

import numpy as np

from manim_qwen_mlx.core.defaults import SAMPLE_RATE, TRUE_PEAK_CEILING_DB

BLOCK_SECONDS = 0.4  # BS.1770's gating block: the meter needs one whole block
OVERSAMPLE = 4  # true peak as BS.1770 estimates it
HOLD_SECONDS = 0.005  # how far before and after a peak the limiter's gain is already down
PASSES = 3  # gain, limit, measure again: the limiter's share of the loudness is made up (within 0.1 LU)


def integrated(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Integrated loudness in LUFS (-inf for silence); a clip shorter than one block is measured repeated."""
    import pyloudnorm

    block = int(BLOCK_SECONDS * sample_rate)
    measured = np.resize(samples, block) if 0 < len(samples) < block else samples
    if len(measured) == 0:
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(measured.astype(np.float64)))


def true_peak_db(samples: np.ndarray) -> float:
    """The highest sample of the waveform four times oversampled, in dB of full scale."""
    from scipy.signal import resample_poly

    if len(samples) == 0:
        return float("-inf")
    peak = float(np.max(np.abs(resample_poly(samples.astype(np.float64), OVERSAMPLE, 1))))
    return 20 * float(np.log10(peak)) if peak > 0 else float("-inf")


def normalize(samples: np.ndarray, target: float | None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` at ``target`` LUFS, their true peak at most ``TRUE_PEAK_CEILING_DB``; as they are for
    ``target`` None or silence."""
    if target is None or not np.isfinite(integrated(samples, sample_rate)):
        return samples
    made, gain_db = samples, 0.0
    for _ in range(PASSES):
        gain_db += target - integrated(made, sample_rate)
        made = limit(samples * np.float32(10 ** (gain_db / 20)), sample_rate)
    return made


def limit(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` with a smooth gain, lowered only near the peaks over the ceiling, so that the true peak
    is at most ``TRUE_PEAK_CEILING_DB``."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import resample_poly

    ceiling = 10 ** (TRUE_PEAK_CEILING_DB / 20)
    upsampled = np.abs(resample_poly(samples.astype(np.float64), OVERSAMPLE, 1))[: len(samples) * OVERSAMPLE]
    envelope = upsampled.reshape(len(samples), OVERSAMPLE).max(axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    if needed.min() >= 1.0:
        return samples.astype(np.float32)
    width = 2 * int(HOLD_SECONDS * sample_rate) + 1
    # A moving average of the hold's minimum never rises above what any sample in its reach needs.
    gain = uniform_filter1d(minimum_filter1d(needed, size=2 * width - 1), size=width)
    limited = samples * gain
    over = true_peak_db(limited) - TRUE_PEAK_CEILING_DB  # between samples the average may miss a little
    made: np.ndarray = (limited * 10 ** (-max(over, 0.0) / 20)).astype(np.float32)
    return made
