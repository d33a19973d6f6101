#!/usr/bin/env bash
# Render the narrated example scene. The model is $MANIM_QWEN_MLX_MODEL (a repo id or a local folder),
# else the default model, downloaded once. --tiny uses the random test checkpoint instead (noise, offline).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
if [ "${1:-}" = "--tiny" ]; then
  shift
  [ -f tiny-qwen3-tts/config.json ] || .venv/bin/python tests/fixtures/tiny_qwen3_tts.py tiny-qwen3-tts >/dev/null
  export MANIM_QWEN_MLX_MODEL="$PWD/tiny-qwen3-tts"
  # Random weights never say end-of-speech: cap each sentence (12.5 frames = 1 s).
  export MANIM_QWEN_MLX_MAX_TOKENS="${MANIM_QWEN_MLX_MAX_TOKENS:-25}"
fi
.venv/bin/manim render -ql "$@" example_scenes/intro.py Intro
