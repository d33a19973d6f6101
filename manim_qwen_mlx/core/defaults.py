"""Every default and environment variable name in one place."""

from __future__ import annotations

LOGGER_NAME = "manim.qwen_mlx"
SERVICE_NAME = "qwen_mlx"
# Bumped whenever the audio for the same inputs would change (splitting, joining, trimming...).
# 3: the speech decoder and reference encoder fixes of model/fixes.py (FIXES_VERSION 1).
# 4: every narration brought to one loudness (audio/loudness.py), the loudness setting in the key.
CACHE_SCHEMA_VERSION = 4

DEFAULT_MODEL = "mlx-community/Qwen3-TTS-12Hz-1.7B-Base-8bit"
DRAFT_MODEL = "mlx-community/Qwen3-TTS-12Hz-0.6B-Base-8bit"
MODEL_ENV = "MANIM_QWEN_MLX_MODEL"
OFFLINE_ENV = "MANIM_QWEN_MLX_OFFLINE"
CACHE_DIR_ENV = "MANIM_QWEN_MLX_CACHE_DIR"  # renders and the CLI; default <media_dir>/voiceovers
# Set by `manim-qwen-mlx precache` for the scene run that collects narrations instead of speaking them.
COLLECT_ENV = "MANIM_QWEN_MLX_COLLECT"
ESTIMATED_CHARS_PER_SECOND = 14.0  # the pace of a voice without a clip of its own (preset, designed)

SAMPLE_RATE = 24_000
FRAME_RATE = 12.5  # codec frames per second of audio

# Qwen3-TTS reference sampling settings, written out so that the cache key names them.
DEFAULT_LANG_CODE = "auto"
DEFAULT_TEMPERATURE = 0.9
DEFAULT_TOP_K = 50
DEFAULT_TOP_P = 1.0
DEFAULT_REPETITION_PENALTY = 1.05
DEFAULT_SEED = 1234
DEFAULT_SENTENCE_PAUSE = 0.25  # seconds of silence between synthesized sentences
# Narration's integrated loudness (LUFS, ITU-R BS.1770) and true-peak ceiling (dBTP): spoken-word podcasts'
# -16 LUFS sits just under the -14 that YouTube and most players turn louder videos down to, so speech keeps
# its level there and leaves room for music; -1 dBTP keeps encoders from clipping.
DEFAULT_LOUDNESS = -16.0
LOUDNESS_RANGE = (-40.0, -6.0)
TRUE_PEAK_CEILING_DB = -1.0

# Frame ceiling from the text: generous enough for slow speech, short enough to stop a ramble.
CAP_BASE_SECONDS = 2.0
CAP_SECONDS_PER_CHAR = 0.2
CAP_WIDE_CHAR_WEIGHT = 2.5  # a CJK character takes longer to say than a Latin letter
MAX_SENTENCE_CHARS = 300  # longer sentences are split at clause or word boundaries
# A sentence that reaches its frame ceiling never said end-of-speech (a known Qwen3-TTS failure):
# it is generated again with a derived seed this many times, then reported as an error.
RUNAWAY_RETRIES = 2
RUNAWAY_SEED_STEP = 1_000_003  # retry n of a sentence uses seed + n * this (takes use TAKE_SEED_STEP)
DRAFT_ENV = "MANIM_QWEN_MLX_DRAFT"  # draft mode: placeholders for missing narration, no model
MAX_TOKENS_ENV = "MANIM_QWEN_MLX_MAX_TOKENS"  # a default ceiling, e.g. for quick drafts

# Checks of each take (takes.py): a failing take is synthesized again with a derived seed.
TAKE_SEED_STEP = 7_919  # take n uses seed + n * this
DEFAULT_MAX_TAKES = 3
DEFAULT_PACE_TOLERANCE = 2.5  # a take speaking over 2.5x faster or slower than the voice usually does fails
DEFAULT_MIN_VOICE_SIMILARITY = 0.5  # cosine of speaker embeddings (HumeAI's tada accepts at 0.45)
DEFAULT_MAX_WER = 0.3  # word error rate of a verified take's transcript (after normalising both texts)
DEFAULT_ASR = "mlx-community/Qwen3-ASR-0.6B-8bit"
ASR_ENV = "MANIM_QWEN_MLX_ASR"

SIDECAR_TRANSCRIPT_SUFFIX = ".txt"
MIN_REFERENCE_SECONDS = 1.0
LONG_REFERENCE_SECONDS = 30.0
# Speech runs at roughly 10-20 spoken characters a second; a transcript far outside this range
# for its clip is probably the wrong one.
TRANSCRIPT_CHARS_PER_SECOND = (3.0, 30.0)
CACHE_INDEX_NAME = "cache.json"
VOICE_STORE_FOLDER = ".voices"  # encoded reference voices, beside the narration cache
BATCH_SIZE_ENV = "MANIM_QWEN_MLX_BATCH_SIZE"  # precache --batch-size
# Rows in flight during precache: more rows share each weight's read, for a little more memory
# (docs/performance.md); a shorter video runs whole.
DEFAULT_BATCH_SIZE = 32

# What a model download fetches: weights as safetensors only (nothing is unpickled), configs, tokenizer.
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja")

# Bookmarks: exact word times from Qwen3-ForcedAligner, or a proportional estimate without it.
DEFAULT_ALIGNER = "mlx-community/Qwen3-ForcedAligner-0.6B-4bit"
ALIGNER_ENV = "MANIM_QWEN_MLX_ALIGNER"
ALIGNER_SAMPLE_RATE = 16_000

# CPU fast path (Linux): a system OpenBLAS instead of mlx's bundled reference BLAS, and the speech
# decoder's convolutions as matmuls. BLAS_ENV: "off", or the path of a BLAS library to load.
BLAS_ENV = "MANIM_QWEN_MLX_BLAS"
BLAS_THREADS_ENV = "MANIM_QWEN_MLX_BLAS_THREADS"  # a fixed BLAS thread count for the CPU steps (default: free cores)
PRECISION_ENV = "MANIM_QWEN_MLX_PRECISION"  # "keep": no float32 conversion on the CPU
# "0": the mlx backend (mlx-audio's own layers, every step in mlx) on the CPU too
FAST_CPU_ENV = "MANIM_QWEN_MLX_FAST_CPU"
OPENBLAS_CANDIDATES = (
    "/usr/lib/{arch}-linux-gnu/openblas-pthread/libblas.so.3",  # Debian/Ubuntu: libopenblas0-pthread
    "/usr/lib/{arch}-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/{arch}-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblasp.so.0",  # Fedora: openblas-threads
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",  # Arch
)
