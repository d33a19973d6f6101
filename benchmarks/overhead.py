"""Plugin overhead and memory: N narrations through QwenMLXService (cache cold) vs the same texts,
voice, seed and checkpoint through stock mlx-audio (its own `load_model` and `generate`: no voice
store, no decoder fixes, no CPU fast path; only the process-wide BLAS is shared); and resident memory
after segment 10 vs segment 100 of one long run.

    .venv/bin/python benchmarks/overhead.py [--segments 10] [--frames 12] [--memory-segments 100]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """Resident memory now on Linux; elsewhere (no /proc) the peak, which is what macOS reports."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)  # macOS reports bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--frames", type=int, default=48, help="codec frames per segment (48: a 4 s narration)")
    parser.add_argument("--memory-segments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    import mlx.core as mx
    import numpy as np
    import soundfile as sf

    from manim_qwen_mlx import QwenMLXService
    from manim_qwen_mlx.audio import load_reference

    # manim prints every INFO line through rich; the direct arm logs nothing, so neither does ours here.
    logging.getLogger("manim.qwen_mlx").setLevel(logging.WARNING)

    voice = REPO / "example_scenes" / "voices" / "espeak.wav"
    ref_text = voice.with_suffix(".txt").read_text().strip()
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        work = Path(tmp)
        if args.model is None:
            sys.path.insert(0, str(REPO / "tests"))
            from fixtures.tiny_qwen3_tts import build_checkpoint

            args.model = build_checkpoint(work / "tiny")
        from mlx_audio.tts.utils import load_model

        model = load_model(Path(args.model).resolve())  # stock: a model of its own, untouched by us
        reference = mx.array(load_reference(voice))
        warm_up = "Warming up the model before the timed rounds begin."
        list(model.generate(text=warm_up, ref_audio=reference, ref_text=ref_text, max_tokens=args.frames))
        service = QwenMLXService(model=args.model, ref_audio=voice, max_tokens=args.frames, cache_dir=work / "cache")
        service._wrap_generate_from_text(warm_up)  # both arms start with the voice encoded

        # Arms alternate over rounds, fresh texts each round (the service's cache stays cold), so
        # machine noise falls on both alike.
        direct = plugin = 0.0
        for round_ in range(args.rounds):
            texts = [f"Segment number {i} of round {round_} of the benchmark." for i in range(args.segments)]
            started = time.perf_counter()
            for i, text in enumerate(texts):
                mx.random.seed(1234)
                results = list(
                    model.generate(text=text, ref_audio=reference, ref_text=ref_text, max_tokens=args.frames)
                )
                sf.write(work / f"direct-{i}.wav", np.concatenate([np.asarray(r.audio) for r in results]), 24_000)
            direct += time.perf_counter() - started
            started = time.perf_counter()
            for text in texts:
                service._wrap_generate_from_text(text)
            plugin += time.perf_counter() - started

        memory = {}
        for i in range(1, args.memory_segments + 1):
            service._wrap_generate_from_text(f"Memory segment number {i} of the long benchmark run.")
            if i in (10, args.memory_segments):
                memory[i] = rss_mb()
    print(
        f"{args.rounds} rounds x {args.segments} segments, {args.frames} frames each, model {Path(args.model).name}, "
        f"BLAS: {blas.prepare_blas()}"
    )
    print(f"stock mlx-audio generate: {direct:.2f} s")
    print(f"QwenMLXService (cache cold): {plugin:.2f} s")
    extra_ms = 1000 * (plugin - direct) / (args.rounds * args.segments)
    print(
        f"plugin / stock ratio: {plugin / direct:.3f} (goal <= 1.03); {extra_ms:+.1f} ms per segment "
        "(our loop and fixes, voice store, cache lookups, locks, fsync'd WAV and index)"
    )
    last = args.memory_segments
    print(
        f"RSS after segment 10: {memory[10]:.0f} MB; after segment {last}: {memory[last]:.0f} MB; "
        f"growth {100 * (memory[last] / memory[10] - 1):+.1f}% (goal <= +5%)"
    )


if __name__ == "__main__":
    main()
