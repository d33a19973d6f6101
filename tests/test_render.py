"""End to end: `manim render` as a user runs it, then a re-render with the model gone."""

import json
import shutil
from pathlib import Path

import av
import pytest
import soundfile as sf
from conftest import FRAMES, REPO, render_scene


def _audio_seconds(mp4: Path) -> float:
    with av.open(str(mp4)) as container:
        streams = [s for s in container.streams if s.type == "audio"]
        assert streams, f"{mp4} has no audio track"
        return float(streams[0].duration * streams[0].time_base)


@pytest.fixture
def own_model(tiny_model: Path, tmp_path: Path) -> Path:
    """A private copy, so hiding it cannot disturb other tests."""
    return Path(shutil.copytree(tiny_model, tmp_path / "model"))


def test_render_then_rerender_without_the_model(own_model: Path, reference: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {
        "TEST_MODEL": str(own_model),
        "TEST_REF": str(reference),
        "TEST_REPORT": str(report),
        "TEST_FRAMES": str(FRAMES),
    }
    scene = REPO / "tests" / "scenes" / "narrated.py"
    render_scene(scene, "Narrated", tmp_path, env)

    first = json.loads(report.read_text())
    cache_dir = tmp_path / "media" / "voiceovers"
    durations = []
    for seen in first["voiceovers"]:
        info = sf.info(str(cache_dir / seen["audio"]))
        assert seen["duration"] == pytest.approx(info.frames / info.samplerate, abs=1e-3)
        durations.append(seen["duration"])
    mp4 = tmp_path / "media" / "videos" / "narrated" / "480p15" / "Narrated.mp4"
    # Each voiceover starts where the previous animation ended; frames round each to 1/15 s.
    assert _audio_seconds(mp4) == pytest.approx(sum(durations), abs=len(durations) / 15 + 0.05)
    assert (mp4.with_suffix(".srt")).read_text().count("-->") >= 2

    index = (cache_dir / "cache.json").read_bytes()
    own_model.rename(own_model.with_name("hidden"))
    mp4.unlink()
    render_scene(scene, "Narrated", tmp_path, env)
    second = json.loads(report.read_text())
    assert second["voiceovers"] == first["voiceovers"]
    assert second["mlx_imported"] is False
    assert (cache_dir / "cache.json").read_bytes() == index
    assert _audio_seconds(mp4) == pytest.approx(sum(durations), abs=len(durations) / 15 + 0.05)


def test_example_scene_renders_with_a_local_model(tiny_model: Path, tmp_path: Path) -> None:
    render_scene(
        REPO / "example_scenes" / "intro.py",
        "Intro",
        tmp_path,
        {"MANIM_QWEN_MLX_MODEL": str(tiny_model), "MANIM_QWEN_MLX_MAX_TOKENS": "25"},
    )
    entries = json.loads((tmp_path / "media" / "voiceovers" / "cache.json").read_text())
    assert len(entries) == 4
    assert _audio_seconds(tmp_path / "media" / "videos" / "intro" / "480p15" / "Intro.mp4") > 0


def test_a_cache_travels_to_another_checkout_without_the_model(tiny_model: Path, tmp_path: Path) -> None:
    """Built in one checkout with the model in one place; rendered from a copy elsewhere with no model."""
    here, there = tmp_path / "laptop" / "project", tmp_path / "ci" / "checkout"
    (here / "voices").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "scenes" / "narrated.py", here / "scene.py")
    for suffix in (".wav", ".txt"):
        clip = REPO / "example_scenes" / "voices" / f"espeak{suffix}"
        shutil.copy(clip, here / "voices" / f"me{suffix}")
    model = Path(shutil.copytree(tiny_model, tmp_path / "laptop" / "models" / "tiny-base"))
    env = {"TEST_MODEL": str(model), "TEST_REF": "voices/me.wav", "TEST_FRAMES": str(FRAMES)}
    render_scene(here / "scene.py", "Narrated", here, {**env, "TEST_REPORT": str(tmp_path / "first.json")})

    shutil.copytree(here, there)
    shutil.rmtree(tmp_path / "laptop")
    elsewhere = tmp_path / "ci" / "models" / "tiny-base"  # the same model's name, not downloaded there
    index = (there / "media" / "voiceovers" / "cache.json").read_bytes()
    moved = {**env, "TEST_MODEL": str(elsewhere), "TEST_REPORT": str(tmp_path / "second.json")}
    render_scene(there / "scene.py", "Narrated", there, moved)
    first, second = (json.loads((tmp_path / n).read_text()) for n in ("first.json", "second.json"))
    assert second["voiceovers"] == first["voiceovers"] and second["mlx_imported"] is False
    assert (there / "media" / "voiceovers" / "cache.json").read_bytes() == index
