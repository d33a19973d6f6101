#!/usr/bin/env bash
# Make .venv ready on a fresh machine: system libraries manim builds against, then the package.
# Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# manim builds against cairo and pango; OpenBLAS makes MLX's CPU backend ~30x faster at matmuls.
APT_PACKAGES="libcairo2-dev libpango1.0-dev pkg-config libopenblas0-pthread"

need_system_packages() {
  case "$(uname -s)" in
    Linux)
      command -v dpkg-query >/dev/null || return 1
      for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || return 0
      done
      return 1 ;;
    Darwin)
      pkg-config --exists cairo 2>/dev/null && return 1 || return 0 ;;
  esac
  return 1
}

if need_system_packages; then
  case "$(uname -s)" in
    Linux)
      sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      echo "Installing system packages: $APT_PACKAGES ..."
      $sudo apt-get update -qq
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $APT_PACKAGES >/dev/null ;;
    Darwin)
      command -v brew >/dev/null || { echo "Install Homebrew first (https://brew.sh), then run this again." >&2; exit 1; }
      brew install cairo pango pkg-config ;;
  esac
fi

python=""
for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
  [ -n "$candidate" ] || continue
  # 2>/dev/null: a pyenv shim for a version that is not selected prints a page of advice.
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.x)." >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed-$(cat pyproject.toml | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  echo "Installing manim-qwen-mlx and its dependencies into .venv ..."
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
# An editable install gets no .pth from setup.py (the wheel does): without it manim-voiceover's SoX probe
# warns on `manim render` whenever manim loads that plugin before ours (manim_qwen_mlx_quiet_sox.py).
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -f "$site/manim_qwen_mlx_quiet_sox.pth" ] || echo "import manim_qwen_mlx_quiet_sox" > "$site/manim_qwen_mlx_quiet_sox.pth"
