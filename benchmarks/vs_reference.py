"""Whole-process synthesis at the real 0.6B-Base dimensions (random weights, float32), ours against the
PyTorch reference implementation (`qwen-tts`) on the same checkpoint folder, each in a fresh process:
two cloned narrations of FRAMES frames after loading, with the example clip as reference.

    ./scripts/parity/run.sh                      # once: makes .parity-venv (the reference's own venv)
    .venv/bin/python benchmarks/vs_reference.py [--frames 24] [--checkpoint FOLDER]

It writes a full-size checkpoint in the official layout (about 4.5 GB; --checkpoint keeps and reuses
one), then reports each process's wall time, the second narration alone, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "example_scenes" / "voices" / "espeak.wav"
# One sentence each: our service speaks sentence by sentence, each with its own frame ceiling.
TEXTS = ("A circle grows slowly on the screen.", "And now a square appears beside it.")
BUILT = "FULL_SIZE_COMPLETE_2"  # 2: the speech tokenizer's weights are fan-in scaled

OURS = """
import json, sys, time
started = time.perf_counter()
from manim_qwen_mlx.backends.blas import prepare_blas; prepare_blas()
from pathlib import Path
from manim_qwen_mlx.synthesis import engine
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
voice, ref = Voice.from_options(sys.argv[2]), ModelRef.resolve(sys.argv[1])
settings = SynthesisSettings(max_tokens=int(sys.argv[3]))
times = []
for text in sys.argv[4:]:
    t = time.perf_counter(); engine.synthesize(text, voice, settings, ref); times.append(time.perf_counter() - t)
print(json.dumps({"total": time.perf_counter() - started, "narrations": times}))
"""

REFERENCE = """
import json, sys, time
started = time.perf_counter()
import librosa, soundfile as sf, torch
sys.path.insert(0, sys.argv[4])
from make_reference import official_copy
from qwen_tts import Qwen3TTSModel
import tempfile
from pathlib import Path
folder = tempfile.mkdtemp()
tts = Qwen3TTSModel.from_pretrained(str(official_copy(Path(sys.argv[1]), Path(folder))), device_map="cpu",
                                    dtype=torch.float32)
samples, rate = sf.read(sys.argv[2], dtype="float32")
ref_text = open(sys.argv[2][:-4] + ".txt").read().strip()
times = []
for text in sys.argv[5:]:
    t = time.perf_counter()
    tts.generate_voice_clone(text=text, language="Auto", ref_audio=(samples, rate), ref_text=ref_text,
                             max_new_tokens=int(sys.argv[3]) + 1)
    times.append(time.perf_counter() - t)
print(json.dumps({"total": time.perf_counter() - started, "narrations": times}))
"""

MEASURE = """
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(out.stderr[-2000:] if out.returncode else "")
print(out.stdout.strip().splitlines()[-1] if out.returncode == 0 else "{}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def build_full_size(folder: Path, size: str = "0b6") -> Path:
    """The tiny fixture's builders at the released 0.6B-Base (or 1.7B-Base) dimensions, speech tokenizer
    included."""
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from fixtures import tiny_qwen3_tts as fixture
    from full_size import TALKER, TALKER_1B7
    from mlx_audio.tts.models.qwen3_tts.config import Qwen3TTSTokenizerDecoderConfig, Qwen3TTSTokenizerEncoderConfig

    tiny = fixture.build_checkpoint(folder, "base")  # tokenizer, generation config, layout
    config = json.loads((tiny / "config.json").read_text())
    talker = TALKER_1B7 if size == "1b7" else TALKER
    config["talker_config"].update(talker)
    config["talker_config"]["code_predictor_config"].update(talker["code_predictor_config"])
    config["tts_model_size"] = size
    config["speaker_encoder_config"] = {"enc_dim": talker["hidden_size"], "sample_rate": 24000}
    (tiny / "config.json").write_text(json.dumps(config, indent=2))
    fixture._save(tiny / "model.safetensors", fixture.main_model_tensors(config, 0))
    speech = json.loads((tiny / "speech_tokenizer" / "config.json").read_text())
    speech["decoder_config"] = asdict(Qwen3TTSTokenizerDecoderConfig())
    speech["encoder_config"] = asdict(Qwen3TTSTokenizerEncoderConfig())
    (tiny / "speech_tokenizer" / "config.json").write_text(json.dumps(speech, indent=2))
    # Fan-in scaled, so the decoder's signal keeps an audio's scale: with the tiny fixture's fixed spread it
    # grows to 1e11 by the last block, where sin leaves its fast path in every implementation.
    fixture._save(tiny / "speech_tokenizer" / "model.safetensors", fixture.speech_tokenizer_tensors(speech, 1, True))
    (tiny / BUILT).write_text("the full-size random checkpoint of benchmarks/vs_reference.py is complete\n")
    return tiny


def reference_python() -> Path:
    """The reference's own venv (./scripts/parity/run.sh makes it); exits saying so when it is missing."""
    python = REPO / ".parity-venv" / "bin" / "python"
    if not python.exists():
        sys.exit("No reference venv: run ./scripts/parity/run.sh first (it makes .parity-venv).")
    return python


def torchaudio_stub(folder: Path) -> Path:
    """A folder for PYTHONPATH with an empty torchaudio: qwen-tts imports it for a path 12 Hz models never use."""
    stub = folder / "stub" / "torchaudio"
    (stub / "compliance").mkdir(parents=True)
    for name in ("__init__.py", "compliance/__init__.py", "compliance/kaldi.py"):
        (stub / name).touch()
    return stub.parent


def measure(command: list[str], env_path: str | None = None) -> tuple[dict, float]:
    import os

    env = {**os.environ, **({"PYTHONPATH": env_path} if env_path else {})}
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    if out.stderr:
        print(out.stderr, file=sys.stderr)
    return json.loads(lines[-2]), int(lines[-1]) / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--checkpoint", type=Path, help="keep the full-size checkpoint here (reused if present)")
    parser.add_argument("--size", choices=["0b6", "1b7"], default="0b6", help="the released model's dimensions")
    parser.add_argument("--build-only", action="store_true", help="build the checkpoint (--checkpoint) and stop")
    args = parser.parse_args()
    if args.build_only:
        if not (args.checkpoint / BUILT).exists():
            build_full_size(args.checkpoint, args.size)
        return
    reference = reference_python()
    with tempfile.TemporaryDirectory(prefix="bench-vs-ref-") as tmp:
        folder = args.checkpoint or Path(tmp) / "full"
        if not (folder / BUILT).exists():  # a build cut short is made again
            build_full_size(folder, args.size)
        stub = torchaudio_stub(Path(tmp))
        rows = {
            "ours (MLX, CPU)": measure(
                [str(REPO / ".venv" / "bin" / "python"), "-c", OURS, str(folder), str(CLIP), str(args.frames), *TEXTS]
            ),
            "PyTorch reference": measure(
                [str(reference), "-c", REFERENCE, str(folder), str(CLIP), str(args.frames),
                 str(REPO / "scripts" / "parity"), *TEXTS],
                env_path=str(stub),
            ),
        }
    print(f"0.6B-Base dims, random weights, float32, 2 narrations of {args.frames} frames, fresh processes")
    print("| arm | whole process | second narration | peak RSS |")
    print("|---|---:|---:|---:|")
    for name, (times, rss) in rows.items():
        if not times:
            print(f"| {name} | failed | | |")
            continue
        print(f"| {name} | {times['total']:.1f} s | {times['narrations'][-1]:.1f} s | {rss:.2f} GB |")
    ours, theirs = (r[0] for r in rows.values())
    if ours and theirs:
        print(f"whole process, ours / reference: {ours['total'] / theirs['total']:.2f} (goal <= 0.8)")


if __name__ == "__main__":
    main()
