"""A fresh process narrating once from the float32 checkpoint and from its 8-bit conversion (as
mlx-community ships them: mlx-audio's converter, affine, group 64, bfloat16 elsewhere), side by side.

    .venv/bin/python benchmarks/eight_bit.py FLOAT32_FOLDER [EIGHT_BIT_FOLDER] [--frames 12] [--rounds 2]

Without EIGHT_BIT_FOLDER the 8-bit one is converted next to the float32 folder (FOLDER-8bit). Each run
is its own process (arms alternate, so the page cache favours neither): the model's load, the first
narration (voice encoding, ``--frames`` frames, decoding), the whole process's wall time and its peak
RSS. Medians over ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "example_scenes" / "voices" / "espeak.wav"


def worker(folder: str, frames: int) -> dict[str, float]:
    started = time.perf_counter()
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import engine

    loader.load(Path(folder))
    loaded = time.perf_counter()
    voice = Voice.from_options(CLIP, CLIP.with_suffix(".txt").read_text().strip())
    engine.synthesize("A circle grows.", voice, SynthesisSettings(max_tokens=frames), ModelRef.resolve(folder),
                      allow_download=False)
    done = time.perf_counter()
    return {"load": loaded - started, "narration": done - loaded,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)}


def run(folder: Path, frames: int) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--worker", str(folder), "--frames", str(frames)],
                         capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return {**result, "process": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("float32", type=Path)
    parser.add_argument("eight_bit", type=Path, nargs="?")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(str(args.float32), args.frames)))
        return
    eight_bit = args.eight_bit or args.float32.with_name(args.float32.name + "-8bit")
    if not (eight_bit / "config.json").exists():
        sys.path.insert(0, str(REPO / "tests"))
        from fixtures.quantized import convert

        convert(args.float32, eight_bit, 8, "tts")
    arms = {"float32": args.float32.resolve(), "8-bit": eight_bit.resolve()}
    runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in arms}
    for round_ in range(args.rounds):
        for arm in (arms if round_ % 2 == 0 else reversed(list(arms))):
            runs[arm].append(run(arms[arm], args.frames))
    print(f"{args.float32.name}: fresh process, one {args.frames}-frame clone narration, median of {args.rounds}")
    print(f"{'arm':>8}{'load s':>9}{'narration s':>13}{'process s':>11}{'peak RSS GB':>13}{'process / float32':>19}")
    median = {arm: {key: statistics.median(r[key] for r in runs[arm]) for key in runs[arm][0]} for arm in arms}
    for arm in arms:
        m = median[arm]
        print(f"{arm:>8}{m['load']:>9.2f}{m['narration']:>13.2f}{m['process']:>11.2f}{m['peak_rss_gb']:>13.2f}"
              f"{m['process'] / median['float32']['process']:>18.2f}x")
    print("each run:", json.dumps({arm: [{k: round(v, 2) for k, v in r.items()} for r in runs[arm]] for arm in arms}))


if __name__ == "__main__":
    main()
