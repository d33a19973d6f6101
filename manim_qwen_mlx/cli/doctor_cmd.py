"""``manim-qwen-mlx doctor``: check the set-up; exit 1 when something blocks synthesis."""

from __future__ import annotations

import sys

import click

from .errors import friendly_errors
from .options import model_option

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command()
@model_option
@friendly_errors
def doctor(model: str) -> None:
    """Versions, the MLX device, the CPU BLAS on Linux, and whether the model is available."""
    from manim_qwen_mlx.model.doctor import run_checks

    checks = run_checks(model)
    for check in checks:
        click.echo(f"[{MARKS[check.status]}] {check.name:<16} {check.detail}")
        if check.fix:
            click.echo(f"       {'':<16} fix: {check.fix}")
    sys.exit(1 if any(c.status == "fail" for c in checks) else 0)
