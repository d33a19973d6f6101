"""CPU fast path: speech-decoder real-time factor and whole synthesis, stock vs fast, with and without
OpenBLAS, at tiny and full-size (released 12 Hz decoder) dimensions, side by side in one run.

    .venv/bin/python benchmarks/cpu_fastpath.py [--frames 12] [--skip-full]

Each configuration runs in its own process, because OpenBLAS must be loaded before mlx is imported.
RTF here is seconds of audio per second of compute (> 1 is faster than real time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = [("stock", "off"), ("stock", "openblas"), ("fast", "off"), ("fast", "openblas")]


def worker(path: str, frames: int, full: bool) -> dict[str, float]:
    """Runs in a child process whose environment picks the BLAS and the conv path."""
    from manim_qwen_mlx import backends
    from manim_qwen_mlx.backends import blas
    from manim_qwen_mlx.backends.numpy_cpu.backend import swap_decoder_layers

    blas.prepare_blas()
    import mlx.core as mx
    from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizerDecoder

    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import engine

    result: dict[str, float] = {}
    model = loader.load(Path(path))  # swaps the tiny decoder's convs when MANIM_QWEN_MLX_FAST_CPU != 0
    result["tiny_decoder_rtf"] = _decoder_rtf(model.speech_tokenizer.decoder, frames, mx)
    if full:
        decoder = Qwen3TTSSpeechTokenizerDecoder(Qwen3TTSTokenizerDecoderConfig())
        mx.eval(decoder.parameters())
        holder = type("Holder", (), {})()
        holder.speech_tokenizer = type("ST", (), {"decoder": decoder})()
        if backends.choose().name == "numpy-cpu":  # the stock arms keep mlx-audio's layers
            swap_decoder_layers(holder)
        result["full_decoder_rtf"] = _decoder_rtf(decoder, frames, mx)
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    settings = SynthesisSettings(max_tokens=frames)
    engine.synthesize("A circle.", voice, settings, ModelRef.resolve(path))  # warm-up: encode the reference
    times = []
    for _ in range(5):  # a tiny synthesis takes a fraction of a second: take the median of five
        started = time.perf_counter()
        engine.synthesize("A circle. Watch it grow.", voice, settings, ModelRef.resolve(path))
        times.append(time.perf_counter() - started)
    result["tiny_synthesis_s"] = sorted(times)[2]
    return result


def _decoder_rtf(decoder: object, frames: int, mx: object) -> float:
    codes = mx.random.randint(1, 2048, (1, 16, frames))  # type: ignore[attr-defined]
    mx.eval(decoder(codes))  # type: ignore[attr-defined,operator]
    started = time.perf_counter()
    audio = decoder(codes)  # type: ignore[operator]
    mx.eval(audio)  # type: ignore[attr-defined]
    return audio.shape[-1] / 24_000 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12, help="codec frames to decode (12.5 = 1 s)")
    parser.add_argument("--skip-full", action="store_true", help="skip the full-size decoder (slow when stock)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.worker[2] == "1")))
        return
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_qwen3_tts import build_checkpoint

    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        model = build_checkpoint(Path(tmp) / "tiny")
        for conv, blas in CONFIGS:
            env = {
                **os.environ,
                "MANIM_QWEN_MLX_FAST_CPU": "1" if conv == "fast" else "0",
                "MANIM_QWEN_MLX_BLAS": "" if blas == "openblas" else "off",
            }
            out = subprocess.run(
                [sys.executable, __file__, "--worker", str(model), str(args.frames), "0" if args.skip_full else "1"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            rows[(conv, blas)] = json.loads(out.stdout.strip().splitlines()[-1])
    _print(rows, args)


def _print(rows: dict, args: argparse.Namespace) -> None:
    import platform

    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.frames} frames ({args.frames / 12.5:.2f} s of audio) per decode"
    )
    metrics = [m for m in ("tiny_decoder_rtf", "full_decoder_rtf", "tiny_synthesis_s") if m in rows[CONFIGS[0]]]
    print(f"{'conv / BLAS':<20}" + "".join(f"{m:>20}" for m in metrics))
    for key in CONFIGS:
        print(f"{key[0] + ' / ' + key[1]:<20}" + "".join(f"{rows[key][m]:>20.3f}" for m in metrics))
    base = rows[("stock", "off")]
    best = rows[("fast", "openblas")]
    for metric in metrics:
        ratio = best[metric] / base[metric] if metric.endswith("rtf") else base[metric] / best[metric]
        print(f"fast+openblas vs stock+bundled, {metric}: {ratio:.1f}x")
    if "full_decoder_rtf" in metrics:
        stock_ob = rows[("stock", "openblas")]["full_decoder_rtf"]
        print(f"full decoder, fast vs stock (both OpenBLAS): {best['full_decoder_rtf'] / stock_ob:.1f}x")


if __name__ == "__main__":
    main()
