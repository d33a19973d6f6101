"""A video's narration, whole process, ours against the PyTorch reference (`qwen-tts`) doing the same
work batched: eight one-sentence cloned narrations of FRAMES frames at the real 0.6B-Base (or 1.7B-Base)
dimensions (random weights, float32), each arm in a fresh process on the same checkpoint folder.

    ./scripts/parity/run.sh                                          # once: .parity-venv
    .venv/bin/python benchmarks/video_vs_reference.py FOLDER [--frames 24] [--batch-size 8]
    .venv/bin/python benchmarks/video_vs_reference.py FOLDER --narrations 32 --batch-size 16 --ours-only

FOLDER: the checkpoint `benchmarks/vs_reference.py --checkpoint FOLDER` writes. Ours runs
`engine.synthesize_many` (what `precache` runs once the scene is collected: the scheduler's rows, then
each sentence decoded); the reference runs one `generate_voice_clone` call with the eight texts.
``--narrations N`` speaks N one-sentence texts (the eight, then the eight again with a part number);
``--ours-only`` skips the reference; ``--varied`` (ours only) gives the narrations 0.5, 1, 1.5 and 2 x FRAMES
frames in turn, so they end one by one as a video's do (random weights never end a sentence early). Each
arm's x real time is its audio over its synthesis time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from vs_reference import CLIP, REPO, measure, reference_python, torchaudio_stub

TEXTS = (
    "A circle grows slowly on the screen.", "Then a square appears beside it.", "The two shapes meet.",
    "Now watch the area of the circle.", "It is pi times the radius squared.", "The square's side is two.",
    "So its area is four.", "Which one is larger?",
)

OURS = """
import json, sys, time
started = time.perf_counter()
from manim_qwen_mlx.backends.blas import prepare_blas; prepare_blas()
from manim_qwen_mlx.synthesis import engine
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
voice, ref = Voice.from_options(sys.argv[2]), ModelRef.resolve(sys.argv[1])
loader.load(loader.resolve_path(ref))  # loaded before the clock starts, as the reference's is
frames = [int(f) for f in sys.argv[3].split(",")]  # one ceiling, or one a narration
wanted = [engine.Narrate(text, voice, SynthesisSettings(max_tokens=frames[i % len(frames)]))
          for i, text in enumerate(sys.argv[5:])]
t = time.perf_counter()
audio = sum(s.samples.size for _, s in engine.synthesize_many(wanted, ref, batch_size=int(sys.argv[4])))
print(json.dumps({"total": time.perf_counter() - started, "synthesis": time.perf_counter() - t,
                  "audio": audio / 24000}))
"""

REFERENCE = """
import json, sys, time
started = time.perf_counter()
import soundfile as sf, torch
sys.path.insert(0, sys.argv[4])
from make_reference import official_copy
from qwen_tts import Qwen3TTSModel
import tempfile
from pathlib import Path
tts = Qwen3TTSModel.from_pretrained(str(official_copy(Path(sys.argv[1]), Path(tempfile.mkdtemp()))),
                                    device_map="cpu", dtype=torch.float32)
samples, rate = sf.read(sys.argv[2], dtype="float32")
ref_text = open(sys.argv[2][:-4] + ".txt").read().strip()
texts = sys.argv[5:]
t = time.perf_counter()
wavs, out_rate = tts.generate_voice_clone(text=texts, language=["Auto"] * len(texts), ref_audio=(samples, rate),
                                          ref_text=ref_text, max_new_tokens=int(sys.argv[3]) + 1)
print(json.dumps({"total": time.perf_counter() - started, "synthesis": time.perf_counter() - t,
                  "audio": sum(len(w) for w in wavs) / out_rate}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--narrations", type=int, default=len(TEXTS))
    parser.add_argument("--ours-only", action="store_true")
    parser.add_argument("--varied", action="store_true",
                        help="ours only: narration n gets (n mod 4 + 1) / 2 x FRAMES frames, as a video's differ")
    args = parser.parse_args()
    if args.varied and not args.ours_only:
        parser.error("--varied needs --ours-only (the reference's batch takes one ceiling)")
    ceilings = ",".join(str(args.frames * (n % 4 + 1) // 2) for n in range(4)) if args.varied else str(args.frames)
    texts = [TEXTS[n] if n < len(TEXTS) else f"{TEXTS[n % len(TEXTS)][:-1]}, part {n // len(TEXTS) + 1}."
             for n in range(args.narrations)]
    arms = {}
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        arms[f"ours, batch size {args.batch_size}"] = measure(
            [str(REPO / ".venv" / "bin" / "python"), "-c", OURS, str(args.checkpoint), str(CLIP), ceilings,
             str(args.batch_size), *texts])
        if not args.ours_only:
            arms["PyTorch reference, one batch"] = measure(
                [str(reference_python()), "-c", REFERENCE, str(args.checkpoint), str(CLIP), str(args.frames),
                 str(REPO / "scripts" / "parity"), *texts], env_path=str(torchaudio_stub(Path(tmp))))
    config = json.loads((args.checkpoint / "config.json").read_text())
    size = {"0b6": "0.6B", "1b7": "1.7B"}.get(config["tts_model_size"])
    print(f"{size}-Base dims, random weights, float32: {len(texts)} one-sentence narrations of {ceilings} frames, "
          "fresh processes")
    print("| arm | whole process | synthesis after load | audio | x real time (synthesis) | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (row, rss) in arms.items():
        print(f"| {name} | {row['total']:.1f} s | {row['synthesis']:.1f} s | {row['audio']:.1f} s "
              f"| {row['audio'] / row['synthesis']:.2f}x | {rss:.2f} GB |")
    if not args.ours_only:
        ours, theirs = arms.values()
        print(f"whole process, ours / reference: {ours[0]['total'] / theirs[0]['total']:.2f} (goal <= 0.5)")


if __name__ == "__main__":
    main()
