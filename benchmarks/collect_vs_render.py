"""Collecting a scene file's narrations against rendering it: `precache --check` on a fully cached
18-voiceover bookmarked lecture (benchmarks/scenes/derivative_lecture.py: MathTex, axes, a moving
tangent, f-strings, a loop of narrations) vs `manim render -ql` of the same file (every frame drawn:
--disable_caching; and again with manim's partial-movie cache warm, as an unchanged file re-renders),
and vs collecting as it was before (a dry run at manim's default quality, every frame drawn).

    .venv/bin/python benchmarks/collect_vs_render.py [--runs 3] [--busy]

The narration comes from the tiny test checkpoint (noise; collecting never loads a model). LaTeX must be
installed, as for any MathTex scene; its output is cached by manim before the first timed run, as it is
for a user's second render. Arms alternate; each figure is the median of --runs whole processes.
--busy also times every arm with one core kept busy by another process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LECTURE = REPO / "benchmarks" / "scenes" / "derivative_lecture.py"
VOICE = REPO / "example_scenes" / "voices" / "espeak.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="also time every arm with one core kept busy")
    args = parser.parse_args()
    if shutil.which("latex") is None or shutil.which("dvisvgm") is None:
        sys.exit("The lecture uses MathTex: install LaTeX and dvisvgm first (Debian: texlive-latex-extra dvisvgm).")
    from manim_qwen_mlx.core.defaults import COLLECT_ENV

    with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp:
        work = Path(tmp)
        sys.path.insert(0, str(REPO / "tests"))
        from fixtures.tiny_qwen3_tts import build_checkpoint

        env = {**os.environ, "LECTURE_MODEL": str(build_checkpoint(work / "tiny")), "LECTURE_REF": str(VOICE),
               "LECTURE_FRAMES": "12"}
        _run([sys.executable, "-m", "manim_qwen_mlx", "precache", str(LECTURE)], work, env, allowed=(0,))
        arms = {
            "precache --check (collect)": [sys.executable, "-m", "manim_qwen_mlx", "precache", "--check",
                                           str(LECTURE)],
            "manim render -ql": [sys.executable, "-m", "manim", "render", "-ql", "--disable_caching",
                                 "--progress_bar", "none", str(LECTURE)],
            "manim render -ql, its movie cache warm": [sys.executable, "-m", "manim", "render", "-ql",
                                                       "--progress_bar", "none", str(LECTURE)],
            "collect as before (dry run, 1080p60)": [sys.executable, "-m", "manim", "render", "--dry_run",
                                                     "--progress_bar", "none", str(LECTURE)],
        }
        before_env = {**env, COLLECT_ENV: str(work / "before.jsonl")}
        loads = [False, True] if args.busy else [False]
        times: dict[tuple[str, bool], list[float]] = {(arm, busy): [] for arm in arms for busy in loads}
        for _ in range(args.runs):
            for busy in loads:
                spinner = multiprocessing.Process(target=_spin, daemon=True) if busy else None
                if spinner:
                    spinner.start()
                try:
                    for arm, command in arms.items():
                        started = time.perf_counter()
                        # --check exits 1 on estimated word times only with --require-aligned: 0 here.
                        _run(command, work, before_env if arm.startswith("collect as") else env, allowed=(0,))
                        times[arm, busy].append(time.perf_counter() - started)
                finally:
                    if spinner:
                        spinner.terminate()

    print(f"machine: {os.cpu_count()} cores; scene: {LECTURE.name}, 18 voiceovers, all cached; "
          f"median of {args.runs} runs, arms alternating")
    for busy in loads:
        load = "one core busy" if busy else "idle"
        render = statistics.median(times["manim render -ql", busy])
        for arm in arms:
            seconds = statistics.median(times[arm, busy])
            print(f"{load:<14} {arm:<40} {seconds:7.2f} s  {seconds / render:5.2f}x the -ql render")


def _spin() -> None:
    while True:
        pass


def _run(command: list[str], cwd: Path, env: dict[str, str], allowed: tuple[int, ...]) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode not in allowed:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


if __name__ == "__main__":
    main()
