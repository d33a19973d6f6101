"""QwenMLXService as manim-voiceover calls it: cache hits, misses, overrides and errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import FRAMES

from manim_qwen_mlx import CacheError, InvalidTextError, QwenMLXError, QwenMLXService, VoiceError


@pytest.fixture
def service(tiny_model: Path, reference: Path, cache_dir: Path) -> QwenMLXService:
    return QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=FRAMES, cache_dir=cache_dir)


def test_miss_synthesizes_then_hit_reuses(service: QwenMLXService, cache_dir: Path) -> None:
    first = service._wrap_generate_from_text("A circle.")
    wav = cache_dir / first["final_audio"]
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (24_000, 1, "PCM_16")
    assert first["duration"] == pytest.approx(info.frames / 24_000, abs=1e-9)
    index = (cache_dir / "cache.json").read_bytes()
    again = service._wrap_generate_from_text("A   circle.\n")
    assert again["final_audio"] == first["final_audio"]
    # A hit appends nothing (manim-voiceover's own wrapper appends a duplicate every time).
    assert (cache_dir / "cache.json").read_bytes() == index
    assert len(json.loads(index)) == 1


def test_bookmarks_do_not_change_the_audio_but_reach_the_tracker(service: QwenMLXService) -> None:
    plain = service._wrap_generate_from_text("This is a triangle.")
    marked = service._wrap_generate_from_text("This is a <bookmark mark='A'/>triangle.")
    assert marked["final_audio"] == plain["final_audio"]
    assert marked["input_text"] == "This is a <bookmark mark='A'/>triangle."


def test_per_call_overrides(service: QwenMLXService, reference: Path, tmp_path: Path) -> None:
    base = service._wrap_generate_from_text("A circle.")
    reseeded = service._wrap_generate_from_text("A circle.", seed=99)
    assert reseeded["final_audio"] != base["final_audio"]
    assert reseeded["input_data"]["config"]["settings"]["seed"] == 99
    other = tmp_path / "other.wav"
    other.write_bytes(reference.read_bytes())
    with pytest.raises(QwenMLXError, match="No transcript"):  # a new clip needs its own transcript
        service._wrap_generate_from_text("A circle.", ref_audio=other)
    switched = service._wrap_generate_from_text("A circle.", ref_audio=other, ref_text="Other words.")
    assert switched["input_data"]["config"]["voice"]["ref_text"] == "Other words."
    with pytest.raises(QwenMLXError, match=r"Unknown voiceover option\(s\) \['temprature'\]"):
        service._wrap_generate_from_text("A circle.", temprature=0.5)
    with pytest.raises(VoiceError, match="preset speaker"):
        service._wrap_generate_from_text("A circle.", voice="ryan")


@pytest.mark.parametrize("text", ["", "   \n ", "<bookmark mark='A'/> <bookmark mark='B'/>"])
def test_nothing_to_say(service: QwenMLXService, text: str) -> None:
    with pytest.raises(InvalidTextError, match="empty"):
        service._wrap_generate_from_text(text)


def test_cache_dir_as_str_path_relative_or_absolute(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    for cache_dir in ["rel/str", Path("rel/path"), str(tmp_path / "abs"), tmp_path / "abs-path"]:
        svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=FRAMES, cache_dir=cache_dir)
        data = svc._wrap_generate_from_text("Hi.")
        assert (Path(cache_dir) / data["final_audio"]).is_file()


def test_unsupported_manim_voiceover_options_are_refused(tiny_model: Path, reference: Path) -> None:
    with pytest.raises(QwenMLXError, match="global_speed"):
        QwenMLXService(model=tiny_model, ref_audio=reference, global_speed=1.2)
    with pytest.raises(QwenMLXError, match="Whisper"):
        QwenMLXService(model=tiny_model, ref_audio=reference, transcription_model="base")


def test_unusable_cache_dir(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="cache_dir="):
        QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=blocker / "voiceovers")


def test_hit_loads_no_model_and_no_mlx(
    service: QwenMLXService, tiny_model: Path, reference: Path, cache_dir: Path, tmp_path: Path
) -> None:
    service._wrap_generate_from_text("A circle.")
    # Another process, the model folder moved away: the cache alone must answer.
    probe = (
        "import sys, json\n"
        "from manim_qwen_mlx import QwenMLXService\n"
        f"s = QwenMLXService(model={str(tiny_model)!r}, ref_audio={str(reference)!r}, max_tokens={FRAMES}, "
        f"cache_dir={str(cache_dir)!r})\n"
        "d = s._wrap_generate_from_text('A circle.')\n"
        "print(json.dumps([d['final_audio'], 'mlx' in sys.modules, 'mlx_audio' in sys.modules]))\n"
    )
    hidden = tiny_model.with_name(tiny_model.name + ".hidden")
    tiny_model.rename(hidden)
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    finally:
        hidden.rename(tiny_model)
    assert out.returncode == 0, out.stderr
    audio, mlx_loaded, mlx_audio_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert audio and not mlx_loaded and not mlx_audio_loaded


def test_a_bookmark_split_by_another_is_refused(service: QwenMLXService) -> None:
    with pytest.raises(InvalidTextError, match="split by another"):
        service._wrap_generate_from_text("<bookmark <bookmark mark='a'/>mark='b'/>Hi there.")


def test_repetition_penalty_reaches_the_audio(tiny_model: Path, reference: Path, cache_dir: Path) -> None:
    # mlx-audio's own generate runs every penalty below 1.5 as 1.5; ours applies the one asked for.
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=40, temperature=0.0, cache_dir=cache_dir)
    text = "A circle grows slowly."
    names = [svc._wrap_generate_from_text(text, repetition_penalty=p)["final_audio"] for p in (1, 1.5)]
    plain, strong = (sf.read(cache_dir / name)[0] for name in names)
    assert plain.shape != strong.shape or not np.array_equal(plain, strong)
