"""The talker's text embedding read row by row from the checkpoint file, on the CPU.

It is the model's largest tensor (151,936 x 2048: 1.24 GB in float32, a quarter of the 0.6B model's
memory) and a narration reads a few dozen of its rows. Under the CPU precision policy it would be
held as float32 for the whole process; instead its rows are read on demand from a memory map of the
checkpoint (float32 as stored, bfloat16/float16 widened to float32 exactly as the policy would), so
only the pages touched count. mlx-audio never quantizes this tensor, so every released format maps.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path
from typing import Any

import mlx.nn as nn
import numpy as np

from manim_qwen_mlx.backends.base import MlxAudioTTS
from manim_qwen_mlx.core.defaults import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
NAME = "talker.model.text_embedding.weight"
HEADER_LIMIT = 100_000_000  # safetensors' own bound on a header's size
_STORED = {"F32": np.float32, "BF16": np.uint16, "F16": np.float16}  # bfloat16 rows are widened by hand


class FileEmbedding(nn.Module):  # type: ignore[misc,name-defined]
    """``nn.Embedding``'s call, over rows in a memory-mapped file; float32 mlx rows out. A module without
    parameters: the memory map is a plain attribute (numpy, not mlx), so nothing is loaded or evaluated."""

    def __init__(self, rows: np.memmap, bfloat16: bool) -> None:
        super().__init__()
        self.rows, self.bfloat16 = rows, bfloat16

    def __call__(self, ids: Any) -> Any:
        import mlx.core as mx

        picked = self.rows[np.asarray(ids)]
        if self.bfloat16:  # bfloat16 is float32's upper half: the same widening as mlx's astype
            picked = (picked.astype(np.uint32) << 16).view(np.float32)
        return mx.array(picked.astype(np.float32, copy=False))


def locate(folder: Path, name: str) -> tuple[Path, str, tuple[int, ...], int] | None:
    """File, stored dtype, shape and byte offset of tensor ``name`` in a safetensors checkpoint."""
    index = folder / "model.safetensors.index.json"
    try:
        files = [folder / json.loads(index.read_text())["weight_map"][name]] if index.exists() else sorted(
            folder.glob("*.safetensors")
        )
        for file in files:
            with file.open("rb") as handle:
                size = struct.unpack("<Q", handle.read(8))[0]
                if size > HEADER_LIMIT:
                    return None
                header = json.loads(handle.read(size))
            if name in header:
                entry = header[name]
                return file, entry["dtype"], tuple(entry["shape"]), 8 + size + entry["data_offsets"][0]
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return None


def map_text_embedding(model: MlxAudioTTS, folder: Path) -> bool:
    """Swap the (still lazy) text embedding for rows read from ``folder``'s file, when the stored tensor is
    what the model holds. Returns whether it did."""
    found = locate(folder, NAME)
    if found is None:
        return False
    file, dtype, shape, offset = found
    if dtype not in _STORED or shape != tuple(model.talker.model.text_embedding.weight.shape):
        return False  # a packed (quantized) table, or not the tensor the model holds
    rows = np.memmap(file, dtype=_STORED[dtype], mode="r", offset=offset, shape=shape)
    model.talker.model.update_modules({"text_embedding": FileEmbedding(rows, dtype == "BF16")})
    log.info("Text embedding (%s, %s) read on demand from %s", dtype, "x".join(map(str, shape)), file.name)
    return True
