"""The ``manim-qwen-mlx`` command: one click group; each command lives in its own short module."""

from __future__ import annotations

import logging

import click

from manim_qwen_mlx.cli import cache_cmd, doctor_cmd, download_cmd, precache_cmd, review_cmd, say_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (model loads, each synthesis).")
@click.version_option(package_name="manim-qwen-mlx")
def main(verbose: bool) -> None:
    """Narrate Manim scenes in your own voice with Qwen3-TTS on MLX."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


main.add_command(precache_cmd.precache)
main.add_command(cache_cmd.cache)
main.add_command(say_cmd.say)
main.add_command(review_cmd.review)
main.add_command(doctor_cmd.doctor)
main.add_command(download_cmd.download)
