"""Bookmarks end to end: aligned once, stored, identical on a cached re-render; speed and fallback."""

import json
import logging
import shutil
from pathlib import Path

import pytest
from conftest import REPO, render_scene
from manim_voiceover.tracker import TimeInterpolator

from manim_qwen_mlx import QwenMLXService
from manim_qwen_mlx.core.text import remove_bookmarks

TEXT = "This is a <bookmark mark='A'/>triangle and this is a <bookmark mark='B'/>square."


def _bookmark_time(data: dict, mark: str) -> float:
    before = data["input_text"].split(f"<bookmark mark='{mark}'/>")[0]
    return TimeInterpolator(data["word_boundaries"]).interpolate(len(remove_bookmarks(before)))


def test_render_with_bookmarks_then_from_cache(
    tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path
) -> None:
    model, aligner = shutil.copytree(tiny_model, tmp_path / "tts"), shutil.copytree(tiny_aligner, tmp_path / "al")
    report = tmp_path / "report.json"
    env = {
        "TEST_MODEL": str(model),
        "TEST_REF": str(reference),
        "TEST_ALIGNER": str(aligner),
        "TEST_REPORT": str(report),
    }
    scene = REPO / "tests" / "scenes" / "bookmarks.py"
    render_scene(scene, "Bookmarks", tmp_path, env)
    before = json.loads(report.read_text())
    assert 0 <= before["bookmarks"]["A"] <= before["bookmarks"]["B"] <= before["duration"]
    entry = json.loads((tmp_path / "media" / "voiceovers" / "cache.json").read_text())[0]
    assert entry["word_boundaries_method"] == "align"

    model.rename(tmp_path / "tts-gone")
    aligner.rename(tmp_path / "al-gone")
    render_scene(scene, "Bookmarks", tmp_path, env)
    after = json.loads(report.read_text())
    assert after["bookmarks"] == before["bookmarks"] and after["mlx_imported"] is False
    srt = next((tmp_path / "media" / "videos").rglob("Bookmarks.srt")).read_text()
    assert "triangle" not in srt and "circle and this is a square." in srt


def test_speed_scales_bookmarks_once_also_on_a_hit(tiny_model: Path, reference: Path, cache_dir: Path) -> None:
    svc = QwenMLXService(
        model=tiny_model, ref_audio=reference, max_tokens=20, bookmarks="estimate", cache_dir=cache_dir
    )
    normal = svc._wrap_generate_from_text(TEXT)
    fast = svc._wrap_generate_from_text(TEXT, speed=1.25)
    again = svc._wrap_generate_from_text(TEXT, speed=1.25)
    for mark in "AB":
        assert _bookmark_time(fast, mark) == pytest.approx(_bookmark_time(normal, mark) / 1.25, rel=0.02)
        assert _bookmark_time(again, mark) == _bookmark_time(fast, mark)
    assert fast["duration"] == pytest.approx(normal["duration"] / 1.25, rel=0.02)


def test_missing_aligner_falls_back_to_the_estimate_then_upgrades(
    tiny_model: Path,
    tiny_aligner: Path,
    reference: Path,
    cache_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    later = tmp_path / "aligner-later"
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=20, aligner=later, cache_dir=cache_dir)
    with caplog.at_level(logging.WARNING, logger="manim.qwen_mlx"):
        estimated = svc._wrap_generate_from_text(TEXT)
    assert "estimated, not aligned" in caplog.text and "manim-qwen-mlx download" in caplog.text
    stored = json.loads((cache_dir / "cache.json").read_text())[0]
    assert stored["word_boundaries_method"] == "estimate"
    assert 0 < _bookmark_time(estimated, "A") < _bookmark_time(estimated, "B") < estimated["duration"]

    shutil.copytree(tiny_aligner, later)  # the aligner arrives: the next hit refines the times once
    svc._wrap_generate_from_text(TEXT)
    assert json.loads((cache_dir / "cache.json").read_text())[0]["word_boundaries_method"] == "align"


def test_a_missing_aligner_is_warned_about_once(
    tiny_model: Path, reference: Path, cache_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, aligner=tmp_path / "none",
                         cache_dir=cache_dir)
    with caplog.at_level(logging.WARNING, logger="manim.qwen_mlx"):
        for text in (TEXT, "Another <bookmark mark='C'/>narration of the scene."):
            assert "word_boundaries" in svc._wrap_generate_from_text(text)
    assert caplog.text.count("estimated, not aligned") == 1  # once per process, not once per narration


def test_texts_without_bookmarks_get_no_boundaries(tiny_model: Path, reference: Path, cache_dir: Path) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, cache_dir=cache_dir)
    assert "word_boundaries" not in svc._wrap_generate_from_text("A plain sentence.")
    asked = svc._wrap_generate_from_text("A plain sentence.", word_boundaries=True, bookmarks="estimate")
    assert [b["text"] for b in asked["word_boundaries"]][:3] == ["A", "plain", "sentence"]
