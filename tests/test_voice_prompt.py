"""A cloned voice is encoded once (codes, speaker embedding, decoder state), then reused across calls and
processes, with the same audio."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import FRAMES

PROBE = """
import json, sys
from mlx_audio.tts.models.qwen3_tts import speaker_encoder, speech_tokenizer
from manim_qwen_mlx.model import decoder_context
counts = {"encode": 0, "speaker": 0, "decoder": 0}
def counting(cls, name, key):
    original = getattr(cls, name)
    def wrapper(self, *args, **kwargs):
        counts[key] += 1
        return original(self, *args, **kwargs)
    setattr(cls, name, wrapper)
counting(speech_tokenizer.Qwen3TTSSpeechTokenizer, "encode", "encode")
counting(speaker_encoder.Qwen3TTSSpeakerEncoder, "__call__", "speaker")
counting(decoder_context.ContinuedDecoder, "after", "decoder")
from manim_qwen_mlx import QwenMLXService
svc = QwenMLXService(model=sys.argv[1], ref_audio=sys.argv[2], max_tokens=FRAMES_HERE, cache_dir=sys.argv[3])
audio = [svc._wrap_generate_from_text(text)["final_audio"] for text in sys.argv[4:]]
print(json.dumps({"counts": counts, "audio": audio}))
""".replace("FRAMES_HERE", str(FRAMES))


def _run(model: Path, reference: Path, cache_dir: Path, *texts: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(model), str(reference), str(cache_dir), *texts],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_voice_is_encoded_once_across_calls_and_processes(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "voiceovers"
    first = _run(tiny_model, reference, cache_dir, "A circle.", "Watch it grow.")
    # Two narrations, one voice: the clip is encoded, embedded and run through the decoder once, not per call.
    assert first["counts"] == {"encode": 1, "speaker": 1, "decoder": 1}
    stored = sorted(p.name.split(".")[1] for p in (cache_dir / ".voices").rglob("*.np?"))
    assert stored == ["codes", "decoder-1", "speaker"]

    second = _run(tiny_model, reference, cache_dir, "A square.")
    assert second["counts"] == {"encode": 0, "speaker": 0, "decoder": 0}  # a new process reads the stored voice

    fresh = tmp_path / "fresh"
    baseline = _run(tiny_model, reference, fresh, "A square.")
    assert baseline["counts"] == {"encode": 1, "speaker": 1, "decoder": 1}
    stored_audio = sf.read(cache_dir / second["audio"][0])[0]
    fresh_audio = sf.read(fresh / baseline["audio"][0])[0]
    np.testing.assert_array_equal(stored_audio, fresh_audio)  # same inputs, same audio


def test_damaged_voice_store_is_recomputed(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "voiceovers"
    _run(tiny_model, reference, cache_dir, "A circle.")
    for stored in (cache_dir / ".voices").rglob("*.np?"):
        stored.write_bytes(b"not numpy")
    again = _run(tiny_model, reference, cache_dir, "A square.")
    assert again["counts"] == {"encode": 1, "speaker": 1, "decoder": 1}
