"""The speech decoder alone, ours against the PyTorch reference (`qwen-tts`), on the same codes and the
same full-size checkpoint: time per decode and how far apart the two waveforms are.

    ./scripts/parity/run.sh                                   # once: makes .parity-venv
    .venv/bin/python benchmarks/vs_reference.py --checkpoint FOLDER   # once: builds the checkpoint
    .venv/bin/python benchmarks/decoder_vs_reference.py FOLDER [--frames 99] [--rounds 3]

99 frames is what one cloned narration of benchmarks/vs_reference.py decodes (75 reference frames,
then 24 new ones). Each arm runs in its own process: one warm-up decode, then ``--rounds`` timed ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from vs_reference import reference_python, torchaudio_stub  # noqa: E402 (after the path it needs)

OURS = """
import json, sys, time
from manim_qwen_mlx.backends.blas import prepare_blas; prepare_blas()
import mlx.core as mx, numpy as np
from pathlib import Path
from manim_qwen_mlx.synthesis import decode
from manim_qwen_mlx.model import loader
model = loader.load(Path(sys.argv[1]))
codes = mx.array(np.load(sys.argv[2]))
times = []
for _ in range(int(sys.argv[4]) + 1):
    t = time.perf_counter(); wav = decode.to_audio_later(model, codes).finish(); times.append(time.perf_counter() - t)
np.save(sys.argv[3], wav)
print(json.dumps(times[1:]))
"""

REFERENCE = """
import json, sys, time, tempfile
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, sys.argv[5])
from make_reference import official_copy
from qwen_tts import Qwen3TTSTokenizer
copy = official_copy(Path(sys.argv[1]), Path(tempfile.mkdtemp()))
tokenizer = Qwen3TTSTokenizer.from_pretrained(str(copy / "speech_tokenizer"), device_map="cpu", dtype=torch.float32)
codes = torch.from_numpy(np.load(sys.argv[2])).long()
times = []
for _ in range(int(sys.argv[4]) + 1):
    t = time.perf_counter()
    with torch.inference_mode():
        wav = tokenizer.decode([{"audio_codes": codes}])[0][0]
    times.append(time.perf_counter() - t)
np.save(sys.argv[3], np.asarray(wav, dtype=np.float32))
print(json.dumps(times[1:]))
"""


def run(python: Path, script: str, *args: str, env: dict[str, str] | None = None) -> list[float]:
    import os

    out = subprocess.run([str(python), "-c", script, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    times: list[float] = json.loads(out.stdout.strip().splitlines()[-1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--frames", type=int, default=99)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reference = reference_python()
    with tempfile.TemporaryDirectory(prefix="bench-decoder-") as tmp:
        folder = Path(tmp)
        codes = np.random.default_rng(0).integers(0, 2048, size=(args.frames, 16)).astype(np.int32)
        np.save(folder / "codes.npy", codes)
        stub = torchaudio_stub(folder)
        ours = run(REPO / ".venv" / "bin" / "python", OURS, str(args.checkpoint), str(folder / "codes.npy"),
                   str(folder / "ours.npy"), str(args.rounds))
        timed = run(reference, REFERENCE, str(args.checkpoint), str(folder / "codes.npy"),
                    str(folder / "reference.npy"), str(args.rounds), str(REPO / "scripts" / "parity"),
                    env={"PYTHONPATH": str(stub)})
        ours_wav, reference_wav = np.load(folder / "ours.npy"), np.load(folder / "reference.npy")
    seconds = args.frames / 12.5
    mine, theirs = statistics.median(ours), statistics.median(timed)
    print(f"speech decoder, released dimensions, {args.frames} frames ({seconds:.2f} s of audio), "
          f"median of {args.rounds}")
    print("| arm | seconds per decode | real-time factor |")
    print("|---|---:|---:|")
    print(f"| ours (MLX + numpy, CPU) | {mine:.2f} | {seconds / mine:.2f}x |")
    print(f"| PyTorch reference | {theirs:.2f} | {seconds / theirs:.2f}x |")
    print(f"ours / reference: {mine / theirs:.2f} (goal <= 1.0); rounds: ours {ours}, reference {timed}")
    length = min(len(ours_wav), len(reference_wav))
    error = ours_wav[:length] - reference_wav[:length]
    ratio = np.sum(error**2) / max(np.sum(reference_wav[:length] ** 2), 1e-30)
    print(f"samples: ours {len(ours_wav)}, reference {len(reference_wav)}; difference "
          f"{10 * np.log10(max(ratio, 1e-30)):.1f} dB below the reference's energy, max |diff| "
          f"{np.abs(error).max():.2e}")


if __name__ == "__main__":
    main()
