"""A fully cached re-render vs the same scene with a trivial service that returns pre-made WAVs:
what our cache costs a render, and proof that a cached render imports neither mlx nor mlx_audio.

    .venv/bin/python benchmarks/rerender.py [--voiceovers 10] [--runs 3]
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
SCENE = '''
import json, os, shutil, sys
from pathlib import Path
from manim import Square, Create
from manim_voiceover import VoiceoverScene
from manim_voiceover.services.base import SpeechService


class PremadeService(SpeechService):
    """Trivial service: hands out WAV files that already exist, no cache logic at all."""

    def __init__(self, folder, **kwargs):
        super().__init__(**kwargs)
        self.files = sorted(Path(folder).glob("*.wav"))
        self.index = 0

    def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
        source = self.files[self.index % len(self.files)]
        self.index += 1
        name = f"premade-{{self.index}}.wav"
        shutil.copy(source, Path(self.cache_dir) / name)
        return {{"input_text": text, "input_data": {{"input_text": text}}, "original_audio": name}}


class Bench(VoiceoverScene):
    def construct(self):
        if os.environ["BENCH_ARM"] == "premade":
            self.set_speech_service(PremadeService(os.environ["BENCH_WAVS"], cache_dir=os.environ["BENCH_PREMADE"]))
        else:
            from manim_qwen_mlx import QwenMLXService
            self.set_speech_service(QwenMLXService(model=os.environ["BENCH_MODEL"], ref_audio=os.environ["BENCH_REF"],
                                                   max_tokens=6))
        for i in range({count}):
            with self.voiceover(text=f"Voiceover number {{i}} of the re-render benchmark.") as tracker:
                self.play(Create(Square()), run_time=tracker.duration)
        Path(os.environ["BENCH_REPORT"]).write_text(json.dumps({{"mlx": "mlx" in sys.modules,
                                                                  "mlx_audio": "mlx_audio" in sys.modules}}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voiceovers", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rerender-") as tmp:
        work = Path(tmp)
        sys.path.insert(0, str(REPO / "tests"))
        from fixtures.tiny_qwen3_tts import build_checkpoint

        model = build_checkpoint(work / "tiny")
        scene = work / "bench.py"
        scene.write_text(SCENE.format(count=args.voiceovers))
        env = {
            **os.environ,
            "BENCH_MODEL": str(model),
            "BENCH_REF": str(REPO / "example_scenes/voices/espeak.wav"),
            "BENCH_WAVS": str(work / "media" / "voiceovers"),
            "BENCH_PREMADE": str(work / "premade"),
            "BENCH_REPORT": str(work / "report.json"),
        }
        (work / "premade").mkdir()

        def render(arm: str) -> float:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "manim", "render", "-ql", "--disable_caching", str(scene), "Bench"],
                cwd=work,
                env={**env, "BENCH_ARM": arm},
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - started

        first = render("cached")  # synthesizes everything once
        cached, premade, reports = [], [], []
        for _ in range(args.runs):
            cached.append(render("cached"))
            reports.append(json.loads((work / "report.json").read_text()))
            premade.append(render("premade"))
    ratio = statistics.median(cached) / statistics.median(premade)
    print(f"{args.voiceovers} voiceovers, median of {args.runs} renders each (-ql, --disable_caching)")
    print(f"first render (synthesizes): {first:.2f} s")
    print(f"fully cached re-render:     {statistics.median(cached):.2f} s")
    print(f"trivial pre-made service:   {statistics.median(premade):.2f} s")
    print(f"ratio cached / pre-made: {ratio:.3f} (goal <= 1.10)")
    imported = any(r["mlx"] or r["mlx_audio"] for r in reports)
    print(f"mlx or mlx_audio imported during cached renders: {imported}")
    if imported:
        sys.exit("a cached render imported mlx")


if __name__ == "__main__":
    main()
