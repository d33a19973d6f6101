"""Walking a loaded mlx-audio model: the modules and module lists below a root, for the passes that
replace layers in place (precision, the numpy-cpu decoder swap), and numpy views of its weights."""

from __future__ import annotations

from typing import Any

import numpy as np


def float32_view(array: Any) -> np.ndarray:
    """A zero-copy numpy view of a float32 mlx array (evaluated first if it is lazy). The numpy-cpu
    backend runs only on float32 weights, so anything else is a bug, not a fallback."""
    import mlx.core as mx

    if array.dtype != mx.float32:
        raise TypeError(f"weights are {array.dtype}, not float32: the numpy-cpu backend needs float32")
    return np.asarray(array)


def all_float32(module: Any) -> bool:
    """Whether every parameter below ``module`` is float32 (so numpy can view it in place)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    leaves: Any = tree_flatten(module.parameters())
    return all(value.dtype == mx.float32 for _, value in leaves)


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


def child(container: Any, key: Any) -> Any:
    """The child at ``key`` of a module, a list, or an mx.compile wrapper (which has items, not indexing)."""
    if hasattr(type(container), "__getitem__"):  # type(): the wrapper passes isinstance checks as its module
        return container[key]
    return dict(container.items())[key]


def replace(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, list):
        container[key] = value
    else:
        setattr(container, key, value)
