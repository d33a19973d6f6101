"""Never lose or corrupt narration: parallel writers, kills, broken files, and fuzzed sequences."""

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import FakeEngine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from invariants import assert_cache_invariants

from manim_qwen_mlx.cache import NarrationCache
from manim_qwen_mlx.cache.key import cache_key, canonical_json, input_data
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import BOOKMARK_RE, normalize
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import engine
from manim_qwen_mlx.voiceover import narration

MODEL = ModelRef.resolve("org/fake-model")
VOICE = Voice(speaker="ryan")


def _ensure(cache: NarrationCache, text: str) -> tuple[dict, bool]:
    return narration.ensure(cache, narration.Narration(text, normalize(text), VOICE, SynthesisSettings(), MODEL))


def _worker(directory: str, worker: int, count: int, shared: int, log: str) -> None:
    fake = FakeEngine()
    engine.synthesize_many = fake  # type: ignore[assignment]
    cache = NarrationCache(directory)
    texts = [f"Worker {worker} line {i}." for i in range(count)] + [f"Shared line {i}." for i in range(shared)]
    random.Random(worker).shuffle(texts)
    for text in texts:
        _ensure(cache, text)
    with open(log, "a") as handle:
        handle.write("".join(f"{t}\n" for t in fake.calls))


@pytest.mark.stress
def test_four_processes_hundred_writes_each(cache_dir: Path, tmp_path: Path) -> None:
    workers, count, shared = 4, 100, 10
    log = tmp_path / "calls.log"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(str(cache_dir), w, count, shared, str(log))) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * workers  # 0 errors
    indexed = assert_cache_invariants(cache_dir)
    assert len(indexed) == workers * count + shared  # 0 lost
    calls = log.read_text().splitlines()
    # The per-key lock: a narration wanted by every worker at once is synthesized exactly once.
    assert sorted(c for c in calls if c.startswith("Shared")) == sorted(f"Shared line {i}." for i in range(shared))


def test_index_rebuilds_from_entry_files(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "synthesize_many", FakeEngine())
    cache = NarrationCache(cache_dir)
    entries = [_ensure(cache, f"Line {i}.")[0] for i in range(5)]
    (cache_dir / "cache.json").write_text('[{"trunc')
    for entry in entries:  # served from the entry files while the index is broken
        assert cache.lookup(entry["input_data"]) == entry
    _ensure(cache, "One more.")  # the next write moves the broken index aside and rebuilds it
    assert len(assert_cache_invariants(cache_dir)) == 6
    assert len(list(cache_dir.glob("cache.json.broken-*"))) == 1
    (cache_dir / "cache.json").unlink()
    assert len(cache.entries()) == 6


def test_unreadable_audio_is_a_miss(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine()
    monkeypatch.setattr(engine, "synthesize_many", fake)
    cache = NarrationCache(cache_dir)
    entry, _ = _ensure(cache, "A circle.")
    (cache_dir / entry["original_audio"]).write_bytes(b"RIFF\x00\x00")
    _, made = _ensure(cache, "A circle.")
    assert made and fake.calls == ["A circle.", "A circle."]
    assert_cache_invariants(cache_dir)


TEXTS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


# Pieces of bookmark tags, so that tags nest, split and run into each other.
TAG_PIECES = st.lists(
    st.sampled_from(["<bookmark ", "<bookmark mark='a'/>", "mark='b'/>", "mark=\"c\"/>", "/>", " ", "hi", "\n"]),
    max_size=12,
).map("".join)


@given(TEXTS | TAG_PIECES)
@example("<bookmark <bookmark mark='a'/>mark='b'/>hi")
def test_normalize_is_idempotent_and_bookmark_free(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once and "  " not in once and once == once.strip()
    assert BOOKMARK_RE.search(once) is None


@given(st.text(max_size=40), st.lists(st.sampled_from(["A", "b_2", "x"]), max_size=3))
def test_bookmarks_never_change_the_key(words: str, marks: list[str]) -> None:
    marked = words + "".join(f" <bookmark mark='{m}'/>" for m in marks) + " end"
    plain = words + " end"
    key = cache_key(input_data(normalize(marked), VOICE, SynthesisSettings(), MODEL))
    assert key == cache_key(input_data(normalize(plain), VOICE, SynthesisSettings(), MODEL))


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=5))
def test_canonical_json_ignores_insertion_order(data: dict) -> None:
    assert canonical_json(dict(reversed(list(data.items())))) == canonical_json(data)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 6)),
        st.tuples(st.just("get"), st.integers(0, 6)),
        st.tuples(st.just("prune"), st.integers(0, 6)),
        st.tuples(st.just("corrupt"), st.sampled_from(["", "[", "{}", "[1, 2]", "null"])),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
def test_any_sequence_of_operations_keeps_the_invariants(tmp_path: Path, ops: list) -> None:
    directory = tmp_path / f"cache-{time.monotonic_ns()}"
    original = engine.synthesize_many
    engine.synthesize_many = FakeEngine()  # type: ignore[assignment]
    try:
        cache = NarrationCache(directory)
        present: set[str] = set()
        for op, arg in ops:
            text = f"Line {arg}." if isinstance(arg, int) else ""
            if op == "put":
                _ensure(cache, text)
                present.add(text)
            elif op == "get" and text in present:
                _, made = _ensure(cache, text)
                assert not made  # nothing stored is ever lost
            elif op == "prune":
                cache.remove(lambda e, t=text: e["input_text"] == t)
                present.discard(text)
            elif op == "corrupt":
                directory.mkdir(parents=True, exist_ok=True)
                (directory / "cache.json").write_text(arg)
            if op in ("put", "prune"):  # every write leaves a sound index behind, whatever came before
                assert_cache_invariants(directory)
        assert {e["input_text"] for e in cache.entries()} == present
    finally:
        engine.synthesize_many = original


@pytest.mark.stress
def test_precache_killed_at_random_points(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    """SIGKILL a whole precache run (it and its scene subprocess) 20 times at random moments."""
    from conftest import REPO

    steps = 150  # enough work that twenty kills land before a run could finish
    env = {
        **os.environ,
        "TEST_MODEL": str(tiny_model),
        "TEST_REF": str(reference),
        "TEST_REF2": str(reference),
        "TEST_FRAMES": "2",
        "TEST_STEPS": str(steps),
    }
    command = [sys.executable, "-m", "manim_qwen_mlx", "precache", str(REPO / "tests" / "scenes" / "loop.py")]
    cache_dir = tmp_path / "media" / "voiceovers"
    rng, kills = random.Random(5), 0
    while kills < 20:
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        assert proc.poll() is None, f"precache ended before its kill: {proc.communicate()[1][-2000:]}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        kills += 1
        if cache_dir.exists():
            assert_cache_invariants(cache_dir)
    finish = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stderr
    # Every loop step, the second voice and the duration-dependent line: nothing lost, nothing doubled.
    assert len(assert_cache_invariants(cache_dir)) == steps + 2
