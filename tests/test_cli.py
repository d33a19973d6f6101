"""The manim-qwen-mlx command, on the tiny checkpoint: precache, cache, say, doctor, download."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from conftest import FRAMES, REPO, render_scene
from conftest import run_cli as _cli

from manim_qwen_mlx import ModelNotAvailableError
from manim_qwen_mlx.cache import NarrationCache
from manim_qwen_mlx.cli import main
from manim_qwen_mlx.core.defaults import BATCH_SIZE_ENV
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.options import BY_NAME
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.voiceover import collect, precache
from manim_qwen_mlx.voiceover.narration import Narration

LOOP = REPO / "tests" / "scenes" / "loop.py"


@pytest.fixture
def scene_env(tiny_model: Path, reference: Path, tmp_path: Path) -> dict[str, str]:
    second = tmp_path / "voice" / "second.wav"
    data, rate = sf.read(reference, dtype="float32")
    sf.write(second, data[: rate * 3], rate)
    return {
        "TEST_MODEL": str(tiny_model),
        "TEST_REF": str(reference),
        "TEST_REF2": str(second),
        "TEST_FRAMES": str(FRAMES),
        "TEST_REPORT": str(tmp_path / "report.json"),
    }


def test_precache_then_render_loads_no_model(scene_env: dict[str, str], tmp_path: Path) -> None:
    check = _cli(["precache", "--check", str(LOOP)], tmp_path, scene_env)
    assert check.returncode == 1 and "5 narration(s) missing" in check.stdout
    assert re.search(r"\(collected in \d+\.\d s\)", check.stdout), check.stdout
    listed = re.findall(r"^missing  '([^']+)'", check.stdout, flags=re.M)
    assert listed[:4] == [*(f"Step {n} of the loop." for n in (1, 2, 3)), "Now in another voice."]  # scene order

    first = _cli(["precache", str(LOOP), "Loop"], tmp_path, scene_env)
    assert first.returncode == 0, first.stderr
    # 3 loop steps + another voice + the duration-dependent text, found in a second collecting pass.
    assert "6 synthesized (1 superseded), 0 failed" in first.stdout
    entries = NarrationCache(tmp_path / "media" / "voiceovers").entries()
    assert len(entries) == 5
    assert len({e["input_data"]["config"]["voice"]["ref_audio_sha256"] for e in entries}) == 2

    again = _cli(["precache", str(LOOP)], tmp_path, scene_env)
    assert again.returncode == 0 and "5 narration(s), all already cached: nothing to synthesize" in again.stdout
    assert "real time" not in again.stdout  # no "0.0 s of audio ... 0.00x real time"
    assert _cli(["precache", "--check", str(LOOP)], tmp_path, scene_env).returncode == 0

    render_scene(LOOP, "Loop", tmp_path, scene_env)
    assert json.loads(Path(scene_env["TEST_REPORT"]).read_text())["mlx_imported"] is False
    assert len(NarrationCache(tmp_path / "media" / "voiceovers").entries()) == 5


@pytest.mark.parametrize("batch_size", ["1", "4"])
def test_killed_precache_leaves_a_cache_the_next_run_completes(
    scene_env: dict[str, str], tmp_path: Path, batch_size: str
) -> None:
    """Killed while rows are in flight: what was stored is whole, and the next run makes the rest."""
    env = {**scene_env, "TEST_STEPS": "8", "TEST_FRAMES": "40"}
    index = tmp_path / "media" / "voiceovers" / "cache.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "manim_qwen_mlx", "precache", "--batch-size", batch_size, str(LOOP)],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not index.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "precache finished before it could be killed"
    cache = NarrationCache(index.parent)
    done = cache.entries()
    assert 1 <= len(done) < 10  # 8 loop steps, another voice, the duration-dependent text
    for entry in done:
        audio = cache.audio_file(entry)
        assert audio is not None and sf.info(str(audio)).frames > 0
    finish = _cli(["precache", str(LOOP)], tmp_path, env)
    assert finish.returncode == 0, finish.stderr
    counts = re.search(r"(\d+) already cached, (\d+) synthesized", finish.stdout)
    assert counts, finish.stdout
    cached, made = (int(g) for g in counts.groups())
    assert cached == len(done) and made >= 10 - len(done)
    assert _cli(["precache", "--check", str(LOOP)], tmp_path, env).returncode == 0  # every narration is there
    # What the killed run made is kept; at most one of it (a text built from a placeholder duration) is
    # no longer asked for, and `cache prune` would remove it.
    assert 10 <= len(cache.entries()) <= 11


def test_precache_reports_a_broken_scene(tmp_path: Path) -> None:
    scene = tmp_path / "broken.py"
    scene.write_text("from manim import Scene\nclass Broken(Scene):\n    def construct(self):\n        1 / 0\n")
    result = CliRunner().invoke(main, ["precache", str(scene)])
    assert result.exit_code == collect.SCENE_FAILED == 3, result.output
    assert "ZeroDivisionError" in result.output and "Traceback (most" not in result.output


def test_cache_list_info_prune_clear(service_cache: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["cache", "list", "--cache-dir", str(service_cache)])
    assert listed.exit_code == 0 and "Kept." in listed.output and "Dropped." in listed.output
    assert "foreign" in listed.output
    info = runner.invoke(main, ["cache", "info", "--cache-dir", str(service_cache)])
    assert "2 ok" in info.output and "1 foreign" in info.output

    scene = tmp_path / "keeps.py"
    scene.write_text(
        "import os\nfrom manim_voiceover import VoiceoverScene\nfrom manim_qwen_mlx import QwenMLXService\n"
        "class Keeps(VoiceoverScene):\n    def construct(self):\n"
        f"        self.set_speech_service(QwenMLXService(model={os.environ['TEST_KEEP_MODEL']!r}, "
        f"ref_audio={os.environ['TEST_KEEP_REF']!r}, max_tokens={FRAMES}, cache_dir={str(service_cache)!r}))\n"
        "        with self.voiceover(text='Kept.') as t:\n            self.wait(t.duration)\n"
    )
    dropped_audio = [
        e["original_audio"] for e in NarrationCache(service_cache).entries() if e["input_text"] == "Dropped."
    ]
    # Made outside any scene (as before entries recorded their scene file): kept, with a hint.
    kept = runner.invoke(main, ["cache", "prune", "--cache-dir", str(service_cache), str(scene)])
    assert kept.exit_code == 0, kept.output
    assert "0 entries removed" in kept.output and "kept 1 unused entry made before" in kept.output
    assert "--all-unused" in kept.output
    dry = runner.invoke(
        main, ["cache", "prune", "--all-unused", "--dry-run", "--cache-dir", str(service_cache), str(scene)]
    )
    assert "would remove  'Dropped.'" in dry.output and len(NarrationCache(service_cache).entries()) == 3
    pruned = runner.invoke(main, ["cache", "prune", "--all-unused", "--cache-dir", str(service_cache), str(scene)])
    assert "1 entry removed" in pruned.output
    texts = [e["input_text"] for e in NarrationCache(service_cache).entries()]
    assert sorted(texts) == ["Kept.", "hello"] and not (service_cache / dropped_audio[0]).exists()

    refused = runner.invoke(main, ["cache", "clear", "--cache-dir", str(service_cache)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    cleared = runner.invoke(main, ["cache", "clear", "--yes", "--cache-dir", str(service_cache)])
    assert "1 entry removed" in cleared.output
    assert [e["input_text"] for e in NarrationCache(service_cache).entries()] == ["hello"]  # foreign kept


@pytest.fixture
def service_cache(tiny_model: Path, reference: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from manim_qwen_mlx import QwenMLXService

    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=FRAMES, cache_dir=cache_dir)
    svc._wrap_generate_from_text("Kept.")
    svc._wrap_generate_from_text("Dropped.")
    index = cache_dir / "cache.json"
    entries = json.loads(index.read_text())
    entries.append(
        {"input_text": "hello", "input_data": {"input_text": "hello", "service": "gtts"}, "original_audio": "hello.mp3"}
    )
    index.write_text(json.dumps(entries))
    monkeypatch.setenv("TEST_KEEP_MODEL", str(tiny_model))
    monkeypatch.setenv("TEST_KEEP_REF", str(reference))
    return cache_dir


PROJECT_SCENE = """
import os
from manim_voiceover import VoiceoverScene
from manim_qwen_mlx import QwenMLXService
class {name}(VoiceoverScene):
    def construct(self):
        self.set_speech_service(QwenMLXService(model=os.environ["TEST_MODEL"], ref_audio=os.environ["TEST_REF"],
                                               max_tokens={frames}, cache_dir=os.environ["TEST_CACHE"]))
        for text in {texts!r}:
            with self.voiceover(text=text) as t:
                self.wait(t.duration)
"""


def test_prune_removes_only_what_its_files_asked_for(scene_env: dict[str, str], tmp_path: Path) -> None:
    """Two scene files share one cache: pruning one keeps the other's narration, shared text included."""
    cache_dir = tmp_path / "shared-cache"
    env = {**scene_env, "TEST_CACHE": str(cache_dir)}
    files = {}
    for name, texts in {"Alpha": ["Alpha one.", "Alpha two.", "Shared."], "Beta": ["Beta.", "Shared."]}.items():
        files[name] = tmp_path / f"{name.lower()}.py"
        files[name].write_text(PROJECT_SCENE.format(name=name, frames=FRAMES, texts=texts))
        made = _cli(["precache", str(files[name])], tmp_path, env)
        assert made.returncode == 0, made.stdout + made.stderr
    cache = NarrationCache(cache_dir)
    shared = next(e for e in cache.entries() if e["input_text"] == "Shared.")
    assert sorted(owner["scene"] for owner in shared["used_by"]) == ["Alpha", "Beta"]

    files["Alpha"].write_text(PROJECT_SCENE.format(name="Alpha", frames=FRAMES, texts=["Alpha one."]))
    args = ["cache", "prune", "--cache-dir", str(cache_dir), str(files["Alpha"])]
    dry = _cli([*args, "--dry-run"], tmp_path, env)
    assert "would remove  'Alpha two.'" in dry.stdout and "1 entry would be removed" in dry.stdout, dry.stdout
    assert "kept 1 entry that these files no longer use and other scene files do" in dry.stdout
    assert len(cache.entries()) == 4
    pruned = _cli(args, tmp_path, env)
    assert pruned.returncode == 0 and "1 entry removed" in pruned.stdout, pruned.stdout + pruned.stderr
    left = {e["input_text"]: e for e in cache.entries()}
    assert sorted(left) == ["Alpha one.", "Beta.", "Shared."]
    assert [owner["scene"] for owner in left["Shared."]["used_by"]] == ["Beta"]  # Alpha no longer asks
    assert _cli(["precache", "--check", str(files["Beta"])], tmp_path, env).returncode == 0


def test_collecting_draws_no_frame_and_keeps_the_scene_clock(
    scene_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = tmp_path / "clock.py"
    scene.write_text(
        "import os\nfrom manim import Create, Square\nfrom manim_voiceover import VoiceoverScene\n"
        "from manim_qwen_mlx import QwenMLXService\n"
        "class Clock(VoiceoverScene):\n    def construct(self):\n"
        "        self.set_speech_service(QwenMLXService(model=os.environ['TEST_MODEL'], "
        "ref_audio=os.environ['TEST_REF']))\n"
        "        updates = []\n        square = Square().add_updater(lambda m, dt: updates.append(dt))\n"
        "        self.play(Create(square), run_time=2)\n        self.wait(1.5)\n"
        "        with self.voiceover(text=f'At {self.renderer.time:.1f} s after {len(updates)} updates.') as t:\n"
        "            self.wait(t.duration)\n"
    )
    for key, value in scene_env.items():
        monkeypatch.setenv(key, value)  # the dry run's subprocess inherits them
    found = collect.run_scenes(scene, cwd=tmp_path)
    (text,) = [r.narration.text for r in found.requests]
    said = re.fullmatch(r"At (\S+) s after (\d+) updates\.", text)
    assert said is not None and said[1] == "3.5", text  # the clock runs as in a render
    assert int(said[2]) < 2 * 15, text  # not one update per frame, even at -ql's 15 frames a second
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".mp4", ".mov", ".png", ".gif")]


def test_cache_commands_on_a_broken_index(tmp_path: Path) -> None:
    (tmp_path / "cache.json").write_text("{not json")
    result = CliRunner().invoke(main, ["cache", "info", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0 and "unreadable" in result.output


def test_say_writes_a_wav(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "audition" / "hello.wav"
    result = CliRunner().invoke(
        main,
        [
            "say",
            "Hello there.",
            "-o",
            str(out),
            "--model",
            str(tiny_model),
            "--ref-audio",
            str(reference),
            "--max-tokens",
            str(FRAMES),
        ],
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and sf.info(str(out)).samplerate == 24_000
    assert np.abs(sf.read(str(out))[0]).max() > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["say", "  "], "Nothing to say"),
        (["say", "Hi.", "--ref-audio", "missing.wav", "--ref-text", "Hi."], "does not exist"),
        (["say", "Hi.", "--voice", "ryan", "--model", "{model}"], "preset speaker"),
        (["say", "Hi.", "--instruct", "Calm.", "--model", "org/not-downloaded"], "not downloaded"),
        (["say", "Hi.", "--temperature", "-1", "--instruct", "x", "--model", "{model}"], "temperature"),
        (["download", "org/not-downloaded"], "not downloaded"),
    ],
)
def test_command_errors_are_one_line(tiny_model: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [a.replace("{model}", str(tiny_model)) for a in args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_doctor(tiny_model: Path, tiny_aligner: Path, tiny_asr: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["doctor", "--model", str(tiny_model), "--aligner", str(tiny_aligner),
                                   "--asr", str(tiny_asr)])
    assert ok.exit_code == 0, ok.output
    assert "mlx-audio" in ok.output and "base at" in ok.output
    assert re.search(r"\[ok  \] aligner .* at ", ok.output) and re.search(r"\[ok  \] recognizer .* at ", ok.output)
    # Optional companions that are not here warn, with what happens without them, and do not fail.
    without = CliRunner().invoke(main, ["doctor", "--model", str(tiny_model), "--aligner", str(tmp_path / "no"),
                                        "--asr", str(tmp_path / "none")])
    assert without.exit_code == 0, without.output
    assert "[warn] aligner" in without.output and "estimated" in without.output
    assert "[warn] recognizer" in without.output
    missing = CliRunner().invoke(main, ["doctor", "--model", "/no/such/model"])
    assert missing.exit_code == 1 and "FAIL" in missing.output


def test_precache_in_batches(scene_env: dict[str, str], tmp_path: Path) -> None:
    result = _cli(["precache", "--batch-size", "3", "--progress", str(LOOP)], tmp_path, scene_env)
    assert result.returncode == 0, result.stderr
    assert "0 failed" in result.stdout and "x real time" in result.stdout
    # The bar counts sentences, and says how many frames and narrations are done.
    done = re.findall(r"(\d+)/(\d+) \[[^\]]*sentence/?s?, (\d+) frames, (\d+) narration", result.stderr)
    assert done and done[-1][0] == done[-1][1] and int(done[-1][2]) > 0, result.stderr
    assert _cli(["precache", "--check", str(LOOP)], tmp_path, scene_env).returncode == 0
    entries = NarrationCache(tmp_path / "media" / "voiceovers").entries()
    assert len(entries) == 5 and all(e["duration"] > 0 for e in entries)


def test_precache_keeps_each_failure_typed(reference: Path, tmp_path: Path) -> None:
    """A model that cannot load fails its narrations with its own error (not a plain QwenMLXError), and is
    not tried again for the next group."""
    nowhere = ModelRef.resolve(tmp_path / "no")
    said = Narration("Hi.", "Hi.", Voice.from_options(reference), SynthesisSettings(), nowhere)
    request = collect.Request(said, tmp_path / "voiceovers", "key", cached=False)
    summary, broken = precache.PrecacheSummary(), {}
    list(precache._synthesize([request], summary, set(), broken, 1))
    list(precache._synthesize([replace(request, key="other")], summary, set(), broken, 1))
    assert [type(error) for _, error in summary.failed] == [ModelNotAvailableError, ModelNotAvailableError]
    assert summary.failed[0][1] is broken[str(said.model)] is summary.failed[1][1]


def test_precache_help_comes_from_the_options_table() -> None:
    shown = " ".join(CliRunner().invoke(main, ["precache", "--help"], terminal_width=400).output.split())
    assert " ".join(BY_NAME["verify"].help.split()) in shown
    assert BATCH_SIZE_ENV in shown


@pytest.mark.parametrize(
    "body, frame, cause",
    [
        ("self.add(Circle())\n        1 / 0", "1 / 0", "ZeroDivisionError: division by zero"),
        # An undefined command fails with LaTeX installed (its error) or without it (latex not found). (An
        # unclosed brace does not: manim's wrapping closes it.)
        ('self.add(MathTex(r"\\notacommand x"))', 'MathTex(r"\\notacommand x")', "latex"),
    ],
    ids=["exception in construct", "LaTeX failure"],
)
def test_a_failing_scene_shows_its_own_frame_and_cause(tmp_path: Path, body: str, frame: str, cause: str) -> None:
    scene = tmp_path / "lesson.py"
    scene.write_text(f"from manim import *\n\n\nclass Lesson(Scene):\n    def construct(self):\n        {body}\n")
    result = _cli(["precache", str(scene)], tmp_path, {})
    assert result.returncode == collect.SCENE_FAILED
    shown = result.stdout + result.stderr
    line = 6 + body.count("\n")  # the failing line: the body's last
    assert re.search(rf'lesson\.py(:|", line ){line}\b', shown) and frame in shown  # the user's line, not manim's
    assert cause.lower() in shown.lower()
    if "MathTex" in body and shutil.which("latex"):
        assert "Undefined control sequence." in shown  # LaTeX's own words, wrapped onto manim's next line
    elif "MathTex" in body:
        assert "`latex` is not installed" in shown and "run precache again" in shown
    logged = re.search(r"the whole log: (\S+\.log)\)", shown)
    assert logged is not None, shown
    assert "Manim Community" in Path(logged.group(1)).read_text()  # manim's own text, kept whole


def _gaps_scene(folder: Path, subcaptions: bool) -> Path:
    scene = folder / "gaps.py"
    scene.write_text(
        "import os\n"
        "from manim_voiceover import VoiceoverScene\n"
        "from manim_qwen_mlx import QwenMLXService\n\n\n"
        "class Gaps(VoiceoverScene):\n"
        "    def construct(self):\n"
        "        self.set_speech_service(QwenMLXService(model=os.environ['TEST_MODEL'], "
        "ref_audio=os.environ['TEST_REF'], max_tokens=int(os.environ['TEST_FRAMES'])), "
        f"create_subcaption={subcaptions})\n"
        "        for text in ['First words.', '', \"<bookmark mark='alone'/>\", 'Last words.']:\n"
        "            with self.voiceover(text=text) as tracker:\n"
        "                self.wait(tracker.duration)\n"
    )
    return scene


def test_an_error_keeps_the_lines_its_message_wraps_onto() -> None:
    log = (
        "Manim Community v0.22.0\n"
        "[12/02/26 19:31:50] ERROR    LaTeX compilation error:    tex_file_writing.py:320\n"
        "                             Undefined control sequence.                        \n"
        "                    INFO     Writing x to media/Tex/1.tex  tex_file_writing.py:110\n"
        "│ /home/me/lesson.py:10 in construct │\n"
        "ValueError: latex error converting to dvi.\n"
    )
    shown = collect.failure_excerpt(log, Path("lesson.py")).splitlines()
    assert shown[:3] == ["│ /home/me/lesson.py:10 in construct │", "ValueError: latex error converting to dvi.",
                         "manim logged:"]  # the user's frame and the exception first
    shown = shown[3:]
    assert [line.strip() for line in shown[:2]] == [
        "[12/02/26 19:31:50] ERROR    LaTeX compilation error:    tex_file_writing.py:320",
        "Undefined control sequence.",
    ]
    assert "Writing" not in "\n".join(shown[:3])  # the next record is not part of the message


def test_missing_tex_tools_get_a_hint_and_other_failures_none() -> None:
    missing = "FileNotFoundError: [Errno 2] No such file or directory: 'dvisvgm'\n"
    assert "`dvisvgm` is not installed" in collect.missing_tool_hint(missing)
    assert collect.missing_tool_hint("FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'\n") == ""


def test_an_unspeakable_narration_is_reported_and_the_rest_go_on(scene_env: dict[str, str], tmp_path: Path) -> None:
    scene = _gaps_scene(tmp_path, subcaptions=False)
    check = _cli(["precache", "--check", str(scene)], tmp_path, scene_env)
    assert check.returncode == 1
    assert "2 narration(s) missing, 2 that cannot be spoken" in check.stdout
    assert check.stdout.count("cannot be spoken  ") == 2 and "Nothing to say" in check.stdout
    run = _cli(["precache", str(scene)], tmp_path, scene_env)
    assert run.returncode == 1  # at the end, after the others were made
    assert "4 narration(s): 0 already cached, 2 synthesized" in run.stdout and "2 failed" in run.stdout
    assert "Error: Nothing to say in ''" in run.stderr
    assert len(NarrationCache(tmp_path / "media" / "voiceovers").entries()) == 2


def test_an_empty_narration_under_subcaptions_is_named(scene_env: dict[str, str], tmp_path: Path) -> None:
    """manim-voiceover's subcaptions divide by the text's length, so that scene stops; the error says why."""
    run = _cli(["precache", "--check", str(_gaps_scene(tmp_path, subcaptions=True))], tmp_path, scene_env)
    assert run.returncode == collect.SCENE_FAILED
    assert "It stopped after a narration that cannot be spoken: Nothing to say in ''" in run.stdout + run.stderr
