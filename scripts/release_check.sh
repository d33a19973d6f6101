#!/usr/bin/env bash
# Before publishing: build the sdist and the wheel, check their metadata, install the wheel into a fresh
# environment (nothing from this checkout on its path) and render the example scene there with the tiny
# test checkpoint (offline). Publishing is then `twine upload dist/*`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip install -q build twine
rm -rf dist
.venv/bin/python -m build --outdir dist . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
.venv/bin/python -m twine check --strict dist/*
"$(.venv/bin/python -c 'import sys; print(sys._base_executable)')" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q dist/*.whl
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -f "$site/manim_qwen_mlx_quiet_sox.pth" ] || { echo "the wheel installed no .pth" >&2; exit 1; }
cp -r example_scenes "$work/scenes"
[ -f tiny-qwen3-tts/config.json ] || .venv/bin/python tests/fixtures/tiny_qwen3_tts.py tiny-qwen3-tts >/dev/null
(
  cd "$work/scenes"
  where=$("$work/venv/bin/python" -c 'import manim_qwen_mlx; print(manim_qwen_mlx.__file__)')
  case "$where" in "$site"/*) ;; *) echo "manim_qwen_mlx came from $where, not the wheel" >&2; exit 1 ;; esac
  MANIM_QWEN_MLX_MODEL="$OLDPWD/tiny-qwen3-tts" MANIM_QWEN_MLX_MAX_TOKENS=25 MANIM_QWEN_MLX_OFFLINE=1 \
    "$work/venv/bin/manim" render -ql intro.py Intro >"$work/render.log" 2>&1 || { cat "$work/render.log"; exit 1; }
  if grep -q "SoX could not be found" "$work/render.log"; then echo "the SoX warning showed" >&2; exit 1; fi
  ls media/videos/intro/480p15/Intro.mp4 >/dev/null
)
echo "release check passed: $(ls dist | tr '\n' ' ')(built, metadata checked, installed and rendered)"
