#!/usr/bin/env bash
# The Mac's path on a lent NVIDIA GPU (mlx[cuda13], the nearest thing to a Mac's GPU we can measure), beside
# mlx-audio's own batch_generate on the same GPU (issue 30). Three steps, the last two device calls made back
# to back on one warm machine (it keeps /tmp between calls for a short while only):
#
#   benchmarks/gpu_run.sh wheels   # here: Python 3.12 wheels into .whl/ (ignored), the 90 MB mlx-cuda-13
#                                  # wheel split in two, since one device call carries at most 64 MiB
#   device run, carry [".whl/a"]:                 bash benchmarks/gpu_run.sh stash
#   device run, carry [".whl/b"], timeout_s 540:  bash benchmarks/gpu_run.sh run
#
# `run` installs the wheels, says what MLX sees, then in order of importance, each result written to $OUT as
# it is made (a run cut short still returns what it made): eight narrations at the 1.7B dims, whole process,
# ours / mlx-audio (benchmarks/mlx_video.py); the frame benchmark at the 1.7B and 0.6B dims, batch 1, 8 and
# 32 (benchmarks/mlx_frame.py). Checkpoints: random weights at the released dimensions, converted to 8-bit
# by mlx-audio's converter as mlx-community ships them.
set -uo pipefail
cd "$(dirname "$0")/.."
STASH=/tmp/manim-qwen-mlx-wheels
MLX=0.32.4

case "${1:-}" in
wheels)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  rm -rf .whl && mkdir -p .whl/a .whl/b
  platforms=()
  for tag in manylinux_2_35_x86_64 manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
    platforms+=(--platform "$tag")
  done
  # What the device's image lacks (it has numpy, scipy, transformers, the CUDA 13 libraries ...).
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl/b "mlx==$MLX" "mlx-cuda-13==$MLX" mlx-audio==0.6.2 soundfile==0.14.0 cffi==2.1.1 \
    pycparser==3.12 pyloudnorm==0.2.0 || exit 1
  mv .whl/b/mlx_cuda_13-*.whl .whl/big.whl
  split -n 2 -d .whl/big.whl .whl/part-
  mv .whl/part-00 .whl/a/ && mv .whl/part-01 .whl/b/ && rm .whl/big.whl
  du -sh .whl/a .whl/b
  ;;
stash)
  mkdir -p "$STASH" && cp .whl/a/part-00 "$STASH/" && ls -la "$STASH"
  ;;
run)
  [ -f "$STASH/part-00" ] || { echo "no $STASH/part-00: run 'stash' first, on the same warm machine"; exit 1; }
  OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
  cat "$STASH/part-00" .whl/b/part-01 > "$STASH/mlx_cuda_13-$MLX-py3-none-manylinux_2_35_x86_64.whl"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$STASH"/mlx_cuda_13-*.whl .whl/b/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD:$PWD/tests MANIM_QWEN_MLX_FAST_CPU=0 PYTHONUNBUFFERED=1
  # mlx-cuda looks for the CUDA libraries beside it; here they are in the image's own nvidia packages.
  libs=$(python3 -c 'import nvidia, pathlib; print(":".join(str(p) for d in nvidia.__path__ for p in pathlib.Path(d).glob("*/lib")))')
  export LD_LIBRARY_PATH=$libs:${LD_LIBRARY_PATH:-}
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
  # A product (cuBLAS) and a compiled elementwise graph (kernels built at run time, which need CUDA's headers).
  python3 -c 'import mlx.core as mx; assert mx.default_device() == mx.gpu, mx.default_device(); print(mx.__version__, mx.default_device(), mx.sum(mx.ones((1024, 1024)) @ mx.ones((1024, 1024))).item(), mx.compile(lambda a: mx.exp(a) * 2 + 1)(mx.zeros(8)).tolist())' \
    2>&1 | tee -a "$OUT/device.txt" || exit 1
  build() {  # dims folder
    [ -f "$2/config.json" ] && return 0
    python3 benchmarks/vs_reference.py --build-only --size "$1" --checkpoint "$2-float32" >/dev/null &&
      python3 -c "import sys; from pathlib import Path; from fixtures.quantized import convert; convert(Path(sys.argv[1]), Path(sys.argv[2]), 8, 'tts')" \
        "$2-float32" "$2" && rm -rf "$2-float32"
  }
  started=$SECONDS
  build 0b6 /tmp/q0b6-8bit > "$OUT/build-0b6.txt" 2>&1 &  # on the CPU cores while the GPU runs the 1.7B
  build 1b7 /tmp/q1b7-8bit && echo "1.7B built: $((SECONDS - started)) s" | tee -a "$OUT/device.txt"
  python3 benchmarks/mlx_video.py /tmp/q1b7-8bit --narrations 8 --frames 48 2>&1 | tee "$OUT/video-1b7.txt"
  python3 benchmarks/mlx_frame.py --folder /tmp/q1b7-8bit --runs 1 2>&1 | tee "$OUT/frame-1b7.txt"
  wait && echo "0.6B built: $((SECONDS - started)) s" | tee -a "$OUT/device.txt"
  python3 benchmarks/mlx_frame.py --folder /tmp/q0b6-8bit --runs 1 2>&1 | tee "$OUT/frame-0b6.txt"
  echo "done in $((SECONDS - started)) s" | tee -a "$OUT/device.txt"
  ;;
*)
  sed -n '2,16p' "$0"; exit 2
  ;;
esac
