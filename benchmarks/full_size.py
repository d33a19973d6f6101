"""Full-size compute on this machine: the 0.6B-Base talker's frames per second with random weights in
mlx-audio's own `generate` loop (every step in mlx), with mlx's bundled BLAS and with OpenBLAS, side
by side (each in its own process).

    .venv/bin/python benchmarks/full_size.py [--frames 12]

The talker is built in memory at the released 0.6B dimensions (about 3.6 GB in fp32); the text
tokenizer and a tiny speech decoder come from the test fixture, so the time is the autoregressive
part alone. Our own loop's rate, with its numpy steps, is benchmarks/talker_steps.py; the comparison
with the PyTorch reference is benchmarks/vs_reference.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The released code predictor, the same in both sizes.
CODE_PREDICTOR = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 5,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
}
# The released 0.6B-Base talker (config.json of Qwen/Qwen3-TTS-12Hz-0.6B-Base).
TALKER = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "text_hidden_size": 2048,
    "text_vocab_size": 151936,
    "code_predictor_config": CODE_PREDICTOR,
}
# The released 1.7B-Base talker: twice as wide, the same code predictor behind a projection, and a
# speaker encoder whose embedding matches the talker's width.
TALKER_1B7 = {
    **TALKER,
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "code_predictor_config": dict(CODE_PREDICTOR),
}


def worker(tiny: str, frames: int) -> dict[str, float]:
    from manim_qwen_mlx.backends.blas import prepare_blas

    blas = prepare_blas()
    import mlx.core as mx
    from mlx_audio.tts.models.qwen3_tts.config import ModelConfig
    from mlx_audio.tts.models.qwen3_tts.qwen3_tts import Model

    small = json.loads((Path(tiny) / "config.json").read_text())
    config = {**small, "talker_config": {**small["talker_config"], **TALKER}, "tts_model_size": "0b6"}
    config["speaker_encoder_config"] = {**small["speaker_encoder_config"], "enc_dim": 1024}
    model = Model(ModelConfig.from_dict(config))
    mx.eval(model.parameters())
    from manim_qwen_mlx.model import loader

    donor = loader.load(Path(tiny).resolve())  # tokenizer and a tiny speech decoder
    model.tokenizer, model.speech_tokenizer = donor.module.tokenizer, donor.speech_tokenizer
    list(model.generate(text="Warm up.", max_tokens=2, voice=None))
    started = time.perf_counter()
    results = list(model.generate(text="A circle. Watch it grow.", max_tokens=frames, voice=None))
    seconds = time.perf_counter() - started
    made = sum(r.token_count for r in results)
    return {"frames_per_second": made / seconds, "frames": made, "blas": blas}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_qwen3_tts import build_checkpoint

    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-full-") as tmp:
        tiny = build_checkpoint(Path(tmp) / "tiny")
        for blas in ("off", ""):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", str(tiny), str(args.frames)],
                env={**os.environ, "MANIM_QWEN_MLX_BLAS": blas},
                capture_output=True,
                text=True,
                check=True,
            )
            rows[blas or "openblas"] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"0.6B-Base talker, random weights, {args.frames} frames (1 frame = 80 ms of audio)")
    for name, row in rows.items():
        print(f"{name:<10} {row['frames_per_second']:.2f} frames/s ({row['frames']} frames) [{row['blas']}]")
    print(
        f"OpenBLAS vs bundled: {rows['openblas']['frames_per_second'] / rows['off']['frames_per_second']:.1f}x; "
        f"real-time needs 12.5 frames/s"
    )


if __name__ == "__main__":
    main()
