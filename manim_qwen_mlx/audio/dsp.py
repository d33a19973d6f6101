"""Signal processing on narration: silence trimming and pitch-preserving speed change (WSOLA)."""

from __future__ import annotations

import numpy as np

from manim_qwen_mlx.core.defaults import SAMPLE_RATE

SILENCE_FLOOR_DB = -50.0  # a 10 ms frame quieter than this is silence, whatever the peak
BELOW_PEAK_DB = 40.0  # ...and so is one this far below the loudest frame
TRIM_MARGIN_SECONDS = 0.04  # keep a breath of room so consonants are not clipped


def speech_bounds(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[int, int] | None:
    """First and last sample of speech, with a small margin; None when it is all silence."""
    frame = max(1, sample_rate // 100)
    count = len(samples) // frame
    if count == 0:
        return None
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)
    peak = float(level.max())
    if peak < SILENCE_FLOOR_DB:
        return None
    voiced = np.flatnonzero(level > max(SILENCE_FLOOR_DB, peak - BELOW_PEAK_DB))
    margin = int(TRIM_MARGIN_SECONDS * sample_rate)
    start = max(0, int(voiced[0]) * frame - margin)
    end = min(len(samples), (int(voiced[-1]) + 1) * frame + margin)
    return start, end


def stretch(samples: np.ndarray, speed: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Play ``speed`` times faster with the pitch kept (waveform-similarity overlap-add).

    Each output frame is the input frame near its nominal position that best continues the previous
    one, so periods line up and no pitch shift or phasing is heard.
    """
    if speed == 1.0 or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    frame = int(0.04 * sample_rate)
    hop_out = frame // 2
    tolerance = hop_out // 2
    window = np.hanning(frame + 1)[:frame]  # periodic Hann: overlaps at 50% sum to one
    out_len = round(len(samples) / speed)
    padded = np.concatenate([np.zeros(tolerance), samples.astype(np.float64), np.zeros(2 * frame + tolerance)])
    out = np.zeros(out_len + frame)
    weight = np.zeros(out_len + frame)
    previous = tolerance
    for index, position in enumerate(range(0, out_len, hop_out)):
        nominal = tolerance + round(index * hop_out * speed)
        if index:
            target = padded[previous + hop_out : previous + hop_out + frame]
            region = padded[nominal - tolerance : nominal + tolerance + frame]
            nominal += int(np.argmax(np.correlate(region, target, mode="valid"))) - tolerance
        out[position : position + frame] += padded[nominal : nominal + frame] * window
        weight[position : position + frame] += window
        previous = nominal
    stretched = out[:out_len] / np.maximum(weight[:out_len], 1e-3)
    return stretched.astype(np.float32)
