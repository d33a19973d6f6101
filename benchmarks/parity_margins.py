"""How far greedy decoding on the parity data stands from a tie, against how far two float32 orders of the
same sums move the logits: the evidence behind tests/test_parity.py's tolerances per backend.

For each of the six committed greedy runs (tests/data/parity.npz, the suite's tiny checkpoint), the numpy-cpu
and the mlx backend each decode the official codes (teacher-forced, so both see the same frames); at every
choice (16 codebooks a frame) it records the gap between the two best logits, and how far the two backends'
logits are apart. A code can only flip where the rounding reaches the gap.

    python benchmarks/parity_margins.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from manim_qwen_mlx.backends import blas  # noqa: E402

blas.prepare_blas()


def logits_of(model: Any, steps: Any, built: Any, codes: np.ndarray) -> list[np.ndarray]:
    """Every choice's logits [V] while ``codes`` [T, 16] are fed back: the first codebook's from the
    talker, the others' from the code predictor."""
    import mlx.core as mx
    from draws import Forced

    row, seen = steps.start([built], [len(codes)])[0], []
    mx.disable_compile()  # the forced draws read each codebook's logits as they go
    for frame in codes:
        seen.append(np.array(steps.talk([row]))[0])
        steps.frame([row], mx.array([int(frame[0])]), Forced(frame[1:], seen))
    mx.enable_compile()
    return seen


def main() -> None:
    import tempfile

    import mlx.core as mx  # noqa: F401
    from fixtures.tiny_qwen3_tts import build_checkpoint

    from manim_qwen_mlx.backends.mlx_backend import MlxSteps
    from manim_qwen_mlx.backends.numpy_cpu.steps import NumpySteps
    from manim_qwen_mlx.model import loader
    from manim_qwen_mlx.synthesis import prompt, sentence

    data = np.load(ROOT / "tests" / "data" / "parity.npz")
    model = loader.load(build_checkpoint(Path(tempfile.mkdtemp()) / "tiny-base", "base"))
    voice = sentence.voice_prompt(model, "clone", data["clip_24k"], str(data["ref_text"]))
    gaps, apart = [], []
    for layout in ("flat", "streaming"):
        built = prompt.build(model, str(data["text"]), voice, "auto", layout == "streaming")
        for penalty in (1.0, 1.05, 1.5):
            codes = data[f"codes_{layout}_{penalty}"]
            ours = logits_of(model, NumpySteps(model.module), built, codes)
            other = logits_of(model, MlxSteps(model.module), built, codes)
            for a, b in zip(ours, other, strict=True):
                top = np.sort(a)[-2:]
                gaps.append(float(top[1] - top[0]))
                apart.append(float(np.abs(a - b).max()))
    gaps_a, apart_a = np.array(gaps), np.array(apart)
    print(f"choices: {len(gaps)} in 6 runs (raw logits: before the repetition penalty and masks)")
    print(f"smallest gap between the two best logits: {gaps_a.min():.3g} (median {np.median(gaps_a):.3g})")
    print(f"largest |numpy-cpu - mlx| logit difference: {apart_a.max():.3g} (median {np.median(apart_a):.3g})")
    print(f"smallest gap / largest difference: {gaps_a.min() / max(apart_a.max(), 1e-30):.0f}x")


if __name__ == "__main__":
    main()
