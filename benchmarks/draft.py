"""Draft mode against a cached render: a 20-narration scene rendered with ``MANIM_QWEN_MLX_DRAFT=1`` and an
empty cache, against the same render once precache has made every narration (tiny checkpoint, ``-ql``),
each ``--runs`` times alternating, in fresh processes; and whether the draft render imported MLX. The
narrations are held to 28 frames (2.24 s), about what draft mode estimates for them, so both videos have
about as many frames to draw and the difference is the narration's own cost.

    .venv/bin/python benchmarks/draft.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]
SCENE = '''
import json, os, sys
from manim import Circle, Create, FadeOut, Square
from manim_voiceover import VoiceoverScene
from manim_qwen_mlx import QwenMLXService

class Lesson(VoiceoverScene):
    def construct(self):
        self.set_speech_service(QwenMLXService(model=os.environ["TEST_MODEL"], ref_audio=os.environ["TEST_REF"],
                                               max_tokens=28, bookmarks="estimate"))
        for step in range(20):
            shape = Circle() if step % 2 else Square()
            with self.voiceover(text=f"Step {step + 1}: <bookmark mark='A'/>watch the shape grow.") as tracker:
                self.play(Create(shape), run_time=tracker.duration / 2)
                self.wait_until_bookmark("A")
            self.play(FadeOut(shape), run_time=0.2)
        with open(os.environ["TEST_REPORT"], "w") as handle:
            json.dump({"mlx_imported": "mlx" in sys.modules}, handle)
'''


def render(folder: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "manim", "render", "-ql", "--disable_caching", "--media_dir",
                    str(folder / "media"), str(folder / "lesson.py"), "Lesson"], cwd=folder, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from fixtures.tiny_qwen3_tts import build_checkpoint

    work = Path(tempfile.mkdtemp())
    model = build_checkpoint(work / "tiny", "base")
    (work / "lesson.py").write_text(SCENE)
    env = {**os.environ, "TEST_MODEL": str(model), "TEST_REF": str(REPO / "example_scenes/voices/espeak.wav"),
           "TEST_REPORT": str(work / "report.json"), "HF_HUB_OFFLINE": "1"}
    cached = work / "cached"
    cached.mkdir()
    shutil.copy(work / "lesson.py", cached)
    subprocess.run([sys.executable, "-m", "manim_qwen_mlx", "precache", str(cached / "lesson.py")], cwd=cached,
                   env=env, check=True, capture_output=True)
    drafts, hits, imported = [], [], []
    for run in range(args.runs):
        empty = work / f"draft-{run}"
        empty.mkdir()
        shutil.copy(work / "lesson.py", empty)
        drafts.append(render(empty, {**env, "MANIM_QWEN_MLX_DRAFT": "1"}))
        imported.append(json.loads((work / "report.json").read_text())["mlx_imported"])
        hits.append(render(cached, env))
    median = sorted(drafts)[len(drafts) // 2] / sorted(hits)[len(hits) // 2]
    print(f"20 narrations, -ql: draft render with an empty cache {sorted(drafts)} s, cached render {sorted(hits)} s; "
          f"draft / cached (medians) {median:.2f}; MLX imported by the draft render: {any(imported)}")


if __name__ == "__main__":
    main()
