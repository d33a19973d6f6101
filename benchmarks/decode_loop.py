"""Our decoding loop (manim_qwen_mlx.decode) vs mlx-audio's `generate`, side by side in one process:
a clone of the example clip, greedy, repetition penalty 1.5 (the value mlx-audio floors every penalty
at), fewer than 64 frames (mlx-audio's penalty window), so both follow the same policy and must give
the same codes. Time covers generation and decoding; arms alternate, the median is reported.

    .venv/bin/python benchmarks/decode_loop.py [--full] [--frames N] [--rounds R]

--full builds the talker at the released 0.6B-Base dimensions with random weights (about 3.6 GB in
fp32; the speech tokenizer stays the tiny fixture's), as benchmarks/full_size.py does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
import one_row  # noqa: E402 (after the path it needs)

TEXT = "A circle. Watch it grow."


def full_size(tiny: Path) -> Any:
    import json

    import mlx.core as mx
    from full_size import TALKER
    from mlx_audio.tts.models.qwen3_tts.config import ModelConfig
    from mlx_audio.tts.models.qwen3_tts.qwen3_tts import Model

    from manim_qwen_mlx import backends
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.model.adapt import adapt

    small = json.loads((tiny / "config.json").read_text())
    config = {**small, "talker_config": {**small["talker_config"], **TALKER}, "tts_model_size": "0b6"}
    config["speaker_encoder_config"] = {**small["speaker_encoder_config"], "enc_dim": 1024}
    model = Model(ModelConfig.from_dict(config))
    mx.eval(model.parameters())
    donor = loader.load(tiny)
    # The donor's tokenizers are adapted already; the new talker goes through the same pipeline.
    model.tokenizer, model.speech_tokenizer = donor.module.tokenizer, donor.speech_tokenizer
    return adapt(model, tiny, backends.choose())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    import mlx.core as mx
    import numpy as np
    from fixtures.tiny_qwen3_tts import build_checkpoint

    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import decode, prompt, sentence

    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        tiny = build_checkpoint(Path(tmp) / "tiny")
        model = full_size(tiny) if args.full else loader.load(tiny)
        voice = Voice.from_options(REPO / "example_scenes" / "voices" / "espeak.wav")
        assert voice.ref_audio is not None
        clip = audio.load_reference(voice.ref_audio)
        spoken = sentence.voice_prompt(model, "clone", clip, voice.ref_text)
        greedy = decode.Sampling(0.0, 0, 1.0)
        decoded: list[Any] = []
        real_decode = model.speech_tokenizer.decode

        def capture(codes: Any) -> Any:
            decoded.append(np.array(codes))
            return real_decode(codes)

        model.speech_tokenizer.decode = capture

        def ours() -> np.ndarray:
            built = prompt.build(model, TEXT, spoken, "auto", False)
            result = one_row.generate(model, built, decode.Sampling(0.0, 0, 1.0, 1.5), greedy, args.frames)
            one_row.to_audio(model, result.codes, spoken.decoder)
            return np.array(result.codes)

        def stock() -> np.ndarray:
            list(model.module.generate(text=TEXT, ref_audio=mx.array(clip), ref_text=voice.ref_text, temperature=0.0,
                                       repetition_penalty=1.5, max_tokens=args.frames, verbose=False))
            return decoded[-1][0, spoken.ref_codes.shape[2] :]

        same = np.array_equal(ours(), stock())  # also the warm-up of both
        times: dict[str, list[float]] = {"ours": [], "mlx-audio": []}
        for _ in range(args.rounds):
            for name, arm in (("ours", ours), ("mlx-audio", stock)):
                started = time.perf_counter()
                arm()
                times[name].append(time.perf_counter() - started)
        size = "0.6B-Base dims, random weights" if args.full else "tiny checkpoint"
        print(f"{size}; {args.frames} frames + decode; median of {args.rounds}; same codes: {same}")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:<10} {median:7.3f} s  ({args.frames / median:.2f} frames/s)")
        print(f"ours / mlx-audio: {statistics.median(times['ours']) / statistics.median(times['mlx-audio']):.3f}")


if __name__ == "__main__":
    main()
