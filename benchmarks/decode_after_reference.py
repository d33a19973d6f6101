"""Decoding a clone's sentence from the decoder's state after the reference, against decoding the
reference's codes in front of it every time (the official way, and ours before), side by side.

    .venv/bin/python benchmarks/decode_after_reference.py FOLDER [--rounds 2] [--frames 24] [--decoder-only]

FOLDER: a Qwen3-TTS Base checkpoint (vs_reference.build_full_size makes one with the 0.6B's dimensions
and random weights). Three parts, with a 1 s and a 6 s reference (the example clip and its first
second):
1. the speech decoder alone: a sentence of ``--frames`` random codes, best of ``--rounds``, and how
   far the two arms' samples are apart;
2. a whole second narration in one process (model loaded, voice encoded, warmed up): ``--frames``
   frames, the frame ceiling, then decoding; best of ``--rounds`` (skipped with ``--decoder-only``);
3. where a decode after the 6 s reference spends its time, layer by layer (rows each layer computes):
   what decoding several sentences in one call could batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import one_row  # noqa: E402 (after the path it needs)

CLIP = REPO / "example_scenes" / "voices" / "espeak.wav"
ONE_SECOND_TEXT = "The quick brown"


def _best(rounds: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return min(times), out


def _full_decode(model: Any, spoken: Any) -> Callable[[Any, Any, Any], Any]:
    """Today's arm before this change: the reference's codes decoded in front, their share cut off."""
    import mlx.core as mx

    from manim_qwen_mlx.model.decoder_context import LaterSamples

    def to_audio_later(_model: Any, codes: Any, _context: Any = None) -> LaterSamples:
        reference = spoken.ref_codes.transpose(0, 2, 1)
        wav = one_row.whole(model, mx.concatenate([reference, mx.array(codes)[None]], axis=1))
        return LaterSamples.ready(np.asarray(wav[reference.shape[1] * 1920 :], dtype=np.float32))

    return to_audio_later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--decoder-only", action="store_true", help="parts 1 and 3: the decoder alone")
    args = parser.parse_args()

    from manim_qwen_mlx.audio import clips
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import sentence

    model = loader.load(args.checkpoint.resolve())
    samples, rate = sf.read(CLIP, dtype="float32")
    folder = Path(tempfile.mkdtemp())
    sf.write(folder / "one.wav", samples[:rate], rate)
    voices = {
        "1 s": Voice.from_options(folder / "one.wav", ONE_SECOND_TEXT),
        "6 s": Voice.from_options(CLIP, (CLIP.with_suffix(".txt")).read_text().strip()),
    }
    codes = np.random.default_rng(0).integers(0, 2048, size=(args.frames, 16)).astype(np.int32)
    print(f"{args.checkpoint.name}, {args.frames}-frame sentence, best of {args.rounds}\n")
    print("Part 1: the speech decoder alone")
    print(f"{'reference':>10}{'frames':>8}{'in front s':>12}{'after state s':>15}{'speed-up':>10}"
          f"{'max diff':>11}{'SNR dB':>8}")
    spoken = {}
    for name, voice in voices.items():
        assert voice.ref_audio is not None
        voiced = spoken[name] = sentence.voice_prompt(model, "clone", clips.load_reference(voice.ref_audio),
                                                      voice.ref_text)
        full_seconds, full = _best(args.rounds, partial(_full_decode(model, voiced), model, codes))
        ours_seconds, ours = _best(args.rounds, partial(one_row.to_audio, model, codes, voiced.decoder))
        error = float(np.sum((ours - full) ** 2))
        snr = float("inf") if error == 0 else 10 * np.log10(float(np.sum(full**2)) / error)
        print(f"{name:>10}{spoken[name].ref_codes.shape[2]:>8}{full_seconds:>12.2f}{ours_seconds:>15.2f}"
              f"{full_seconds / ours_seconds:>9.2f}x{float(np.abs(ours - full).max()):>11.1e}{snr:>8.0f}")

    if not args.decoder_only:
        _second_narration(args, model, voices, spoken)
    print("\nPart 3: one decode after the 6 s reference, layer by layer (numpy-cpu: NumpyBlock is numpy)")
    print(f"{'layer':>40}{'rows':>7}{'s':>9}")
    _layer_times(model, spoken["6 s"].decoder, codes)


def _second_narration(args: argparse.Namespace, model: Any, voices: dict[str, Any], spoken: dict[str, Any]) -> None:
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.synthesis import decode, engine

    print("\nPart 2: a second narration in one process (talker, code predictor, decoder)")
    ref, settings = ModelRef.resolve(str(args.checkpoint.resolve())), SynthesisSettings(max_tokens=args.frames)
    arms = {"in front": _full_decode, "after state": None}
    results: dict[tuple[str, str], float] = {}
    real = decode.to_audio_later  # what each sentence's decode calls (background.Decodes)
    for arm, patch in arms.items():
        for name, voice in voices.items():
            decode.to_audio_later = patch(model, spoken[name]) if patch else real
            try:
                engine.synthesize("A circle grows.", voice, settings, ref, allow_download=False)  # warm-up
                again = partial(engine.synthesize, "Then it shrinks.", voice, settings, ref, allow_download=False)
                results[arm, name], _ = _best(args.rounds, again)
            finally:
                decode.to_audio_later = real
    print(f"{'arm':>12}{'1 s ref s':>11}{'6 s ref s':>11}{'6 s / 1 s':>11}")
    for arm in arms:
        one, six = results[arm, "1 s"], results[arm, "6 s"]
        print(f"{arm:>12}{one:>11.2f}{six:>11.2f}{six / one:>10.2f}x")


def _layer_times(model: Any, context: Any, codes: np.ndarray) -> None:
    import mlx.core as mx

    decoder = model.continued_decoder
    started = time.perf_counter()
    latents, _, _ = decoder._front(context, codes)
    mx.eval(latents)
    print(f"{'transformer (+ dequantize, pre-conv)':>40}{len(codes):>7}{time.perf_counter() - started:>9.3f}")
    x, start = mx.concatenate([mx.array(context.latents)[None], latents], axis=1), 0
    for layer, need in zip(decoder.layers, decoder._needs(len(context.latents) * decoder.upsample), strict=True):
        if need > start:
            x, start = x[:, need - start :], need
        started = time.perf_counter()
        x = layer.module(x)
        mx.eval(x)
        print(f"{type(layer.module).__name__:>40}{x.shape[1]:>7}{time.perf_counter() - started:>9.3f}")
        start *= layer.stride


if __name__ == "__main__":
    main()
