#!/usr/bin/env bash
# The test command: set up what is missing, then lint, type-check and run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# The review page's test opens it in a real headless browser; elsewhere that one test is skipped.
if [ "$(uname -s)" = Linux ] && ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "Installing Chromium for the review page's browser test ..."
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium >/dev/null; } || echo "Chromium could not be installed: the browser test will be skipped."
fi
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers contract (pyproject.toml): an upward import fails here
.venv/bin/python -m pytest "$@"
