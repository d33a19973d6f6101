"""Pre-cache in one process vs. one process per missing segment (the reload-per-miss scripts).

    .venv/bin/python benchmarks/precache.py [--segments 10] [--frames 12] [--model FOLDER]

Without --model it builds the tiny random test checkpoint (noise, but every step is real). Both
arms synthesize the same texts with the same voice, seed and checkpoint into fresh cache folders,
side by side in one run; the ratio is what matters, absolute times are noisy here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOICE = REPO / "example_scenes" / "voices" / "espeak.wav"

SCENE = """
from manim_voiceover import VoiceoverScene
from manim_qwen_mlx import QwenMLXService

class Bench(VoiceoverScene):
    def construct(self):
        self.set_speech_service(QwenMLXService(model={model!r}, ref_audio={voice!r}, max_tokens={frames},
                                               cache_dir={cache!r}))
        for i in range({segments}):
            with self.voiceover(text=f"Segment number {{i}} of the benchmark.") as tracker:
                self.wait(tracker.duration)
"""

ONE_SEGMENT = """
import sys
from manim_qwen_mlx import QwenMLXService
svc = QwenMLXService(model={model!r}, ref_audio={voice!r}, max_tokens={frames}, cache_dir={cache!r})
svc._wrap_generate_from_text(sys.argv[1])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--frames", type=int, default=12, help="codec frames per segment (12.5 = 1 s)")
    parser.add_argument("--model", type=Path, help="a local Qwen3-TTS folder (default: the tiny test checkpoint)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-precache-") as tmp:
        work = Path(tmp)
        model = args.model or _tiny(work)
        fields = {"model": str(model), "voice": str(VOICE), "frames": args.frames, "segments": args.segments}

        scene = work / "bench.py"
        scene.write_text(textwrap.dedent(SCENE.format(cache=str(work / "one"), **fields)))
        started = time.perf_counter()
        _run([sys.executable, "-m", "manim_qwen_mlx", "precache", str(scene)], work)
        one_process = time.perf_counter() - started

        script = work / "one_segment.py"
        script.write_text(textwrap.dedent(ONE_SEGMENT.format(cache=str(work / "each"), **fields)))
        started = time.perf_counter()
        for i in range(args.segments):
            _run([sys.executable, str(script), f"Segment number {i} of the benchmark."], work)
        per_segment = time.perf_counter() - started

    print(f"machine: {_machine()}")
    print(f"segments: {args.segments}, frames per segment: {args.frames}, model: {model.name}")
    print(f"{'arm':<34}{'seconds':>9}{'model loads':>13}")
    print(f"{'precache (one process)':<34}{one_process:>9.2f}{1:>13}")
    print(f"{'one process per missing segment':<34}{per_segment:>9.2f}{args.segments:>13}")
    print(f"ratio (per-segment / precache): {per_segment / one_process:.2f}x")


def _tiny(work: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(work / "tiny-qwen3-tts")


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def _machine() -> str:
    import os
    import platform

    import mlx.core as mx

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, mlx device {mx.default_device()}"


if __name__ == "__main__":
    main()
