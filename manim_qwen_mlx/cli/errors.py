"""Our errors become a one-line ``Error: ...`` and exit status 1, without a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from manim_qwen_mlx.core.errors import QwenMLXError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except QwenMLXError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]
