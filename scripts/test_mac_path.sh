#!/usr/bin/env bash
# The suite as a Mac runs it, imitated on Linux: a second environment without numba (the package
# installs it on Linux only) and the mlx backend chosen (MANIM_QWEN_MLX_FAST_CPU=0, as a Mac's GPU
# chooses it). Without arguments it runs every test but the CLI's, the review page's and the wheel's
# (their logic does not depend on the backend; CI's time does); pytest arguments choose others.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh  # system packages, and .venv's Python to build this one from
venv=.venv-mac
stamp=$venv/.installed-$(cksum < pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  echo "Installing manim-qwen-mlx into $venv, without numba ..."
  rm -rf "$venv"
  "$(.venv/bin/python -c 'import sys; print(sys._base_executable)')" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[dev]"
  "$venv/bin/python" -m pip uninstall -q -y numba llvmlite
  touch "$stamp"
fi
if [ $# -eq 0 ]; then
  set -- -q -m "not stress" --ignore tests/test_cli.py --ignore tests/test_review.py --ignore tests/test_wheel.py
fi
MANIM_QWEN_MLX_FAST_CPU=0 "$venv/bin/python" -m pytest "$@"
