"""What a user reads: exit statuses that tell a broken scene from missing narration, the user's own frame
first and uncut, a mark where text is shortened, advice given once where it can be acted on, a summary
that says when nothing was to do, and a failure log no other project or user overwrites."""

import json
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_cli

from manim_qwen_mlx import QwenMLXService
from manim_qwen_mlx.cli import main
from manim_qwen_mlx.core.text import shorten
from manim_qwen_mlx.voiceover import collect, narration

LONG = "Then we split two cubed into two times two squared, so that each step shows where the eight comes from."


def _scene(folder: Path, body: str, name: str = "lesson.py") -> Path:
    scene = folder / name
    scene.parent.mkdir(parents=True, exist_ok=True)
    scene.write_text(
        "import os\nfrom manim import *\nfrom manim_voiceover import VoiceoverScene\n"
        "from manim_qwen_mlx import QwenMLXService\n\n\nclass Lesson(VoiceoverScene):\n    def construct(self):\n"
        "        self.set_speech_service(QwenMLXService(model=os.environ['TEST_MODEL'], "
        "ref_audio=os.environ['TEST_REF'], max_tokens=6))\n"
        f"        {body}\n"
    )
    return scene


@pytest.fixture
def env(tiny_model: Path, reference: Path) -> dict[str, str]:
    return {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference)}


def test_check_tells_missing_narration_from_a_broken_scene_and_bad_usage(
    env: dict[str, str], tmp_path: Path
) -> None:
    scene = _scene(tmp_path / "a", f"with self.voiceover(text={LONG!r}) as t: pass")
    missing = run_cli(["precache", "--check", str(scene)], tmp_path, env)
    assert missing.returncode == 1 and "1 narration(s) missing" in missing.stdout, missing.stderr
    broken = run_cli(["precache", "--check", str(_scene(tmp_path / "b", "1 / 0"))], tmp_path, env)
    assert broken.returncode == collect.SCENE_FAILED == 3 and "ZeroDivisionError" in broken.stderr
    usage = run_cli(["precache", "--check", "--batch-size", "0", str(tmp_path / "a" / "lesson.py")], tmp_path, env)
    assert usage.returncode == 2 and "batch-size" in usage.stderr
    shown = " ".join(CliRunner().invoke(main, ["precache", "--help"], terminal_width=400).output.split())
    assert "3 a scene failed" in shown and "1 narration missing" in shown  # documented where it is used


def test_a_failure_shows_the_user_s_frame_first_and_whole(env: dict[str, str], tmp_path: Path) -> None:
    # An unrelated error logged first (as manim-voiceover logs a missing optional package), then the
    # scene's own mistake on a line far wider than a terminal.
    body = (f"logger.error('Missing packages. Run pip install something to use a service nobody uses.')\n"
            f"        with self.voiceover(text={LONG!r} + 3) as tracker: pass")
    result = run_cli(["precache", str(_scene(tmp_path, body))], tmp_path, env)
    assert result.returncode == collect.SCENE_FAILED
    shown = result.stderr
    frame = re.search(r'lesson\.py", line 11', shown)
    cause = shown.find('TypeError: can only concatenate str (not "int") to str')
    noise = shown.find("Missing packages")
    assert frame is not None and 0 <= frame.start() < cause < noise, shown  # the user's frame and cause lead
    assert f"with self.voiceover(text={LONG!r} + 3) as tracker: pass" in shown  # the whole line, uncut
    assert "─" not in shown and "│" not in shown  # no box cut at 80 columns


def test_the_failure_log_is_one_per_user_and_scene_file(tmp_path: Path) -> None:
    first, second = tmp_path / "one" / "scene.py", tmp_path / "two" / "scene.py"
    logs = [collect._keep_log(path, f"output of {path}") for path in (first, second)]
    assert logs[0] is not None and logs[1] is not None and logs[0] != logs[1]
    assert logs[0].read_text() == f"output of {first}" and logs[1].read_text() == f"output of {second}"
    assert logs[0].parent.name.startswith("manim-qwen-mlx-") and logs[0].parent.name != "manim-qwen-mlx-"
    assert logs[0].parent.stat().st_mode & 0o077 == 0  # other users can neither read nor overwrite it
    assert collect._keep_log(first, "again") == logs[0]  # the same file's next failure replaces its own


def test_shortened_text_says_so() -> None:
    assert shorten("A circle.") == "A circle."
    assert shorten(LONG) == LONG[:59].rstrip() + "…" and len(shorten(LONG)) <= 60
    assert shorten(LONG, 20).endswith("…") and len(shorten(LONG, 20)) <= 20


def test_check_marks_a_shortened_narration(env: dict[str, str], tmp_path: Path) -> None:
    scene = _scene(tmp_path, f"with self.voiceover(text={LONG!r}) as t: pass")
    missing = run_cli(["precache", "--check", str(scene)], tmp_path, env)
    (listed,) = re.findall(r"^missing  '([^']+)'", missing.stdout, flags=re.M)
    assert listed.endswith("…") and LONG.startswith(listed[:-1])


def test_a_cached_render_gives_no_aligner_advice(
    tiny_model: Path, reference: Path, cache_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "A circle <bookmark mark='A'/>grows."
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, aligner=tmp_path / "none",
                         cache_dir=cache_dir)
    with caplog.at_level(logging.WARNING, logger="manim.qwen_mlx"):
        svc._wrap_generate_from_text(text)  # synthesized: the advice, once, where it can be acted on
    assert "estimated, not aligned" in caplog.text and "manim-qwen-mlx download" in caplog.text
    assert json.loads((cache_dir / "cache.json").read_text())[0]["word_boundaries_method"] == "estimate"
    caplog.clear()
    monkeypatch.setattr(narration, "_warned_estimates", set())  # the next render: a new process
    with caplog.at_level(logging.INFO, logger="manim.qwen_mlx"):
        for _ in range(2):
            svc._wrap_generate_from_text(text)  # a cache hit, twice
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    lines = [r.getMessage() for r in caplog.records if "stay estimated" in r.getMessage()]
    assert len(lines) == 1 and len(lines[0].replace(str(tmp_path / "none"), "")) < 100  # one short line
