"""Which model the user named: a Hugging Face repo id (maybe pinned) or a local folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .defaults import DEFAULT_MODEL, MODEL_ENV


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
        """The model as the user names it: weights changed in place need a new name or a cleared cache."""
        return {"model": self.name, "revision": self.revision}

    def __str__(self) -> str:
        return f"{self.name}@{self.revision}" if self.revision else self.name


def _looks_local(name: str) -> bool:
    # A repo id is "owner/name"; anything else path-like is a (missing) local folder.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
