#!/usr/bin/env bash
# Regenerate tests/data/parity.npz: the official qwen-tts outputs for the suite's tiny checkpoint.
# Makes its own venv (.parity-venv/, ~6 GB: PyTorch, transformers 4.57, qwen-tts) the first time.
# Not part of CI; run it when the fixture, the clip or qwen-tts changes, then commit the .npz.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/bootstrap.sh
venv=.parity-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch "transformers==4.57.3" "accelerate==1.12.0" librosa soundfile einops sox numpy onnxruntime
  # gradio (its web demo) and torchaudio (only its 25 Hz tokenizer) are not needed for the 12 Hz models.
  "$venv/bin/pip" install -q --no-deps "qwen-tts==0.1.1"
fi
stub=$(mktemp -d)
models=$(mktemp -d)
trap 'rm -rf "$stub" "$models"' EXIT
mkdir -p "$stub/torchaudio/compliance"
touch "$stub/torchaudio/__init__.py" "$stub/torchaudio/compliance/__init__.py" "$stub/torchaudio/compliance/kaldi.py"
.venv/bin/python tests/fixtures/tiny_qwen3_tts.py "$models/tiny-base" base >/dev/null
.venv/bin/python tests/fixtures/tiny_qwen3_tts.py "$models/tiny-eager" base --eager-eos >/dev/null
PYTHONPATH="$stub" "$venv/bin/python" scripts/parity/make_reference.py "$models/tiny-base" "$models/tiny-eager" \
  example_scenes/voices/espeak.wav tests/data/parity.npz
