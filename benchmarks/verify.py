"""What verification costs: N narrations synthesized with the default checks (pacing only) and with
`verify` (voice similarity and a speech recognizer's transcript of every take), on the tiny
checkpoints (Qwen3-TTS and Qwen3-ASR), side by side, alternating, fresh texts each round.

    .venv/bin/python benchmarks/verify.py [--narrations 8] [--frames 24] [--rounds 3]

Each take here passes (thresholds are set so), so the figure is the checks' own cost; a failing take
costs one more synthesis and its checks.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--narrations", type=int, default=8)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_forced_aligner import build_qwen3_asr
    from fixtures.tiny_qwen3_tts import build_checkpoint

    from manim_qwen_mlx import QwenMLXService

    logging.getLogger("manim.qwen_mlx").setLevel(logging.ERROR)
    voice = REPO / "example_scenes" / "voices" / "espeak.wav"
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        work = Path(tmp)
        model, recognizer = build_checkpoint(work / "tts"), build_qwen3_asr(work / "asr")
        common = {"model": model, "ref_audio": voice, "max_tokens": args.frames, "asr": str(recognizer)}
        arms = {
            "checks (pacing)": QwenMLXService(**common, cache_dir=work / "plain"),
            "verify (+ similarity, ASR)": QwenMLXService(
                **common, verify=True, min_voice_similarity=0.0, max_wer=1.0, cache_dir=work / "verified"
            ),
        }
        for service in arms.values():
            service._wrap_generate_from_text("Warming up before the timed rounds.")
        seconds: dict[str, list[float]] = {name: [] for name in arms}
        audio = 0.0
        for round_ in range(args.rounds):
            texts = [f"Narration {i} of round {round_}, checked." for i in range(args.narrations)]
            for name, service in arms.items():
                started = time.perf_counter()
                durations = [service._wrap_generate_from_text(text)["duration"] for text in texts]
                seconds[name].append(time.perf_counter() - started)
            audio = sum(durations)
    plain, verified = (statistics.median(values) for values in seconds.values())
    print(f"{args.narrations} narrations of {args.frames} frames ({audio:.1f} s of audio) per round, "
          f"median of {args.rounds} rounds, tiny checkpoints")
    for name, value in zip(arms, (plain, verified), strict=True):
        print(f"{name:<28} {value:6.2f} s  ({value / audio:.3f} s per second of audio)")
    print(f"verification adds {(verified - plain) / audio:.3f} s per second of audio: "
          f"{100 * (verified / plain - 1):+.0f}% on this pre-cache")


if __name__ == "__main__":
    main()
