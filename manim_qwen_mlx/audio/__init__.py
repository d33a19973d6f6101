"""Audio files and signal processing: reference clips, WAV files, resampling (``clips``); silence
trimming and pitch-preserving speed (``dsp``)."""

from manim_qwen_mlx.audio.clips import duration, load_reference, read_wav, resample, write_wav

__all__ = ["duration", "load_reference", "read_wav", "resample", "write_wav"]
