"""Where one cloned narration's time (and mlx's transient memory) goes in our pipeline, phase by
phase, on a checkpoint folder (the full-size random one that benchmarks/vs_reference.py --checkpoint
FOLDER keeps, or any other).

    .venv/bin/python benchmarks/phases.py FOLDER [--frames 24]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import one_row  # noqa: E402 (after the path it needs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    import mlx.core as mx

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import decode, prompt, sentence

    def phase(name: str, work):  # type: ignore[no-untyped-def]
        mx.reset_peak_memory()
        held = mx.get_active_memory()
        started = time.perf_counter()
        result = work()
        mx.eval(result) if isinstance(result, mx.array) else None
        extra = (mx.get_peak_memory() - held) / 1e9  # mlx's own buffers beyond what was held before
        print(f"{name:<44} {time.perf_counter() - started:6.1f} s   mlx memory +{extra:.2f} GB at peak")
        return result

    model = phase("load", lambda: loader.load(args.checkpoint.resolve()))
    voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
    assert voice.ref_audio is not None
    clip = audio.load_reference(voice.ref_audio)
    samples = mx.array(clip)
    phase("reference codes (speech tokenizer encoder)", lambda: model.reference_codes(samples))
    phase("speaker embedding", lambda: model.speaker_embedding(samples))
    spoken = sentence.voice_prompt(model, "clone", clip, voice.ref_text)
    built = prompt.build(model, "A circle grows slowly on the screen.", spoken, "auto", False)
    sampling = decode.Sampling(0.9, 50, 1.0, 1.05)
    codes = phase(f"{args.frames} frames (talker + code predictor)",
                  lambda: one_row.generate(model, built, sampling, sampling, args.frames).codes)
    after = f"{codes.shape[0]} frames after the {spoken.ref_codes.shape[2]}-frame reference"
    phase(f"decode {after}, first call", lambda: one_row.to_audio(model, codes, spoken.decoder))
    phase(f"decode {after} again", lambda: one_row.to_audio(model, codes, spoken.decoder))


if __name__ == "__main__":
    main()
