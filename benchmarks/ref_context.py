"""How much reference context does the speech decoder need when decoding a clone?

mlx-audio decodes the whole reference's codes in front of every generated segment, then cuts the
reference part off. This decodes [reference; segment] in full and with only the last K reference
frames, and reports the difference on the segment's audio in dB relative to its signal, and the time.

    .venv/bin/python benchmarks/ref_context.py [--model FOLDER] [--ref-frames 125] [--gen-frames 38]

With --model (a real Qwen3-TTS folder) it uses that decoder and the example clip's real codes; without
it, the released decoder's dimensions with random weights, which show the architecture's reach but
not what trained weights need. We keep full decoding until a real model shows < -60 dB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES_PER_FRAME = 1920


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--ref-frames", type=int, default=125, help="10 s of reference")
    parser.add_argument("--gen-frames", type=int, default=38, help="3 s of narration")
    parser.add_argument("--contexts", default="0,12,25,50,100")
    args = parser.parse_args()
    from manim_qwen_mlx import backends
    from manim_qwen_mlx.backends import blas
    from manim_qwen_mlx.backends.numpy_cpu.backend import swap_decoder_layers

    blas.prepare_blas()
    import mlx.core as mx

    if args.model:
        from manim_qwen_mlx.audio import load_reference
        from manim_qwen_mlx.model import loader

        model = loader.load(args.model.resolve())
        decoder = model.speech_tokenizer.decoder
        clip = load_reference(REPO / "example_scenes" / "voices" / "espeak.wav")
        ref = model.speech_tokenizer.encode(mx.array(clip)[None, None, :])  # [1, 16, T]
        args.ref_frames = ref.shape[-1]
    else:
        from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig
        from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import Qwen3TTSSpeechTokenizerDecoder

        decoder = Qwen3TTSSpeechTokenizerDecoder(Qwen3TTSTokenizerDecoderConfig())
        mx.eval(decoder.parameters())
        holder = type("Holder", (), {"speech_tokenizer": type("ST", (), {"decoder": decoder})()})()
        if backends.choose().name == "numpy-cpu":  # the stock arms keep mlx-audio's layers
            swap_decoder_layers(holder)
        ref = mx.random.randint(1, 2048, (1, 16, args.ref_frames))
    gen = mx.random.randint(1, 2048, (1, 16, args.gen_frames))

    def decode_segment(context: int) -> tuple[np.ndarray, float]:
        codes = mx.concatenate([ref[..., args.ref_frames - context :], gen], axis=-1)
        started = time.perf_counter()
        audio = decoder(codes)
        mx.eval(audio)
        seconds = time.perf_counter() - started
        return np.array(audio[0, 0, context * SAMPLES_PER_FRAME :]), seconds

    full, full_seconds = decode_segment(args.ref_frames)
    signal = float(np.sqrt(np.mean(full**2))) or 1e-12
    print(
        f"{'random weights' if not args.model else args.model.name}: reference {args.ref_frames} frames, "
        f"segment {args.gen_frames} frames"
    )
    print(f"{'context K':>10}{'diff dB':>10}{'seconds':>10}{'speed-up':>10}")
    print(f"{'full':>10}{'-inf':>10}{full_seconds:>10.2f}{1:>10.2f}")
    for context in (int(c) for c in args.contexts.split(",")):
        if context >= args.ref_frames:
            continue
        part, seconds = decode_segment(context)
        diff = float(np.sqrt(np.mean((part - full) ** 2)))
        db = 20 * np.log10(diff / signal) if diff else float("-inf")
        print(f"{context:>10}{db:>10.1f}{seconds:>10.2f}{full_seconds / seconds:>10.2f}")


if __name__ == "__main__":
    main()
