"""The arithmetic a narration costs, and the best x real time this machine's cores could give it.

Counts the multiply-adds of one cloned sentence at the checkpoint's real dimensions: its prompt's prefill
(the tokens after its voice's shared start, which is prefilled once per voice), its frames' talker and
code predictor steps, and its speech decoder (counted by running mlx-audio's decoder on random codes with
every Linear, Conv1d and ConvTranspose1d counted). Then times a large float32 matrix product (OpenBLAS, all
cores: the fastest arithmetic this machine does) and divides. No implementation of these products can beat
the figure it prints for this work on this machine; the measured x real time set beside it says how close
ours is. A second line counts the decoder as ours computes it: the residual units' 7-tap convolutions by
Winograd's F(4, 7), 10 products where the direct convolution takes 28 (``backends/numpy_cpu/winograd.py``).

    .venv/bin/python benchmarks/ceiling.py FOLDER [--frames 24] [--measured 0.49]

FOLDER: the checkpoint `benchmarks/vs_reference.py --checkpoint FOLDER` writes (random weights, real
dimensions). The sentences are `video_vs_reference.py`'s, in its cloned voice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from video_vs_reference import TEXTS
from vs_reference import CLIP

from manim_qwen_mlx.backends.numpy_cpu.winograd import OUTPUTS
from manim_qwen_mlx.core.defaults import FAST_CPU_ENV

FRAME_RATE = 12.5  # codec frames per second of audio
TAPS = 7  # the residual units' convolutions
WINOGRAD_PRODUCTS = (OUTPUTS + TAPS - 1) / (OUTPUTS * TAPS)  # F(OUTPUTS, 7)'s products a tile over the direct ones


def linear_params(layers: list[Any]) -> int:
    """Weights of every Linear in ``layers`` (two flops each per token: a multiply and an add)."""
    import mlx.nn as nn

    return sum(module.weight.size for layer in layers for _, module in layer.named_modules()
               if isinstance(module, nn.Linear))


def decoder_flops_per_frame(model: Any, frames: int = 24) -> tuple[float, float]:
    """Flops of mlx-audio's speech decoder per codec frame, counted over a decode of ``frames`` random frames:
    all of them, and those of the residual units' 7-tap convolutions."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import DecoderResidualUnit

    units = {id(module.conv1.conv) for _, module in model.module.named_modules()
             if isinstance(module, DecoderResidualUnit)}
    counted, in_units = [0.0], [0.0]
    originals = {kind: kind.__call__ for kind in (nn.Linear, nn.Conv1d, nn.ConvTranspose1d)}

    def counting(kind: type) -> Any:
        def call(self: Any, x: Any) -> Any:
            out = originals[kind](self, x)
            if kind is nn.Linear:
                (out_channels, in_channels), kernel = self.weight.shape, 1
            else:  # [out, kernel, in / groups]
                out_channels, kernel, in_channels = self.weight.shape
            # A transposed convolution spreads each input position over the kernel; the others gather.
            spread = x if kind is nn.ConvTranspose1d else out
            positions = spread.size // spread.shape[-1]
            flops = 2.0 * positions * out_channels * kernel * in_channels
            counted[0] += flops
            in_units[0] += flops if id(self) in units else 0.0
            return out

        return call

    for kind in originals:
        kind.__call__ = counting(kind)  # type: ignore[method-assign]
    try:
        codes = mx.random.randint(0, 2048, (1, frames, 16))
        mx.eval(model.module.speech_tokenizer.decode(codes))
    finally:
        for kind, original in originals.items():
            kind.__call__ = original  # type: ignore[method-assign]
    if not in_units[0]:
        raise SystemExit("no residual unit's convolution was counted: mlx-audio's decoder changed its layout")
    return counted[0] / frames, in_units[0] / frames


def matrix_rate(size: int = 2048, rounds: int = 5) -> float:
    """Flops per second of a float32 matrix product of ``size`` squared matrices (median of ``rounds``)."""
    import numpy as np

    a, b = (np.random.default_rng(0).standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2.0 * size**3 / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--frames", type=int, default=24, help="frames a sentence (12.5 a second of audio)")
    parser.add_argument("--measured", type=float, help="a measured x real time to set beside the ceiling")
    args = parser.parse_args()

    # mlx-audio's own decoder modules, which the count hooks (the numpy-cpu backend swaps some for numpy's).
    os.environ[FAST_CPU_ENV] = "0"
    from manim_qwen_mlx.backends.blas import prepare_blas

    blas = prepare_blas()
    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import prompt, sentence

    model = loader.load(args.checkpoint.resolve())
    talker = model.module.talker
    voice = Voice.from_options(CLIP)
    assert voice.ref_audio is not None
    spoken = sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text)
    layout = SynthesisSettings().streaming_prompt  # the default layout, what precache builds
    prompts = [prompt.build(model, text, spoken, "auto", layout) for text in TEXTS]
    own_tokens = statistics.mean(p.embeds.shape[1] - p.voiced for p in prompts)

    talker_token = 2.0 * linear_params(talker.model.layers)
    predictor = talker.code_predictor
    groups = model.config.num_code_groups
    # A frame: one talker token and its codec head, then the code predictor over 16 tokens (the talker's
    # hidden state and the first code, then one a codebook) with one of its heads a codebook.
    frame = (talker_token + 2.0 * talker.codec_head.weight.size + groups * 2.0 * linear_params(predictor.model.layers)
             + 2.0 * sum(head.weight.size for head in predictor.lm_head))
    if predictor.small_to_mtp_projection is not None:
        frame += groups * 2.0 * predictor.small_to_mtp_projection.weight.size
    decoder, in_units = decoder_flops_per_frame(model)
    rate = matrix_rate()

    prefill = own_tokens * talker_token
    work = {"prefill": prefill, "steps": args.frames * frame, "decoder": args.frames * decoder}
    total = sum(work.values())
    seconds_of_audio = args.frames / FRAME_RATE
    best = total / rate
    print(f"BLAS: {blas}; float32 2048^3 matrix product: {rate / 1e9:.0f} GFLOP/s on all cores")
    print(f"one sentence: {own_tokens:.1f} prompt tokens of its own (after the voice's shared start), "
          f"{args.frames} frames = {seconds_of_audio:.2f} s of audio (dense layers counted; attention adds "
          "a few percent)")
    print("| work | GFLOP | share | seconds at that rate |")
    print("|---|---:|---:|---:|")
    for name, flops in work.items():
        print(f"| {name} | {flops / 1e9:.1f} | {flops / total:.0%} | {flops / rate:.2f} |")
    print(f"| all | {total / 1e9:.1f} | 100% | {best:.2f} |")
    print(f"per second of audio: {total / seconds_of_audio / 1e9:.1f} GFLOP; a frame's steps {frame / 1e9:.2f}, "
          f"its decoding {decoder / 1e9:.2f}, a prompt token {talker_token / 1e9:.2f}")
    ceiling = seconds_of_audio / best
    print(f"ceiling: {ceiling:.2f}x real time (every flop at the matrix product's rate, nothing else)")
    computed = decoder - in_units * (1 - WINOGRAD_PRODUCTS)
    ours = seconds_of_audio / ((total - args.frames * (decoder - computed)) / rate)
    print(f"the decoder as ours computes it: {computed / 1e9:.2f} GFLOP a frame (its residual units' convolutions "
          f"{in_units / decoder:.0%} of it directly, F({OUTPUTS}, {TAPS}) takes {WINOGRAD_PRODUCTS:.2f} of theirs); "
          f"ceiling then {ours:.2f}x real time")
    if args.measured:
        print(f"measured {args.measured:.2f}x real time = {args.measured / ceiling:.0%} of the first ceiling, "
              f"{args.measured / ours:.0%} of the second")


if __name__ == "__main__":
    main()
