"""A video's narration on the Mac's path, whole process: ours (the mlx backend, ``engine.synthesize_many``)
against mlx-audio's own ``batch_generate`` on the same MLX device, both decoding their audio, each arm a
fresh process on the same checkpoint folder (one shared cloned voice, sampled as the official defaults).
Made for a GPU (``benchmarks/gpu_run.sh``); on a CPU it runs the same, ours on the mlx backend.

    .venv/bin/python benchmarks/mlx_video.py [FOLDER] [--narrations 8] [--frames 24] [--runs 1]

Without FOLDER, on the deep proxy of ``mlx_frame.py`` (the released depth, tiny widths), built in a temp folder.

Reports each arm's whole process (import, load, voice, generation, decoding: what a user waits for) and its
part after the load, the audio each made, and ours / theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "example_scenes" / "voices" / "espeak.wav"
TEXTS = (
    "A circle grows slowly on the screen.", "Then a square appears beside it.", "The two shapes meet.",
    "Now watch the area of the circle.", "It is pi times the radius squared.", "The square's side is two.",
    "So its area is four.", "Which one is larger?",
)
SAMPLING = {"temperature": 0.9, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.05}


def ours(folder: str, texts: list[str], frames: int) -> dict[str, float]:
    from manim_qwen_mlx.backends.blas import prepare_blas

    prepare_blas()
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import engine

    ref = ModelRef.resolve(folder)
    loader.load(loader.resolve_path(ref, allow_download=False))
    loaded = time.perf_counter()
    voice = Voice.from_options(CLIP)
    settings = SynthesisSettings(max_tokens=frames, temperature=SAMPLING["temperature"], top_k=SAMPLING["top_k"],
                                 top_p=SAMPLING["top_p"], repetition_penalty=SAMPLING["repetition_penalty"])
    wanted = [engine.Narrate(text, voice, settings) for text in texts]
    samples = sum(speech.samples.size for _, speech in engine.synthesize_many(wanted, ref, allow_download=False,
                                                                                batch_size=len(texts)))
    return {"after_load": time.perf_counter() - loaded, "audio": samples / 24000}


def theirs(folder: str, texts: list[str], frames: int) -> dict[str, float]:
    import mlx.core as mx
    from mlx_audio.tts.utils import load_model

    from manim_qwen_mlx import audio

    model = load_model(Path(folder))
    loaded = time.perf_counter()
    clip, text = mx.array(audio.load_reference(CLIP)), CLIP.with_suffix(".txt").read_text().strip()
    samples = sum(result.samples for result in model.batch_generate(texts, ref_audio=clip, ref_text=text,
                                                                     max_tokens=frames, **SAMPLING))
    return {"after_load": time.perf_counter() - loaded, "audio": samples / 24000}


def spawn(who: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, str(args.folder), "--child", who, "--narrations", str(args.narrations),
               "--frames", str(args.frames)]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=False,
                         env={**os.environ, "MANIM_QWEN_MLX_FAST_CPU": "0"})
    if out.returncode != 0:
        raise SystemExit(f"{who} failed:\n{out.stderr[-3000:]}")
    return {"process": time.perf_counter() - started, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--narrations", type=int, default=8)
    parser.add_argument("--frames", type=int, default=24, help="each narration's frame ceiling")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", choices=["ours", "theirs"])
    args = parser.parse_args()
    texts = [TEXTS[i % len(TEXTS)] for i in range(args.narrations)]
    if args.child:
        print(json.dumps((ours if args.child == "ours" else theirs)(str(args.folder), texts, args.frames)))
        return
    if args.folder is None:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from mlx_frame import build

        with tempfile.TemporaryDirectory() as scratch:
            args.folder = build(Path(scratch) / "deep-proxy")
            compare(args, texts)
    else:
        compare(args, texts)


def compare(args: argparse.Namespace, texts: list[str]) -> None:
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "theirs": []}
    for round_ in range(args.runs):
        for who in ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours"):
            runs[who].append(spawn(who, args))
    median = {who: {key: statistics.median(run[key] for run in done) for key in done[0]} for who, done in runs.items()}
    print(f"{args.folder.name}: {args.narrations} narrations of at most {args.frames} frames, one cloned voice, "
          f"whole process, median of {args.runs}")
    print("| arm | process s | after load s | audio s |\n|---|---:|---:|---:|")
    for who, row in median.items():
        print(f"| {who} | {row['process']:.2f} | {row['after_load']:.2f} | {row['audio']:.2f} |")
    print(f"ours / theirs: process {median['ours']['process'] / median['theirs']['process']:.2f}, "
          f"after load {median['ours']['after_load'] / median['theirs']['after_load']:.2f}")


if __name__ == "__main__":
    main()
