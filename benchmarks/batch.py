"""Continuous batching: rows x frames per second of the decoding loop (talker + code predictor, prefill
included, the speech decoder not) at batch sizes 1, 2, 4 and 8, each size in a fresh process (peak RSS),
idle and with one core kept busy by another process; and whether every row's codes equal those of the
first size given (batch 1 by default). With ``--runs N`` the sizes run N rounds, alternating, and the
seconds are the median (the range beside it). "Steps alone" leaves out the seconds spent in the rows'
prefills (the backend's ``start``, timed in the run): each row's prefill is its own product whatever the
batch (a row's bits must not depend on its neighbours), so only the steps share their weights' reads. On
the mlx backend ``start`` is lazy and that column means little.

    .venv/bin/python benchmarks/batch.py [FOLDER] [--rows 8] [--frames 24] [--sizes 1,2,4,8] [--no-busy] [--runs 1]

FOLDER: a checkpoint (benchmarks/vs_reference.py --checkpoint FOLDER builds the 0.6B-Base dimensions);
without it the tiny test checkpoint, whose figures measure Python, not arithmetic. Rows are sampled
(temperature 0.9, top-k 50), each with its own seed, over eight different sentences and one cloned voice.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "A circle grows slowly on the screen.", "Then a square appears beside it.", "The two shapes meet.",
    "Now watch the area of the circle.", "It is pi times the radius squared.", "The square's side is two.",
    "So its area is four.", "Which one is larger?",
]


def worker(folder: str, rows: int, frames: int, batch: int, codes_out: str) -> None:
    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    import numpy as np

    sys.path.insert(0, str(REPO / "tests"))
    from one_row import scheduled

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.settings import Sampling
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import prompt, scheduler, sentence

    model = loader.load(Path(folder).resolve())
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    built = [prompt.build(model, TEXTS[i % len(TEXTS)], spoken, "auto", False) for i in range(rows)]
    sampling = Sampling(0.9, 50, 1.0, 1.05)
    warm = scheduler.Job(lambda: built[0], sampling, sampling, 2, 0)
    list(scheduled(model, [(0, warm)], 1))
    jobs = [(i, scheduler.Job(lambda b=b: b, sampling, sampling, frames, 1000 + i)) for i, b in enumerate(built)]
    steps = model.steps()
    start, prefill = steps.start, [0.0]

    def timed_start(*args: object) -> object:
        began = time.perf_counter()
        try:
            return start(*args)  # type: ignore[arg-type]
        finally:
            prefill[0] += time.perf_counter() - began

    steps.start = timed_start  # type: ignore[method-assign]
    started = time.perf_counter()
    results = {done.tag: np.array(done.codes.codes) for done in scheduled(model, jobs, batch)}
    seconds = time.perf_counter() - started
    np.save(codes_out, np.stack([results[i] for i in range(rows)]))
    made = sum(r.shape[0] for r in results.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(json.dumps({"seconds": seconds, "prefill": prefill[0], "frames": made, "peak_mb": peak}))


def spin() -> None:
    while True:
        pass


def measure(folder: str, rows: int, frames: int, batch: int, codes_out: str, busy: bool) -> dict[str, float]:
    spinner = multiprocessing.Process(target=spin, daemon=True) if busy else None
    if spinner:
        spinner.start()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", folder, str(rows), str(frames), str(batch), codes_out],
            capture_output=True, text=True, check=True,
        )
    finally:
        if spinner:
            spinner.terminate()
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--no-busy", action="store_true", help="skip the runs with one core kept busy")
    parser.add_argument("--runs", type=int, default=1, help="rounds over the sizes; seconds are their median")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, rows, frames, batch, codes_out = args.worker
        worker(folder, int(rows), int(frames), int(batch), codes_out)
        return
    import numpy as np

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = args.checkpoint
        if folder is None:
            sys.path.insert(0, str(REPO / "tests"))
            from fixtures.tiny_qwen3_tts import build_checkpoint

            folder = build_checkpoint(Path(tmp) / "tiny")
        print(f"{folder.name}: {args.rows} rows x {args.frames} frames, sampled, one voice; "
              f"{os.cpu_count()} cores; each size in its own process")
        first = sizes[0]
        print(f"| batch | load | seconds | rows x frames/s | vs batch {first} | prefills | steps alone: rows x "
              f"frames/s | vs batch {first} | peak RSS | codes equal to batch {first} |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for busy in ([False] if args.no_busy else [False, True]):
            runs: dict[int, list[dict[str, float]]] = {batch: [] for batch in sizes}
            for _ in range(args.runs):  # the sizes alternate, so the VM's swings reach every size alike
                for batch in sizes:
                    codes_out = str(Path(tmp) / f"codes-{batch}-{busy}.npy")
                    runs[batch].append(measure(str(folder), args.rows, args.frames, batch, codes_out, busy))
            base = steps_base = None
            first_codes = None
            for batch in sizes:
                seconds = sorted(run["seconds"] for run in runs[batch])
                middle = seconds[len(seconds) // 2]
                rate = runs[batch][0]["frames"] / middle
                base = base or rate
                alone = sorted(run["seconds"] - run["prefill"] for run in runs[batch])
                prefill = sorted(run["prefill"] for run in runs[batch])[len(alone) // 2]
                steps_rate = runs[batch][0]["frames"] / alone[len(alone) // 2]
                steps_base = steps_base or steps_rate
                codes = np.load(str(Path(tmp) / f"codes-{batch}-{busy}.npy"))
                first_codes = codes if first_codes is None else first_codes
                same = [bool(np.array_equal(a, b)) for a, b in zip(codes, first_codes, strict=True)]
                differing = int(sum((a != b).any(axis=-1).sum() for a, b in zip(codes, first_codes, strict=True)))
                load = "one core busy" if busy else "idle"
                spread = f" ({seconds[0]:.1f}-{seconds[-1]:.1f})" if len(seconds) > 1 else ""
                peak = max(run["peak_mb"] for run in runs[batch])
                print(f"| {batch} | {load} | {middle:.2f}{spread} | {rate:.2f} | {rate / base:.2f}x | "
                      f"{prefill:.2f} s | {steps_rate:.2f} | {steps_rate / steps_base:.2f}x | {peak / 1024:.2f} GB | "
                      f"{sum(same)}/{len(same)} rows ({differing} frames differ) |")

if __name__ == "__main__":
    main()
