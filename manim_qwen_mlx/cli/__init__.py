"""The ``manim-qwen-mlx`` command: one click group; each command lives in its own short module."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import QwenMLXError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """Our errors become a one-line ``Error: ...`` and exit status 1, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except QwenMLXError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (model loads, each synthesis).")
@click.version_option(package_name="manim-qwen-mlx")
def main(verbose: bool) -> None:
    """Narrate Manim scenes in your own voice with Qwen3-TTS on MLX."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


def _register() -> None:
    from . import cache_cmd, doctor_cmd, download_cmd, precache_cmd, say_cmd

    main.add_command(precache_cmd.precache)
    main.add_command(cache_cmd.cache)
    main.add_command(say_cmd.say)
    main.add_command(doctor_cmd.doctor)
    main.add_command(download_cmd.download)


_register()
