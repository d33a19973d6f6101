"""The CPU precision policy at the 0.6B-Base talker's real dimensions (random weights), each arm in its
own process: a float32 checkpoint; the same model as mlx-community ships it (8-bit affine, group 64,
bfloat16 elsewhere: mlx-audio's converter predicate, `build_quant_predicate`, applied in memory) run
as the policy runs it (dequantized to float32 at load); and the stored 8-bit/bf16 precision kept
(`MANIM_QWEN_MLX_PRECISION=keep`, which is what ran before the policy).

    .venv/bin/python benchmarks/precision.py [--frames 12] [--kept-frames 3]

Frames per second of our decoding loop (talker + code predictor, after one warm-up frame), the
synthesis time ratio against float32, and peak RSS. The speech decoder is the tiny fixture's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import one_row  # noqa: E402 (after the path it needs)

ARMS = ("float32", "8-bit, policy", "8-bit, kept")


def worker(tiny: str, arm: str, frames: int) -> dict[str, float]:
    from manim_qwen_mlx.backends import blas

    blas.prepare_blas()
    import mlx.core as mx
    import mlx.nn as nn
    from full_size import TALKER
    from mlx.utils import tree_flatten
    from mlx_audio.convert import build_quant_predicate
    from mlx_audio.tts.models.qwen3_tts.config import ModelConfig
    from mlx_audio.tts.models.qwen3_tts.qwen3_tts import Model

    from manim_qwen_mlx import backends
    from manim_qwen_mlx.backends import precision
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.model.loaded import LoadedTTS, TTSConfig
    from manim_qwen_mlx.synthesis import decode, prompt

    small = json.loads((Path(tiny) / "config.json").read_text())
    config = {**small, "talker_config": {**small["talker_config"], **TALKER}, "tts_model_size": "0b6"}
    config["speaker_encoder_config"] = {**small["speaker_encoder_config"], "enc_dim": 1024}
    model = Model(ModelConfig.from_dict(config))
    mx.eval(model.parameters())
    params = sum(v.size for _, v in tree_flatten(model.parameters()))
    started = time.perf_counter()
    if arm != "float32":
        model.update(tree_map_bf16(model.parameters()))
        nn.quantize(model, group_size=64, bits=8, class_predicate=build_quant_predicate(model))
        mx.eval(model.parameters())
        if backends.choose().float32:  # the policy: not with MANIM_QWEN_MLX_PRECISION=keep
            precision.to_float32(model)
        mx.eval(model.parameters())
    convert_seconds = time.perf_counter() - started
    weights_gb = sum(v.nbytes for _, v in tree_flatten(model.parameters())) / 1e9
    donor = loader.load(Path(tiny).resolve())
    model.tokenizer, model.speech_tokenizer = donor.module.tokenizer, donor.speech_tokenizer
    # Our view of it, with the backend the policy chooses (its steps: numpy on float32 weights, else mlx).
    model = LoadedTTS(model, TTSConfig.of(model.config), backends.choose(), donor.voice_prompts, donor.path)
    built = prompt.build(model, "A circle. Watch it grow, slowly and steadily.", prompt.VoicePrompt(), "auto", False)
    greedy = decode.Sampling(0.0, 0, 1.0)
    one_row.generate(model, built, greedy, greedy, 1)  # warm-up
    started = time.perf_counter()
    made = one_row.generate(model, built, greedy, greedy, frames).codes.shape[0]
    seconds = time.perf_counter() - started
    return {
        "frames_per_second": made / seconds,
        "frames": made,
        "params": params,
        "convert_seconds": convert_seconds,
        "weights_gb": weights_gb,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024),
    }


def tree_map_bf16(parameters: dict) -> dict:
    import mlx.core as mx
    from mlx.utils import tree_map

    return tree_map(lambda p: p.astype(mx.bfloat16) if p.dtype == mx.float32 else p, parameters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--kept-frames", type=int, default=3, help="the kept 8-bit/bf16 arm is ~20x slower")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], int(args.worker[2]))))
        return
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_qwen3_tts import build_checkpoint

    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-precision-") as tmp:
        tiny = build_checkpoint(Path(tmp) / "tiny")
        for arm in ARMS:
            frames = args.kept_frames if arm.endswith("kept") else args.frames
            env = {**os.environ, "MANIM_QWEN_MLX_PRECISION": "keep" if arm.endswith("kept") else ""}
            out = subprocess.run(
                [sys.executable, __file__, "--worker", str(tiny), arm, str(frames)],
                env=env, capture_output=True, text=True, check=True,
            )
            rows[arm] = json.loads(out.stdout.strip().splitlines()[-1])
    base = rows["float32"]["frames_per_second"]
    print(f"0.6B-Base talker + code predictor, random weights ({rows['float32']['params'] / 1e9:.2f} B parameters)")
    print("| arm | frames/s | time vs float32 | conversion at load | weights in memory | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for arm, row in rows.items():
        print(
            f"| {arm} | {row['frames_per_second']:.3f} ({row['frames']} frames) | "
            f"{base / row['frames_per_second']:.2f}x | {row['convert_seconds']:.1f} s | {row['weights_gb']:.2f} GB | "
            f"{row['peak_rss_gb']:.2f} GB |"
        )
    # Peak RSS of the 8-bit arms includes the float32 model they were quantized from in memory.
    per_param = {arm: row["weights_gb"] * 1e9 / row["params"] for arm, row in rows.items()}
    for name, params in (("0.6B", rows["float32"]["params"]), ("1.7B (nominal 1.7e9 parameters)", 1.7e9)):
        print(
            f"weights of {name}: float32 (the policy) {params * per_param['float32'] / 1e9:.1f} GB, "
            f"8-bit/bf16 as downloaded {params * per_param['8-bit, kept'] / 1e9:.1f} GB"
        )


if __name__ == "__main__":
    main()
