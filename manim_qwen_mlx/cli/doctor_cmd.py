"""``manim-qwen-mlx doctor``: check the set-up; exit 1 when something blocks synthesis."""

from __future__ import annotations

import sys

import click

from .errors import friendly_errors
from .options import options_of

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command()
@options_of(only=("model", "aligner", "asr"))
@friendly_errors
def doctor(model: str, aligner: str, asr: str) -> None:
    """Versions, the MLX device, the CPU BLAS on Linux, whether the model is available, and whether the
    forced aligner (bookmark times) and the speech recognizer (verify) are here and load."""
    from manim_qwen_mlx.model.doctor import run_checks

    checks = run_checks(model, aligner, asr)
    for check in checks:
        click.echo(f"[{MARKS[check.status]}] {check.name:<16} {check.detail}")
        if check.fix:
            click.echo(f"       {'':<16} fix: {check.fix}")
    sys.exit(1 if any(c.status == "fail" for c in checks) else 0)
