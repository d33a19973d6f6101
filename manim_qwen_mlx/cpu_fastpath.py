"""The CPU fast path. On Linux, mlx's CPU wheel bundles the reference BLAS (fp32 matmul at ~5 GFLOPS)
and runs convolutions naively; Qwen3-TTS's speech decoder is almost all convolutions. Two remedies:

1. load a system OpenBLAS with RTLD_GLOBAL *before mlx is first imported*, so mlx's BLAS calls bind
   to it (30x faster matmuls here; after the import it is too late);
2. on the CPU device only (Metal keeps mlx-audio's layers): run the decoder's waveform stages in
   numpy (``cpu_decoder``), and its other Conv1d / ConvTranspose1d layers as im2col + one matmul each
   (an elementwise sum for depthwise convs). The talker's single-token steps are ``cpu_step``'s.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

from . import device, mlx_tree
from .defaults import BLAS_ENV, FAST_CPU_ENV, LOGGER_NAME, OPENBLAS_CANDIDATES

log = logging.getLogger(LOGGER_NAME)
_blas: str | None = None


def find_openblas() -> Path | None:
    arch = platform.machine()
    for pattern in OPENBLAS_CANDIDATES:
        path = Path(pattern.format(arch=arch))
        if path.exists():
            return path
    return None


def prepare_blas() -> str:
    """Load a system OpenBLAS for mlx on Linux (once, before mlx loads); say which BLAS is in use."""
    global _blas
    if _blas is not None:
        return _blas
    choice = os.environ.get(BLAS_ENV, "").strip()
    if sys.platform != "linux":
        _blas = "the platform's (Accelerate on macOS)"
    elif "mlx.core" in sys.modules:
        _blas = "mlx's bundled BLAS (mlx was imported before manim_qwen_mlx could load OpenBLAS)"
    elif choice.lower() in {"off", "0", "bundled"}:
        _blas = f"mlx's bundled reference BLAS ({BLAS_ENV}={choice})"
    else:
        path = Path(choice) if choice else find_openblas()
        if path is None:
            _blas = "mlx's bundled reference BLAS (slow: install libopenblas0-pthread)"
        else:
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                _blas = f"OpenBLAS {path}"
            except OSError as exc:
                _blas = f"mlx's bundled reference BLAS ({path} did not load: {exc})"
    log.info("CPU BLAS: %s", _blas)
    return _blas


def accelerate_decoder(model: Any) -> int:
    """Swap the speech decoder's waveform stages for numpy ones and its other convolutions for matmul
    versions when running on the CPU.

    Returns how many layers were swapped (0 on Metal, or when turned off).
    """
    import mlx.nn as nn

    if not device.is_cpu() or os.environ.get(FAST_CPU_ENV, "1") == "0":
        return 0
    from .cpu_decoder import numpy_version

    decoder = model.speech_tokenizer.decoder  # mlx-audio compiles it; attribute access reaches the module
    swapped = 0
    waveform = dict(decoder.items())["decoder"]  # the upsampling blocks and the output layers
    for index, layer in enumerate(waveform):
        stand_in = numpy_version(layer)
        if stand_in is not None:
            waveform[index] = stand_in
            swapped += 1
    if swapped:
        # numpy cannot run inside mx.compile's trace, so callers of the wrapper (some of mlx-audio's own
        # paths) get the module itself; ours never used the wrapper (chunked_decode calls the module).
        model.speech_tokenizer.decoder = decoder = getattr(decoder.chunked_decode, "__self__", decoder)
    for container in mlx_tree.containers(decoder):
        for key, child in mlx_tree.children(container):
            fast = _fast_version(child, nn)
            if fast is not None:
                mlx_tree.replace(container, key, fast)
                swapped += 1
    log.info("CPU fast path: %d decoder layers swapped (waveform stages in numpy, convolutions as matmuls)", swapped)
    return swapped


def _fast_version(layer: Any, nn: Any) -> Any:
    from .fast_conv import FastConv1d, FastConvTranspose1d

    if isinstance(layer, nn.Conv1d) and layer.stride == 1 and layer.padding == 0:
        depthwise = layer.groups == layer.weight.shape[0] and layer.weight.shape[-1] == 1
        return FastConv1d(layer) if layer.groups == 1 or depthwise else None
    if isinstance(layer, nn.ConvTranspose1d) and layer.padding == 0 and layer.dilation == 1:
        kernel = layer.weight.shape[1]
        if layer.output_padding == 0 and kernel % layer.stride == 0:
            return FastConvTranspose1d(layer)
    return None
