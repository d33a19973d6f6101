"""Walking a loaded mlx-audio model: the modules and module lists below a root, for the passes that
replace layers in place (cpu_fastpath, precision), and numpy views of its weights (the CPU path)."""

from __future__ import annotations

from typing import Any

import numpy as np


class NotFloat32(Exception):
    """A weight numpy cannot read in place: quantized, bfloat16 or float16."""


def float32_view(array: Any) -> np.ndarray:
    """A zero-copy numpy view of a float32 mlx array (evaluated first if it is lazy)."""
    import mlx.core as mx

    if array.dtype != mx.float32:
        raise NotFloat32(f"weights are {array.dtype}, not float32")
    return np.asarray(array)


def containers(root: Any) -> list[Any]:
    """Every module and list of modules below ``root``, parents first. Reaches into mx.compile wrappers
    (mlx-audio compiles the speech decoder), which expose their module's items but not its attributes."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        children = node if isinstance(node, list) else list(node.values()) if hasattr(node, "items") else []
        found.append(node)
        stack.extend(c for c in children if isinstance(c, list) or hasattr(c, "parameters"))
    return found


def children(container: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs of a module or a list, for ``replace``."""
    return list(enumerate(container)) if isinstance(container, list) else list(container.items())


def replace(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, list):
        container[key] = value
    else:
        setattr(container, key, value)
