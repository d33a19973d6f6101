"""The Mac's path, measured where a Mac's GPU is bound: per-kernel and per-step overhead. A checkpoint at the
released depth (28 talker layers, 5 code-predictor layers, 8 decoder-transformer layers) but tiny widths, so
its arithmetic is negligible and a frame's time is its overhead at the real kernel count.

Side by side, each in a fresh process, alternating over ``--runs`` rounds:
- ours: the mlx backend (``MANIM_QWEN_MLX_FAST_CPU=0``, as a Mac's GPU chooses it), continuous batching;
- mlx-audio's own ``batch_generate`` on the same MLX, one shared reference clip (what a Mac user would run
  instead), its decoding stubbed out; batches of ``size`` texts, one after the other.
``--rows`` sampled rows (temperature 0.9, top-k 50, penalty 1.05) of ``--frames`` frames each, prefill included,
the speech decoder left out: rows x frames per second (frames each implementation made). Then, ours only, one
frame's primitives at each size (``mx.export_to_dot`` of the frame's lazy graph: a compiled function counts as
its nodes) and the host waits a frame makes.

    .venv/bin/python benchmarks/mlx_frame.py [--rows 32] [--frames 24] [--sizes 1,8,32] [--runs 2] [--device gpu]
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]
TEXTS = [
    "A circle grows slowly on the screen.", "Then a square appears beside it.", "The two shapes meet.",
    "Now watch the area of the circle.", "It is pi times the radius squared.", "The square's side is two.",
    "So its area is four.", "Which one is larger?",
]
CLIP = REPO / "example_scenes" / "voices" / "espeak.wav"


def build(folder: Path) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(folder, "base", layers=28, predictor_layers=5, decoder_layers=8)


def prompts(folder: str, rows: int) -> tuple[Any, list[Any], Any]:
    """The model (mlx backend), ``rows`` prompts of the texts in one cloned voice, and the rows' sampler."""
    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.settings import Sampling
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import prompt, sentence

    model = loader.load(Path(folder))
    voice = Voice.from_options(CLIP)
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    built = [prompt.build(model, TEXTS[i % len(TEXTS)], spoken, "auto", False) for i in range(rows)]
    return model, built, Sampling(0.9, 50, 1.0, 1.05)


def ours(folder: str, rows: int, frames: int, size: int) -> dict[str, float]:
    from one_row import scheduled

    from manim_qwen_mlx.synthesis import scheduler

    model, built, sampling = prompts(folder, rows)
    warm = [(i, scheduler.Job(lambda b=b: b, sampling, sampling, 3, i)) for i, b in enumerate(built[:size])]
    list(scheduled(model, warm, size))  # compiles each row count's graphs once, as a video's first rows do
    jobs = [(i, scheduler.Job(lambda b=b: b, sampling, sampling, frames, 1000 + i)) for i, b in enumerate(built)]
    started = time.perf_counter()
    made = sum(len(done.codes.codes) for done in scheduled(model, jobs, size))
    return {"seconds": time.perf_counter() - started, "frames": made}


def theirs(folder: str, rows: int, frames: int, size: int) -> dict[str, float]:
    import mlx.core as mx
    from mlx_audio.tts.utils import load_model

    from manim_qwen_mlx import audio

    model = load_model(Path(folder))
    model._decode_icl_generated_codes = lambda codes, ref_codes: mx.zeros((1920,))  # decoding left out
    clip, text = mx.array(audio.load_reference(CLIP)), CLIP.with_suffix(".txt").read_text().strip()
    options = {"ref_audio": clip, "ref_text": text, "temperature": 0.9, "top_k": 50, "top_p": 1.0,
               "repetition_penalty": 1.05, "max_tokens": frames}
    texts = [TEXTS[i % len(TEXTS)] for i in range(rows)]
    list(model.batch_generate(texts[:size], **{**options, "max_tokens": 3}))  # the same warm-up as ours
    started, made = time.perf_counter(), 0
    for first in range(0, rows, size):
        made += sum(result.token_count for result in model.batch_generate(texts[first : first + size], **options))
    return {"seconds": time.perf_counter() - started, "frames": made}


def census(folder: str, size: int) -> dict[str, float]:
    """Ours at ``size`` rows: the primitives in one frame's graphs (the scheduler's frame, built lazily and
    exported before anything is evaluated) and the host waits per frame over a run (every evaluation the
    process asks for: ``mx.eval`` and numpy reading an mlx array)."""
    import io
    import re

    import mlx.core as mx
    import numpy as np
    from one_row import scheduled

    from manim_qwen_mlx.synthesis import decode, scheduler

    model, built, sampling = prompts(folder, size)
    steps = model.steps()
    rows = steps.start(built, [8] * len(built))
    policies = [decode.RowPolicy(model.config, sampling, sampling, 8, i) for i in range(size)]
    for _ in range(2):  # past the first frames' shapes
        steps.frame(rows, decode.first_codes(policies, steps.talk(rows)), decode.RowDraws(policies))
    # One frame as steps.frame builds it, left lazy.
    draws = decode.RowDraws(policies)
    firsts = decode.first_codes(policies, steps.talk(rows))
    hidden = mx.concatenate([row.hidden[row.index : row.index + 1] for row in rows])
    codes, keys, embedded = steps._predictor(size, draws)(hidden, firsts.reshape(-1, 1).astype(mx.int32), draws.keys())
    inputs = mx.concatenate([row.prompt.pad for row in rows]) + embedded
    logits, hidden = steps.slots.step([row.seat for row in rows], inputs)
    dot = io.StringIO()
    mx.export_to_dot(dot, codes, keys, logits, hidden)
    primitives = len(re.findall(r'label ="[A-Za-z]', dot.getvalue()))
    for row in rows:
        steps.drop(row)

    waits = 0
    real_array, real_eval = np.array, mx.eval

    def counted_array(value: object, *args: object, **kwargs: object) -> object:
        nonlocal waits
        waits += isinstance(value, mx.array)
        return real_array(value, *args, **kwargs)

    def counted_eval(*args: object) -> None:
        nonlocal waits
        waits += 1
        real_eval(*args)

    jobs = [(i, scheduler.Job(lambda b=b: b, sampling, sampling, 12, i)) for i, b in enumerate(built)]
    np.array, mx.eval = counted_array, counted_eval  # type: ignore[assignment]
    try:
        frames = sum(len(done.codes.codes) for done in scheduled(model, jobs, size)) / size
    finally:
        np.array, mx.eval = real_array, real_eval  # type: ignore[assignment]
    return {"primitives": primitives, "waits": waits / frames}


def child(args: argparse.Namespace) -> None:
    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    import mlx.core as mx

    if args.device == "cpu":
        mx.set_default_device(mx.cpu)
    run = {"ours": ours, "theirs": theirs}[args.child]
    result = census(args.folder, args.size) if args.census else run(args.folder, args.rows, args.frames, args.size)
    print(json.dumps(result))


def spawn(args: argparse.Namespace, who: str, size: int, census_only: bool = False) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", who, "--folder", str(args.folder), "--size", str(size),
               "--rows", str(args.rows), "--frames", str(args.frames), "--device", args.device]
    env = {**os.environ, "MANIM_QWEN_MLX_FAST_CPU": "0"}
    out = subprocess.run([*command, *(["--census"] if census_only else [])], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sizes", default="1,8,32")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--folder", type=Path, help="a deep proxy built before (else one is built in a temp folder)")
    parser.add_argument("--device", choices=["default", "cpu"], default="default")
    parser.add_argument("--child", choices=["ours", "theirs"])
    parser.add_argument("--size", type=int)
    parser.add_argument("--census", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.folder is None:
        args.folder = build(Path(tempfile.mkdtemp()) / "deep-proxy")
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"deep proxy (28 talker / 5 predictor / 8 decoder layers, tiny widths): {args.rows} rows x {args.frames} "
          f"frames, prefill included, decoding left out; rows x frames / s (median of {args.runs}, range)")
    print("| batch | ours | mlx-audio batch_generate | ours / theirs |")
    print("|---:|---:|---:|---:|")
    for size in sizes:
        rates: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(args.runs):
            for who in rates:
                result = spawn(args, who, size)
                rates[who].append(result["frames"] / result["seconds"])
        cells = [f"{sorted(r)[len(r) // 2]:.1f} ({min(r):.1f}-{max(r):.1f})" for r in rates.values()]
        ratio = sorted(rates["ours"])[len(rates["ours"]) // 2] / sorted(rates["theirs"])[len(rates["theirs"]) // 2]
        print(f"| {size} | {cells[0]} | {cells[1]} | {ratio:.2f} |", flush=True)
    print("\nours, one frame: primitives in its graphs and host waits")
    print("| batch | primitives | host waits |")
    print("|---:|---:|---:|")
    for size in sizes:
        found = spawn(args, "ours", size, census_only=True)
        print(f"| {size} | {found['primitives']:.0f} | {found['waits']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
