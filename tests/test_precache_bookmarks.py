"""precache on the files people write: bookmarks, several scenes, failures inside a batch."""

import json
import shutil
from pathlib import Path

from conftest import REPO, render_scene, run_cli

from manim_qwen_mlx.cache import NarrationCache

LECTURE = REPO / "tests" / "scenes" / "lecture.py"
RUNAWAY = REPO / "tests" / "scenes" / "runaway.py"
MARKS = {"Shapes": ["circle", "square", "triangle", "A", "B"], "Summary": ["corners", "end"]}


def test_bookmarked_scenes_precache_then_render_without_models(
    tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path
) -> None:
    model = shutil.copytree(tiny_model, tmp_path / "models" / "tts")
    aligner = shutil.copytree(tiny_aligner, tmp_path / "models" / "aligner")
    report = tmp_path / "report.jsonl"
    env = {"TEST_MODEL": str(model), "TEST_REF": str(reference), "TEST_ALIGNER": str(aligner)}
    env["TEST_REPORT"] = str(report)

    out = run_cli(["precache", str(LECTURE)], tmp_path, env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 narration(s): 0 already cached, 4 synthesized, 0 failed" in out.stdout
    cache = NarrationCache(tmp_path / "media" / "voiceovers")
    entries = cache.entries()
    assert len(entries) == 4
    # Every narration has aligned word times: the render never needs the aligner.
    assert {e.get("word_boundaries_method") for e in entries} == {"align"}
    index = (cache.directory / "cache.json").read_bytes()

    shutil.rmtree(tmp_path / "models")
    report.unlink()
    for scene in MARKS:
        render_scene(LECTURE, scene, tmp_path, env)
    fired = {line["scene"]: line for line in map(json.loads, report.read_text().splitlines())}
    assert set(fired) == set(MARKS)
    for scene, marks in MARKS.items():
        assert fired[scene]["mlx_imported"] is False
        times = [fired[scene]["bookmarks"][mark] for mark in marks]
        assert times == sorted(times) and times[0] >= 0, (scene, times)
    assert (cache.directory / "cache.json").read_bytes() == index  # renders only read


def test_precache_check_counts_narration_that_only_lacks_word_times(
    tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path
) -> None:
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tiny_aligner)}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    from manim_qwen_mlx import QwenMLXService

    # The same words were narrated before without bookmarks: the audio is cached, the word times are not.
    cache_dir = tmp_path / "media" / "voiceovers"
    service = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=12, cache_dir=cache_dir)
    service._wrap_generate_from_text("That is all.")
    check = run_cli(["precache", "--check", str(LECTURE), "Summary"], tmp_path, env)
    assert check.returncode == 1 and "2 narration(s) missing" in check.stdout
    done = run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env)
    assert "1 synthesized, 1 given word times, 0 failed" in done.stdout, done.stdout + done.stderr
    assert run_cli(["precache", "--check", str(LECTURE), "Summary"], tmp_path, env).returncode == 0

    # The whole file: only the scene that had misses runs again to see the texts its new audio gives.
    Path(env["TEST_REPORT"]).unlink()
    whole = run_cli(["precache", str(LECTURE)], tmp_path, env)
    assert "4 narration(s): 2 already cached, 2 synthesized" in whole.stdout, whole.stdout + whole.stderr
    runs = [json.loads(line)["scene"] for line in Path(env["TEST_REPORT"]).read_text().splitlines()]
    assert sorted(runs) == ["Shapes", "Shapes", "Summary"]


def test_a_runaway_in_a_batch_fails_alone(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference)}
    out = run_cli(["precache", "--batch-size", "4", str(RUNAWAY)], tmp_path, env)
    assert out.returncode == 1
    # The runaway fails alone: its batch's others are stored, and retrying it alone would give the same audio.
    assert "4 narration(s): 0 already cached, 3 synthesized, 1 failed" in out.stdout, out.stdout
    assert "failed: 'A.'" in out.stderr and "kept talking" in out.stderr
    stored = sorted(e["input_data"]["input_text"] for e in NarrationCache(tmp_path / "media" / "voiceovers").entries())
    assert stored == sorted(
        [
            "This first sentence is long enough to be cut.",
            "And a second one that is also rather long.",
            "The third one, long as well, ends the scene.",
        ]
    )


def test_offline_bookmarks_settle(tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path) -> None:
    """No aligner here: word times are estimated once, `--check` counts them as present (and lists them),
    `--require-aligned` fails on them, and a second precache recomputes nothing; once the aligner is
    here, precache aligns them."""
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tmp_path / "no-aligner")}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    first = run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env)
    assert first.returncode == 0, first.stdout + first.stderr
    check = run_cli(["precache", "--check", str(LECTURE), "Summary"], tmp_path, env)
    assert check.returncode == 0, check.stdout
    assert "0 narration(s) missing, 2 with estimated word times" in check.stdout
    assert check.stdout.count("estimated word times  ") == 2
    strict = run_cli(["precache", "--check", "--require-aligned", str(LECTURE), "Summary"], tmp_path, env)
    assert strict.returncode == 1
    again = run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env)
    assert "nothing to synthesize" in again.stdout and "given word times" not in again.stdout, again.stdout
    shutil.copytree(tiny_aligner, tmp_path / "no-aligner")
    aligned = run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env)
    assert "nothing to synthesize; 2 given word times" in aligned.stdout, aligned.stdout + aligned.stderr
    assert run_cli(["precache", "--check", "--require-aligned", str(LECTURE), "Summary"], tmp_path, env).returncode == 0
