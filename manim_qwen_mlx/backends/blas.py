"""The BLAS mlx binds to on Linux. mlx's CPU wheel bundles the reference BLAS (fp32 matmul at ~5
GFLOPS); a system OpenBLAS loaded with RTLD_GLOBAL *before mlx is first imported* makes mlx's BLAS calls
bind to it (far faster matmuls: docs/performance.md; after the import it is too late). Every loader calls
``prepare_blas`` first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
from pathlib import Path

from manim_qwen_mlx.core.defaults import BLAS_ENV, LOGGER_NAME, OPENBLAS_CANDIDATES

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
