"""What a stored voice saves: a new process's first clone synthesis with and without the encoded
reference already beside the cache (tiny checkpoint unless --model; 3 fresh processes each).

    .venv/bin/python benchmarks/voice_prompt.py [--model FOLDER]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys, time
from pathlib import Path
from manim_qwen_mlx import QwenMLXService
from manim_qwen_mlx.model import loader
svc = QwenMLXService(model=sys.argv[1], ref_audio=sys.argv[2], max_tokens=12, cache_dir=sys.argv[3])
loader.load(Path(sys.argv[1]).resolve())
started = time.perf_counter()
svc._wrap_generate_from_text(sys.argv[4])
print(json.dumps(time.perf_counter() - started))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    voice = REPO / "example_scenes" / "voices" / "espeak.wav"
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        work = Path(tmp)
        if args.model is None:
            sys.path.insert(0, str(REPO / "tests"))
            from fixtures.tiny_qwen3_tts import build_checkpoint

            args.model = build_checkpoint(work / "tiny")

        def first_call(cache: Path, text: str) -> float:
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(args.model), str(voice), str(cache), text],
                capture_output=True,
                text=True,
                check=True,
            )
            return float(json.loads(out.stdout.strip().splitlines()[-1]))

        cold = [first_call(work / f"cold{i}", "A circle.") for i in range(3)]
        first_call(work / "warm", "Warm up the store.")
        warm = [first_call(work / "warm", f"A circle number {i}.") for i in range(3)]
    print(f"model {Path(args.model).name}; first synthesis in a new process, median of 3 (model load excluded)")
    print(f"voice encoded in the process:  {statistics.median(cold):.3f} s")
    print(f"voice read from the store:     {statistics.median(warm):.3f} s")
    print(
        f"saving: {statistics.median(cold) - statistics.median(warm):.3f} s per process "
        f"({statistics.median(cold) / statistics.median(warm):.2f}x)"
    )


if __name__ == "__main__":
    main()
