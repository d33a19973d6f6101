"""Click options derived from ``manim_qwen_mlx.options.OPTIONS``: each with its type, default,
environment variable and help from the one table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from manim_qwen_mlx.core.errors import QwenMLXError
from manim_qwen_mlx.core.options import BY_NAME, OPTIONS, Option, parse, shown_default

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def click_option(option: Option) -> Decorator:
    """One table row as a click option; booleans get --name/--no-name."""
    kwargs: dict[str, Any] = {"help": option.help, "show_envvar": option.env is not None}
    if option.env:
        kwargs["envvar"] = option.env
    if option.type is bool:
        flag = f"{option.flag}/--no-{option.flag[2:]}"
        return click.option(flag, option.name, default=option.default, show_default=True, **kwargs)
    if option.none_allowed:
        kwargs["type"] = _OrNone(option)
    elif option.choices:
        kwargs["type"] = click.Choice(option.choices)
    elif option.type is Path:
        kwargs["type"] = click.Path(path_type=Path)
    else:
        kwargs["type"] = option.type
    shown: Any = True if option.shown_default is None else shown_default(option)
    return click.option(option.flag, option.name, default=option.default, show_default=shown, **kwargs)


class _OrNone(click.ParamType):  # type: ignore[type-arg]  # generic in newer click only
    """The option's type, or "none" (off)."""

    def __init__(self, option: Option) -> None:
        self.option, self.name = option, f"{option.type.__name__} or none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, self.option.type):
            return value
        try:
            return parse(self.option, str(value), source=f"{self.option.flag} {value!r}")
        except QwenMLXError as exc:
            self.fail(str(exc), param, ctx)


def options_of(*groups: str, only: tuple[str, ...] = ()) -> Decorator:
    """Every option of these groups (and the named ones), in the table's order."""
    chosen = [o for o in OPTIONS if o.group in groups or o.name in only]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(chosen):
            command = click_option(option)(command)
        return command

    return decorate


def model_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click_option(BY_NAME["model"])(command)


def cache_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click_option(BY_NAME["cache_dir"])(command)


def resolve_cache_dir(cache_dir: Path | None) -> Path:
    """The folder ``manim render`` would use here: manim's media_dir (its config files) + voiceovers."""
    if cache_dir is not None:
        return cache_dir
    from manim import config
    from manim_voiceover.defaults import DEFAULT_VOICEOVER_CACHE_DIR

    return Path(config.media_dir) / DEFAULT_VOICEOVER_CACHE_DIR
