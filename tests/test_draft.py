"""Draft mode: a render that never waits for speech. Cached narration plays; missing narration is a
placeholder of its estimated length, kept apart and never served once draft mode is off."""

import atexit
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, render_scene, run_cli

from manim_qwen_mlx import QwenMLXService, SettingsError
from manim_qwen_mlx.cache.inventory import placeholders, scan
from manim_qwen_mlx.cli import main
from manim_qwen_mlx.voiceover import draft

LECTURE = REPO / "tests" / "scenes" / "lecture.py"


@pytest.fixture(autouse=True)
def _no_line_at_the_suite_s_exit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process tests' placeholders are this test's: the line a render ends with is not the suite's."""
    monkeypatch.setattr(draft, "_placeholders", set())
    yield
    atexit.unregister(draft._report)


def test_a_missing_narration_gets_a_placeholder_of_its_estimated_length(
    tiny_model: Path, reference: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir, draft=True, speed=1.0)
    short = svc._wrap_generate_from_text("A circle.")
    text = "A circle grows on the screen. <bookmark mark='A'/>Then a square appears beside it."
    long = svc._wrap_generate_from_text(text)
    assert 0.5 <= short["duration"] < long["duration"]
    assert long["duration"] == pytest.approx(json.loads(Path(long["original_audio"]).with_suffix(".json")
                                                        .read_text())["duration"])
    assert Path(long["original_audio"]).parent == cache_dir / "drafts"
    assert not (cache_dir / "cache.json").exists()  # nothing in the index: never served as real narration
    assert [b for b in long["word_boundaries"] if b["text_offset"] > 0]  # estimated times for the bookmark
    faster = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir, draft=True, speed=1.5)
    assert faster._wrap_generate_from_text("A circle.")["duration"] < short["duration"]
    # The clone's own pace: its clip's spoken units a second, not a typical speaker's.
    assert short["duration"] == pytest.approx(max(0.5, 8 / draft.takes.usual_rate(svc.voice)), rel=0.01)
    listed = {text for text, _, _ in placeholders(cache_dir)}
    assert listed == {"A circle.", "A circle grows on the screen. Then a square appears beside it."}
    assert {item.status for item in scan(cache_dir).items} == {"draft"}
    shown = CliRunner().invoke(main, ["cache", "list", "--cache-dir", str(cache_dir)]).output
    assert shown.count("draft ") == 3 and "placeholder" in shown  # the faster "A circle." is its own
    assert CliRunner().invoke(main, ["cache", "clear", "--yes", "--cache-dir", str(cache_dir)]).exit_code == 0
    assert placeholders(cache_dir) == [] and not (cache_dir / "drafts").exists()


def test_cached_narration_plays_its_real_audio_and_draft_off_never_serves_a_placeholder(
    tiny_model: Path, reference: Path, cache_dir: Path
) -> None:
    real = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir, max_tokens=6)
    made = real._wrap_generate_from_text("A circle.")
    drafting = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir, draft=True, max_tokens=6)
    assert drafting._wrap_generate_from_text("A circle.")["original_audio"] == made["original_audio"]
    placeholder = drafting._wrap_generate_from_text("A square.")
    assert "drafts" in str(placeholder["original_audio"])
    again = real._wrap_generate_from_text("A square.")  # draft off: synthesized, the placeholder ignored
    assert "drafts" not in str(again["original_audio"]) and again["duration"] != placeholder["duration"]
    assert not Path(placeholder["original_audio"]).exists() and placeholders(cache_dir) == []  # and gone


def test_precache_refuses_draft_mode(tmp_path: Path) -> None:
    out = run_cli(["precache", str(LECTURE)], tmp_path, {"MANIM_QWEN_MLX_DRAFT": "1"})
    assert out.returncode == 2 and "MANIM_QWEN_MLX_DRAFT is set: precache makes narration real" in out.stderr


def test_a_draft_render_loads_no_model_and_ends_with_one_line(
    tiny_model: Path, reference: Path, tmp_path: Path
) -> None:
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tmp_path / "no-aligner"),
           "TEST_REPORT": str(tmp_path / "report.jsonl"), "MANIM_QWEN_MLX_DRAFT": "1"}
    out = render_scene(LECTURE, "Summary", tmp_path, env)
    report = [json.loads(line) for line in Path(env["TEST_REPORT"]).read_text().splitlines()]
    assert report and not any(entry["mlx_imported"] for entry in report)
    said = " ".join((out.stdout + out.stderr).split())  # rich wraps the line beside its source column
    assert said.count("in this render are draft") == 1 and "2 narration(s) in this render are draft" in said
    assert "precache FILE` makes them real." in said
    check = run_cli(["precache", "--check", str(LECTURE), "Summary"], tmp_path,
                    {k: v for k, v in env.items() if k != "MANIM_QWEN_MLX_DRAFT"})
    assert check.returncode == 1 and "2 narration(s) missing" in check.stdout  # placeholders are not narration


def test_a_scene_in_draft_mode_stops_precache_with_what_to_do(
    tiny_model: Path, reference: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_COLLECT", str(tmp_path / "requests.jsonl"))  # as precache's dry run
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, cache_dir=cache_dir, draft=True)
    with pytest.raises(SettingsError, match="remove draft=True from the scene"):
        svc._wrap_generate_from_text("A circle.")
    assert not (tmp_path / "requests.jsonl").exists() and not (cache_dir / "drafts").exists()
