"""Our errors become ``Error: ...`` and the error's exit status (1 unless it says otherwise), without a
traceback."""

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
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code  # type: ignore[misc]  # click declares a class default
            raise error from exc

    return wrapper  # type: ignore[return-value]
