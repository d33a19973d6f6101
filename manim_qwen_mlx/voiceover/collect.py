"""Collecting mode: run the user's scenes as ``manim render --dry_run`` does and record every narration.

The scenes' own code decides the texts, voices and settings (f-strings, loops), so what is collected
is exactly what a render will ask for, keyed by the same code.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from manim_qwen_mlx.cache.owners import Owner
from manim_qwen_mlx.core.defaults import COLLECT_ENV
from manim_qwen_mlx.core.errors import QwenMLXError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import slug
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis.quality import Thresholds
from manim_qwen_mlx.synthesis.takes import Checking
from manim_qwen_mlx.voiceover.narration import BookmarkOptions, Narration

SCENE_FAILED = 3  # precache's exit status when a scene fails: apart from 1, narration missing or failed


class SceneRunError(QwenMLXError):
    """The scene file failed while its narrations were being collected."""

    exit_code = SCENE_FAILED


@dataclass(frozen=True)
class Request:
    """One narration a scene asked for, where it goes, and whether it is there already."""

    narration: Narration
    cache_dir: Path
    key: str
    cached: bool  # audio, and word times where wanted, are in the cache
    estimated: bool = False  # cached, but its word times are estimated where aligned ones are wanted

    def to_json(self) -> str:
        raw = asdict(self)
        voice = raw["narration"]["voice"]
        voice["ref_audio"] = str(voice["ref_audio"]) if voice["ref_audio"] else None
        return json.dumps({**raw, "cache_dir": str(self.cache_dir)})

    @classmethod
    def from_json(cls, line: str) -> Request:
        raw: dict[str, Any] = json.loads(line)
        said = raw["narration"]
        voice = said["voice"]
        voice["ref_audio"] = Path(voice["ref_audio"]) if voice["ref_audio"] else None
        narration = Narration(
            **{
                **said,
                "voice": Voice(**voice),
                "settings": SynthesisSettings(**said["settings"]),
                "model": ModelRef(**said["model"]),
                "bookmarks": _bookmarks(said.get("bookmarks")),
                "checking": _checking(said.get("checking")),
                "owner": Owner(**said["owner"]) if said.get("owner") else None,
            }
        )
        return cls(narration, Path(raw["cache_dir"]), raw["key"], raw["cached"], raw.get("estimated", False))

    # What precache groups and reports by.
    @property
    def spoken(self) -> str:
        return self.narration.spoken

    @property
    def model(self) -> ModelRef:
        return self.narration.model


@dataclass(frozen=True)
class Problem:
    """A narration a scene asked for that cannot be spoken (empty, a broken bookmark): reported by
    precache, which goes on with the rest; the scene got a short silence and ran on."""

    text: str
    message: str


@dataclass(frozen=True)
class Collected:
    """What one dry run of the scenes asked for."""

    requests: list[Request]
    problems: list[Problem]


def log_path() -> Path | None:
    """Where this process records narrations, when a precache run asked it to collect."""
    value = os.environ.get(COLLECT_ENV)
    return Path(value) if value else None


def record(request: Request | Problem) -> None:
    target = log_path()
    assert target is not None
    line = request.to_json() if isinstance(request, Request) else json.dumps({"problem": asdict(request)})
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


# A dry run (nothing written) at the lowest quality, every animation skipped as `-n` skips those before
# its start: each play still ends in its final state and advances the scene's clock by its run time, so
# the scene's code runs as in a render, with no frame drawn.
COLLECT_FLAGS = ("--dry_run", "-ql", "--from_animation_number", str(10**9), "--progress_bar", "none")


def run_scenes(scene_file: Path, scenes: tuple[str, ...] = (), cwd: Path | None = None) -> Collected:
    """Every narration the scenes ask for (and those that cannot be spoken), from one dry run of
    ``manim render`` in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="manim-qwen-mlx-collect-") as folder:
        log = Path(folder) / "requests.jsonl"
        command = [sys.executable, "-m", "manim", "render", *COLLECT_FLAGS]
        command += [str(scene_file), *scenes] if scenes else ["-a", str(scene_file)]
        env = {**os.environ, COLLECT_ENV: str(log)}
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        problems = [Problem(**json.loads(line)["problem"]) for line in lines if line.startswith('{"problem"')]
        requests = [Request.from_json(line) for line in lines if line and not line.startswith('{"problem"')]
        if result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}"
            kept = _keep_log(scene_file, f"$ {' '.join(command)}\n\n{output}")
            # manim-voiceover's own subcaptions divide by an empty text's length: name the narration first.
            stopped = "".join(f"\nIt stopped after a narration that cannot be spoken: {p.message}" for p in problems)
            raise SceneRunError(
                f"Running {scene_file} failed while collecting its narrations"
                f"{f' (the whole log: {kept})' if kept else ''}:{stopped}\n{failure_excerpt(output, scene_file)}"
                f"{missing_tool_hint(output)}"
            )
        return Collected(requests, problems)


ERROR_LINE = re.compile(r"\bERROR\b|LaTeX Error|^\s*! ")  # manim's own error messages, LaTeX's
EXCERPT_LINES = 45  # a longer traceback keeps its first frames (the scene's) and its last lines (the cause)
LOG_RECORD = re.compile(r"^(\[[^\]]*\])?\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")  # rich's level column
CONTINUATION_LINES, MAX_ERROR_LINES = 6, 16


def failure_excerpt(output: str, scene_file: Path) -> str:
    """What to show of a failed dry run: the traceback from the scene file's first frame down to the root
    cause (plain Python frames, or manim's rich boxes where the failure came before our plugin loaded),
    then what manim and LaTeX logged as errors, which may be another import's noise or the cause's
    details."""
    lines = output.rstrip().splitlines()
    errors = _error_lines(lines)
    first = None
    for name in (re.escape(str(scene_file.resolve())), rf"(?<![\w.-]){re.escape(scene_file.name)}"):
        frame = re.compile(rf"{name}(:\d+\b|\", line \d+)")  # the whole path: manim has a scene.py too
        first = next((index for index, line in enumerate(lines) if frame.search(line)), None)
        if first is not None:
            break
    trace = lines[first:] if first is not None else lines[-15:]
    if len(trace) > EXCERPT_LINES:
        trace = [*trace[:12], "  ...", *trace[-(EXCERPT_LINES - 13) :]]
    return "\n".join([*trace, *(["manim logged:", *errors] if errors else [])])


MISSING_TEX = re.compile(r"No such file or directory: '(latex|xelatex|lualatex|dvisvgm)'")


def missing_tool_hint(output: str) -> str:
    """What to do when the scene stopped because manim's TeX tools are not installed (a new machine's
    first MathTex), else nothing."""
    found = MISSING_TEX.search(output)
    if found is None:
        return ""
    return (f"\n`{found.group(1)}` is not installed: manim needs a LaTeX distribution for Tex and MathTex "
            "(TeX Live with dvisvgm on Linux, MacTeX on macOS; manim's installation guide lists the packages). "
            "Install it, then run precache again: nothing was synthesized or lost.")


def _error_lines(lines: list[str]) -> list[str]:
    """The error lines, each with the lines rich wrapped its message onto (indented, up to a blank line or
    the next record): "LaTeX compilation error:" is followed by what the error is."""
    found: list[str] = []
    for index, line in enumerate(lines):
        if not ERROR_LINE.search(line):
            continue
        found.append(line.rstrip())
        for follow in lines[index + 1 : index + 1 + CONTINUATION_LINES]:
            if not follow.strip() or not follow.startswith(" " * 20) or LOG_RECORD.match(follow):
                break
            found.append(follow.rstrip())
        if len(found) >= MAX_ERROR_LINES:
            break
    return found[:MAX_ERROR_LINES]


def _keep_log(scene_file: Path, output: str) -> Path | None:
    """The dry run's whole output, in a file the error names (None where nothing can be written): one per
    user and scene file, so two projects' ``scene.py`` or two users never overwrite each other's."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(str(scene_file.resolve()).encode()).hexdigest()[:10]
    target = Path(tempfile.gettempdir()) / f"manim-qwen-mlx-{slug(user)}" / f"collect-{scene_file.stem}-{digest}.log"
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.write_text(output, encoding="utf-8")
    except OSError:
        return None
    return target


def _bookmarks(raw: dict[str, Any] | None) -> BookmarkOptions | None:
    if raw is None:
        return None
    return BookmarkOptions(raw["mode"], ModelRef(**raw["aligner"]), raw["allow_download"])


def _checking(raw: dict[str, Any] | None) -> Checking | None:
    if raw is None:
        return None
    recognizer = ModelRef(**raw["asr"]) if raw.get("asr") else None
    return Checking(Thresholds(**raw["thresholds"]), raw["max_takes"], raw["pace"], raw["verify"], recognizer)
