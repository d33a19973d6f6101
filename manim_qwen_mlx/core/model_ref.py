"""Which model the user named: a Hugging Face repo id (maybe pinned) or a local folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from manim_qwen_mlx.core.defaults import DEFAULT_MODEL, MODEL_ENV


@dataclass(frozen=True)
class ModelRef:
    name: str  # repo id, or the absolute path of a local folder
    revision: str | None = None
    is_local: bool = False

    @classmethod
    def resolve(cls, model: str | os.PathLike[str] | None = None, revision: str | None = None) -> ModelRef:
        """The argument, else ``$MANIM_QWEN_MLX_MODEL``, else the default model."""
        chosen = os.fspath(model) if model is not None else os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        path = Path(chosen).expanduser()
        if path.exists() or _looks_local(chosen):
            return cls(name=str(path.resolve()), revision=None, is_local=True)
        return cls(name=chosen, revision=revision or None)

    def identity(self) -> dict[str, str | None]:
        """The model as the cache key names it, the same on every machine: a repo id (and revision); a
        local folder by its name, or by repo id and revision where it is a Hugging Face cache snapshot.
        Weights changed in place under the same name need a new name or a cleared cache."""
        if not self.is_local:
            return {"model": self.name, "revision": self.revision}
        path = Path(self.name)
        snapshot = hub_snapshot(path)
        if snapshot is not None:
            return {"model": snapshot[0], "revision": snapshot[1]}
        return {"model": path.name, "revision": None}

    def __str__(self) -> str:
        return f"{self.name}@{self.revision}" if self.revision else self.name


def hub_snapshot(path: Path) -> tuple[str, str] | None:
    """(repo id, revision) for a folder ``.../models--owner--name/snapshots/<revision>``, else None."""
    parts = path.parts
    if len(parts) < 3 or parts[-2] != "snapshots" or not parts[-3].startswith("models--"):
        return None
    owner, _, name = parts[-3].removeprefix("models--").partition("--")
    return (f"{owner}/{name}", parts[-1]) if owner and name else None


def _looks_local(name: str) -> bool:
    # A repo id is "owner/name"; anything else path-like is a (missing) local folder.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
