"""The cache index: atomic, locked, self-healing, and shared safely between processes."""

import json
import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from manim_qwen_mlx import CacheError
from manim_qwen_mlx.audio import write_wav
from manim_qwen_mlx.cache import NarrationCache


def _entry(cache: NarrationCache, text: str, audio: bool = True) -> dict:
    data = {"input_text": text, "service": "qwen_mlx", "config": {"schema": 1}}
    name = cache.audio_name(text, f"{abs(hash(text)):032x}")
    if audio:
        cache.directory.mkdir(parents=True, exist_ok=True)
        write_wav(cache.directory / name, np.full(240, 0.1, dtype=np.float32))
    return {"input_text": text, "input_data": data, "original_audio": name, "final_audio": name}


def test_store_then_lookup(cache_dir: Path) -> None:
    cache = NarrationCache(cache_dir)
    entry = _entry(cache, "A circle.")
    assert cache.lookup(entry["input_data"]) is None
    cache.store(entry)
    assert cache.lookup(entry["input_data"]) == entry
    # manim-voiceover's own format: a JSON list of entries.
    assert json.loads((cache_dir / "cache.json").read_text()) == [entry]


def test_storing_the_same_inputs_twice_keeps_one_entry(cache_dir: Path) -> None:
    cache = NarrationCache(cache_dir)
    first = _entry(cache, "A circle.")
    cache.store(first)
    cache.store(dict(first, duration=1.0))
    assert len(cache.entries()) == 1 and cache.entries()[0]["duration"] == 1.0


def test_missing_audio_is_a_miss(cache_dir: Path) -> None:
    cache = NarrationCache(cache_dir)
    entry = _entry(cache, "A circle.")
    cache.store(entry)
    (cache_dir / entry["original_audio"]).unlink()
    assert cache.lookup(entry["input_data"]) is None


@pytest.mark.parametrize("content", ['[{"input_text": "trunc', "{}", "not json at all", '[1, "x", null]'])
def test_broken_index_is_a_miss_and_is_kept_aside(cache_dir: Path, content: str) -> None:
    cache = NarrationCache(cache_dir)
    entry = _entry(cache, "A circle.")
    (cache_dir / "cache.json").write_text(content)
    assert cache.lookup(entry["input_data"]) is None
    cache.store(entry)
    assert cache.lookup(entry["input_data"]) == entry
    aside = list(cache_dir.glob("cache.json.broken-*"))
    assert len(aside) == 1 and aside[0].read_text() == content


def test_foreign_entries_are_kept(cache_dir: Path) -> None:
    foreign = [
        {
            "input_text": "hi",
            "input_data": {"input_text": "hi", "service": "gtts"},
            "original_audio": "hi.mp3",
        }
    ]
    cache_dir.mkdir()
    (cache_dir / "cache.json").write_text(json.dumps(foreign))
    cache = NarrationCache(cache_dir)
    cache.store(_entry(cache, "A circle."))
    assert json.loads((cache_dir / "cache.json").read_text())[0] == foreign[0]


def test_audio_names_cannot_leave_the_cache(cache_dir: Path) -> None:
    cache = NarrationCache(cache_dir)
    for hostile in ["../escape.wav", "/etc/passwd", "a\0b.wav", "sub/../../x.wav", ""]:
        assert cache.audio_file({"original_audio": hostile}) is None
    assert cache.audio_file({"original_audio": "fine.wav"}) == cache.directory / "fine.wav"


def test_unwritable_cache_says_what_to_do(tmp_path: Path) -> None:
    # A file where the folder should be fails for root too, unlike permission bits.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(CacheError, match=r"not writable.*cache_dir="):
        NarrationCache(blocker / "voiceovers").store({"input_data": {}})


def _writer(directory: str, worker: int, count: int) -> None:
    cache = NarrationCache(directory)
    for i in range(count):
        cache.store(_entry(cache, f"worker {worker} line {i}"))


def test_parallel_writers_lose_nothing(cache_dir: Path) -> None:
    workers, count = 4, 25
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_writer, args=(str(cache_dir), w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    texts = {e["input_text"] for e in NarrationCache(cache_dir).entries()}
    assert texts == {f"worker {w} line {i}" for w in range(workers) for i in range(count)}
    assert not list(cache_dir.glob(".*.tmp"))


def test_owners_are_recorded_once_relative_to_the_cache_and_survive_a_lost_index(
    cache_dir: Path, tmp_path: Path
) -> None:
    from manim_qwen_mlx.cache.key import cache_key
    from manim_qwen_mlx.cache.owners import Owner, claim, recorded

    cache = NarrationCache(cache_dir)
    entry = _entry(cache, "A circle.")
    cache.store(entry)
    alpha = Owner(str(tmp_path / "scenes" / "a.py"), "Alpha")
    claim(cache, {cache_key(entry["input_data"]): [alpha]})
    assert cache.entries()[0]["used_by"] == [{"file": "../scenes/a.py", "scene": "Alpha"}]
    written = cache.index_path.read_bytes(), cache.index_path.stat().st_mtime_ns
    claim(cache, {cache_key(entry["input_data"]): [alpha]})  # nothing new: nothing written
    assert (cache.index_path.read_bytes(), cache.index_path.stat().st_mtime_ns) == written
    cache.index_path.unlink()  # rebuilt from the entry files beside the audio, owners included
    assert recorded(cache.entries()[0], cache.directory) == {alpha}


def test_a_cache_that_cannot_record_a_new_user_still_serves_the_hit(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import FakeEngine

    from manim_qwen_mlx.cache.owners import Owner
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SynthesisSettings
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.synthesis import engine
    from manim_qwen_mlx.voiceover import narration

    monkeypatch.setattr(engine, "synthesize_many", FakeEngine())
    said = narration.Narration("Hi.", "Hi.", Voice(speaker="ryan"), SynthesisSettings(), ModelRef.resolve("org/fake"))
    cache = NarrationCache(cache_dir)
    made, fresh = narration.ensure(cache, said)
    assert fresh and "used_by" not in made  # asked outside any scene

    def unwritable() -> None:
        raise CacheError("not writable")

    monkeypatch.setattr(cache, "ensure_writable", unwritable)
    hit, fresh = narration.ensure(cache, replace(said, owner=Owner(str(tmp_path / "a.py"), "A")))
    assert not fresh and hit["original_audio"] == made["original_audio"]
