"""Why a sentence's decode runs beside the steps on the CPU: the steps of a batch (``scheduler.Scheduler`` over
ROWS rows of FRAMES frames, prefill included) and the speech decoder's numpy stages (one 24-frame
sentence's, after the 6 s reference), each alone on one core and on every core, then both at once, the
decodes holding one core (``threads.beside_steps``) for as long as the steps take. In one process, as
``engine.synthesize_many`` runs them.

    .venv/bin/python benchmarks/beside_steps.py FOLDER [--rows 16] [--frames 24] [--rounds 2]

FOLDER: a checkpoint (benchmarks/vs_reference.py --checkpoint FOLDER builds the 0.6B-Base dimensions).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from batch import REPO, TEXTS
from vs_reference import CLIP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    import numpy as np

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.backends.numpy_cpu import threads
    from manim_qwen_mlx.core.settings import Sampling
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import decode, prompt, scheduler, sentence

    sys.path.insert(0, str(REPO / "tests"))
    from one_row import scheduled

    model = loader.load(args.checkpoint.resolve())
    voice = Voice.from_options(CLIP, CLIP.with_suffix(".txt").read_text().strip())
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    built = [prompt.build(model, TEXTS[i % len(TEXTS)], spoken, "auto", False) for i in range(args.rows)]
    sampling = Sampling(0.9, 50, 1.0, 1.05)
    codes = np.random.default_rng(0).integers(0, 2048, size=(24, 16)).astype(np.int32)
    later = decode.to_audio_later(model, codes, spoken.decoder)  # the mlx layers once; the numpy stages below
    assert later.numpy_left, "the numpy-cpu backend runs the decoder's stages in numpy"
    cores = os.cpu_count() or 1

    def steps(one_core: bool) -> float:
        jobs = [(i, scheduler.Job(lambda b=b: b, sampling, sampling, args.frames, 1000 + i))
                for i, b in enumerate(built)]
        started = time.perf_counter()
        with threads.beside_steps() if one_core else nullcontext():  # held here: the steps leave a core
            list(scheduled(model, jobs, args.rows))
        return time.perf_counter() - started

    def decodes(one_core: bool, count: int = 4) -> float:
        started = time.perf_counter()
        with threads.beside_steps() if one_core else nullcontext():
            for _ in range(count):
                later.finish()
        return (time.perf_counter() - started) / count

    steps(False)  # warm: compile, caches
    print(f"{args.checkpoint.name}: {args.rows} rows x {args.frames} frames at batch {args.rows}; decodes of a "
          f"24-frame sentence; {cores} cores; idle")
    print("| round | steps, every core | steps, one | decode, every core | decode, one | together: steps, "
          "decodes done | one after the other, every core | gain |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|")
    for round_ in range(args.rounds):
        steps_all, steps_one = steps(False), steps(True)
        decode_all, decode_one = decodes(False), decodes(True)
        stop, done = threading.Event(), [0]
        thread = threading.Thread(target=beside, args=(later.finish, stop, done))
        thread.start()
        together = steps(False)
        stop.set()
        thread.join()
        serial = steps_all + done[0] * decode_all
        print(f"| {round_ + 1} | {steps_all:.1f} s | {steps_one:.1f} s | {decode_all:.2f} s | {decode_one:.2f} s | "
              f"{together:.1f} s, {done[0]} | {serial:.1f} s | {serial / together:.2f}x |")


def beside(finish: Callable[[], object], stop: threading.Event, done: list[int]) -> None:
    """Decodes beside the steps, as ``synthesis.background`` runs them, until ``stop``; counted in ``done``."""
    from manim_qwen_mlx.backends.numpy_cpu import threads

    with threads.beside_steps():
        while not stop.is_set():
            finish()
            done[0] += 1


if __name__ == "__main__":
    main()
