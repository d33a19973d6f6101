"""Shared fixtures: tiny random Qwen3-TTS checkpoints built once per session, a reference clip.

Nothing here reaches the network: HF_HUB_OFFLINE is set for the whole run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from manim_qwen_mlx.backends import blas

# OpenBLAS must load before anything imports mlx, so this comes before every other test import.
blas.prepare_blas()  # the suite uses the CPU fast path, as the product does by default

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["MANIM_QWEN_MLX_OFFLINE"] = "1"
os.environ.pop("MANIM_QWEN_MLX_MODEL", None)
# A fixed BLAS thread count: the suite's own subprocesses would otherwise move it between the runs that
# equality tests compare (tests/test_threads.py covers the policy itself).
os.environ.setdefault("MANIM_QWEN_MLX_BLAS_THREADS", str(os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_VOICE = REPO / "example_scenes" / "voices" / "espeak.wav"
FRAMES = 6  # random weights never stop on their own: keep every test's generations short


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-base", "base")


@pytest.fixture(scope="session")
def tiny_asr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Qwen3-ASR: loads through mlx-audio's STT loader; what it hears is noise."""
    from fixtures.tiny_forced_aligner import build_qwen3_asr

    return build_qwen3_asr(tmp_path_factory.mktemp("models") / "tiny-asr")


@pytest.fixture(scope="session")
def tiny_model_8bit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Base model as mlx-community ships models: 8-bit linear layers, bfloat16 elsewhere."""
    from fixtures.quantized import build_quantized_tts

    return build_quantized_tts(tmp_path_factory.mktemp("models") / "tiny-base-8bit")


@pytest.fixture(scope="session")
def tiny_aligner_4bit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.quantized import build_quantized_aligner

    return build_quantized_aligner(tmp_path_factory.mktemp("models") / "tiny-aligner-4bit")


@pytest.fixture(scope="session")
def tiny_eager(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Base model that wants to say end-of-speech at every step, the first included."""
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-eager", "base", eager_eos=True)


@pytest.fixture(scope="session")
def tiny_custom_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-custom", "custom_voice")


@pytest.fixture(scope="session")
def tiny_voice_design(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-design", "voice_design")


@pytest.fixture(scope="session")
def tiny_aligner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_forced_aligner import build_aligner

    return build_aligner(tmp_path_factory.mktemp("models") / "tiny-aligner")


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """A copy of the example clip with its sidecar transcript."""
    clip = tmp_path / "voice" / "me.wav"
    clip.parent.mkdir()
    shutil.copy(EXAMPLE_VOICE, clip)
    shutil.copy(EXAMPLE_VOICE.with_suffix(".txt"), clip.with_suffix(".txt"))
    return clip


@pytest.fixture
def numpy_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loads in this test choose the numpy-cpu backend, Linux's default, whatever the environment chose
    (``MANIM_QWEN_MLX_FAST_CPU=0``, or a Mac, whose GPU is set aside for the test: MLX on the CPU)."""
    import mlx.core as mx

    from manim_qwen_mlx.core.defaults import FAST_CPU_ENV, PRECISION_ENV

    monkeypatch.setenv(FAST_CPU_ENV, "1")
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    previous = mx.default_device()
    try:
        mx.set_default_device(mx.cpu)
    except Exception as exc:  # an MLX build without a CPU device: numpy-cpu cannot run here
        pytest.skip(f"MLX cannot run on the CPU here ({exc}), so neither can the numpy-cpu backend")
    yield
    mx.set_default_device(previous)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "voiceovers"


@pytest.fixture(autouse=True)
def _quiet_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # manim-voiceover and manim write media/ under the working directory.
    monkeypatch.chdir(tmp_path)
    yield


def render_scene(scene_file: Path, scene: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`manim render -ql` as a user runs it, media under ``cwd``; fails the test with manim's output."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "manim",
            "render",
            "-ql",
            "--disable_caching",
            "--media_dir",
            str(cwd / "media"),
            str(scene_file),
            scene,
        ],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`manim-qwen-mlx ARGS` as a user runs it, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "manim_qwen_mlx", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
