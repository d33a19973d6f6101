"""The decoder's Snake activations, mlx-audio's vs the fast path's (FastSnake), side by side on the
released 12 Hz decoder's dimensions (random weights, convolutions as matmuls in both arms, OpenBLAS).

    .venv/bin/python benchmarks/snake.py [--frames 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from manim_qwen_mlx import cpu_fastpath

    cpu_fastpath.prepare_blas()
    import mlx.core as mx
    from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizerDecoder, SnakeBeta

    from manim_qwen_mlx import mlx_tree
    from manim_qwen_mlx.fast_conv import FastSnake

    decoder = Qwen3TTSSpeechTokenizerDecoder(Qwen3TTSTokenizerDecoderConfig())
    mx.eval(decoder.parameters())
    holder = type("Holder", (), {})()
    holder.speech_tokenizer = type("Tokenizer", (), {"decoder": decoder})()
    cpu_fastpath.accelerate_decoder(holder)
    swapped = [(c, k, v) for c in mlx_tree.containers(decoder) for k, v in mlx_tree.children(c)
               if isinstance(v, FastSnake)]
    stock = {}
    for container, key, fast in swapped:  # the same activation as mlx-audio's layer
        layer = SnakeBeta(fast.scale.shape[0])
        layer.alpha, layer.beta = mx.log(fast.scale), mx.log(1.0 / fast.inverse)
        stock[(id(container), key)] = layer

    def use(arm: str) -> None:
        for container, key, fast in swapped:
            mlx_tree.replace(container, key, fast if arm == "fast" else stock[(id(container), key)])

    codes = mx.random.randint(1, 2048, (1, 16, args.frames))
    seconds: dict[str, list[float]] = {"mlx-audio SnakeBeta": [], "FastSnake": []}
    for arm in seconds:
        use("fast" if arm == "FastSnake" else "stock")
        mx.eval(decoder(codes))  # warm-up
    for _ in range(args.rounds):
        for arm in seconds:
            use("fast" if arm == "FastSnake" else "stock")
            started = time.perf_counter()
            mx.eval(decoder(codes))
            seconds[arm].append(time.perf_counter() - started)
    audio = args.frames / 12.5
    print(f"full-size decoder, {args.frames} frames ({audio:.1f} s of audio), {len(swapped)} Snake layers, "
          f"median of {args.rounds}")
    for arm, values in seconds.items():
        print(f"{arm:<20} {statistics.median(values):6.2f} s  RTF {audio / statistics.median(values):.3f}")
    ratio = statistics.median(seconds["mlx-audio SnakeBeta"]) / statistics.median(seconds["FastSnake"])
    print(f"decoder {ratio:.2f}x faster with FastSnake")


if __name__ == "__main__":
    main()
