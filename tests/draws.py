"""Draws for driving a backend's ``frame`` by hand (the seam's ``Draws``): greedy, or given codes fed back."""

from typing import Any

import mlx.core as mx
import numpy as np


class Greedy:
    """Every row's likeliest code; greedy draws take no key."""

    signature = "greedy"

    def keys(self) -> Any:
        return mx.zeros((1, 2), dtype=mx.uint32)

    def keep(self, keys: Any) -> None:
        pass

    def __call__(self, logits: Any, keys: Any) -> tuple[Any, Any]:
        return mx.argmax(logits, axis=-1), keys


class Forced(Greedy):
    """One row's given codes for codebooks 2..16, each codebook's logits recorded in ``seen``. It reads the
    logits as it goes, so the backend's compiled graphs must be off (``mx.disable_compile``)."""

    def __init__(self, codes: Any, seen: list[np.ndarray]) -> None:
        self.codes, self.seen = iter(codes), seen
        self.signature = f"forced-{id(self)}"  # type: ignore[assignment]

    def __call__(self, logits: Any, keys: Any) -> tuple[Any, Any]:
        self.seen.append(np.array(logits)[0])
        return mx.array([int(next(self.codes))]), keys
