"""Set-up checks for ``manim-qwen-mlx doctor``: each says what is wrong and what to do."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from manim_qwen_mlx.core.defaults import BLAS_ENV, DEFAULT_ALIGNER, DEFAULT_ASR
from manim_qwen_mlx.core.errors import QwenMLXError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.model import loader

Status = Literal["ok", "warn", "fail"]
SLOW_BLAS_GFLOPS = 20.0  # the reference BLAS in mlx's CPU wheel runs fp32 matmul at about 5


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def run_checks(model: str | None = None, aligner: str | None = None, asr: str | None = None) -> list[Check]:
    checks = [Check("python", "ok", sys.version.split()[0]), *_packages()]
    device = _mlx_device()
    checks.append(device)
    if device.status != "fail" and device.detail.startswith("cpu") and sys.platform == "linux":
        checks.append(_blas())
    if device.status != "fail":
        from manim_qwen_mlx.backends import choose

        checks.append(Check("backend", "ok", choose().reason))
        checks.extend(_fixes())
    checks.append(_model(model))
    if device.status != "fail":
        from manim_qwen_mlx.model import stt

        checks.append(_companion("aligner", "aligner", aligner or DEFAULT_ALIGNER, stt.load_aligner,
                                 "bookmark times are estimated from character counts instead"))
        checks.append(_companion("recognizer", "asr", asr or DEFAULT_ASR, stt.load_recognizer,
                                 "verify= has no intelligibility check and a clip needs its ref_text"))
    return checks


def _companion(name: str, option: str, model: str, load: Callable[[Path], object], without: str) -> Check:
    """An optional companion model (service option ``option``): here and loadable, or what happens
    without it and how to get it."""
    ref = ModelRef.resolve(model)
    try:
        path = loader.resolve_path(ref, allow_download=False, option=option)
    except QwenMLXError:
        return Check(name, "warn", f"{ref} is not here: {without}", f"manim-qwen-mlx download {ref.name}")
    try:
        load(path)
    except Exception as exc:  # any failure to load is the finding itself
        return Check(name, "warn", f"{path} does not load ({exc}): {without}", f"manim-qwen-mlx download {ref.name}")
    return Check(name, "ok", f"{ref} at {path}")


def _fixes() -> list[Check]:
    """Each load-time fix to mlx-audio: applied (it still computes otherwise), not needed, or not probed."""
    from manim_qwen_mlx.model import fixes

    untested = "this mlx-audio is not one the suite has run: reinstall manim-qwen-mlx for the version it pins"
    return [
        Check(state.name, "warn" if state.applies is None else "ok", f"mlx-audio fix {state.detail} ({state.corrects})",
              untested if state.applies is None else "")
        for state in fixes.states()
    ]


def _packages() -> list[Check]:
    found = []
    for package, needed in (("manim", True), ("manim-voiceover", True), ("mlx", True), ("mlx-audio", True)):
        try:
            found.append(Check(package, "ok", version(package)))
        except PackageNotFoundError:
            found.append(
                Check(
                    package,
                    "fail" if needed else "warn",
                    "not installed",
                    f"pip install {package} (or reinstall manim-qwen-mlx)",
                )
            )
    return found


def _mlx_device() -> Check:
    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    try:
        import mlx.core as mx
    except Exception as exc:
        return Check(
            "mlx device",
            "fail",
            f"mlx does not import: {exc}",
            "pip install 'mlx[cpu]' on Linux, or reinstall mlx on macOS",
        )
    kind = mx.default_device().type
    device = str(getattr(kind, "name", kind))
    metal = bool(getattr(mx, "metal", None) and mx.metal.is_available())
    if sys.platform == "darwin" and not metal:
        return Check(
            "mlx device",
            "warn",
            f"{device} (Metal unavailable)",
            "Use an Apple Silicon Mac with macOS 14 or newer for GPU synthesis.",
        )
    return Check("mlx device", "ok", f"{device}{' (Metal GPU)' if metal else ''}")


def _blas() -> Check:
    import mlx.core as mx

    from manim_qwen_mlx.backends.blas import find_openblas, prepare_blas

    a = mx.random.normal((512, 512))
    mx.eval(a @ a)
    started = time.perf_counter()
    for _ in range(5):
        mx.eval(a @ a)
    gflops = 5 * 2 * 512**3 / (time.perf_counter() - started) / 1e9
    detail = f"{prepare_blas()}; fp32 matmul {gflops:.0f} GFLOPS"
    if gflops >= SLOW_BLAS_GFLOPS:
        return Check("cpu blas", "ok", detail)
    fix = (
        "sudo apt-get install libopenblas0-pthread (Fedora: openblas-threads); it is loaded automatically"
        if find_openblas() is None
        else f"unset {BLAS_ENV}, or point it at an OpenBLAS library"
    )
    return Check("cpu blas", "warn", detail + " (synthesis on the CPU will be very slow)", fix)


def _model(model: str | None) -> Check:
    ref = ModelRef.resolve(model)
    try:
        path = loader.resolve_path(ref, allow_download=False)
        info = loader.read_info(path)
    except QwenMLXError as exc:
        if ref.is_local or loader.offline_requested():
            return Check("model", "fail", str(exc), f"manim-qwen-mlx download {ref.name}")
        return Check(
            "model",
            "warn",
            f"{ref} is not downloaded; the first synthesis downloads it",
            f"manim-qwen-mlx download {ref.name} (to do it now)",
        )
    return Check("model", "ok", f"{ref}: {info.tts_model_type} at {path}")
