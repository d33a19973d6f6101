"""`manim-qwen-mlx review`: the page a person listens through, opened in a real headless browser."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli
from PIL import Image

from manim_qwen_mlx.cache import NarrationCache

LECTURE = REPO / "tests" / "scenes" / "lecture.py"
ARTEFACTS = REPO / "test-artifacts"  # kept after the run (git ignores it)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def page(tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path) -> Path:
    """The Summary scene pre-cached with --verify, then one narration's audio lost."""
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tiny_aligner)}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    assert run_cli(["precache", "--verify", str(LECTURE), "Summary"], tmp_path, env).returncode == 0
    cache = NarrationCache(tmp_path / "media" / "voiceovers")
    lost = next(e for e in cache.entries() if e["input_data"]["input_text"].startswith("That is"))
    audio = cache.audio_file(lost)
    assert audio is not None
    audio.unlink()
    target = tmp_path / "review.html"
    out = run_cli(["review", str(LECTURE), "Summary", "-o", str(target)], tmp_path, env)
    assert out.returncode == 0 and "2 narration(s), 1 flagged" in out.stdout, out.stdout + out.stderr
    return target


def test_page_lists_flagged_narration_first_with_scores_and_audio(page: Path) -> None:
    html = page.read_text()
    first, second = html.split("<section")[1:3]
    # Lost audio makes the entry a miss: the page says to pre-cache it again.
    assert 'class="flagged"' in first and "That is all." in first and "not synthesized yet" in first
    assert 'class="ok"' in second and "A square has 4 sides" in second
    assert "voice similarity" in second and "data:audio/flac;base64," in second and "<polygon" in second
    assert "bookmark times estimated" not in html  # aligned: the aligner was here
    assert "http" not in html.replace("http://www.w3.org", "")  # self-contained: nothing fetched


def test_page_marks_estimated_bookmark_times(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tmp_path / "none")}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    assert run_cli(["precache", str(LECTURE), "Summary"], tmp_path, env).returncode == 0
    target = tmp_path / "review.html"
    assert run_cli(["review", str(LECTURE), "Summary", "-o", str(target)], tmp_path, env).returncode == 0
    sections = target.read_text().split("<section")[1:]
    assert len(sections) == 2 and all("bookmark times estimated" in s for s in sections)  # both are bookmarked


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (scripts/test.sh installs it on Debian/Ubuntu)")
def test_page_in_a_headless_browser(page: Path) -> None:
    assert CHROMIUM is not None
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "2 narration(s), 1 flagged" in dom.stdout and dom.stdout.count("<audio") == 1
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "review.png"
    subprocess.run([*browser, "--window-size=900,700", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, env={**os.environ, "HOME": str(page.parent)}, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    colours = {tuple(int(c) for c in p) for p in pixels[:: max(1, len(pixels) // 200_000)]}
    assert (0xFF, 0xF5, 0xF5) in colours, "the flagged narration's red-tinted box is on screen"
    assert (0x4A, 0x7B, 0xD0) in colours, "the waveform is drawn"
    (ARTEFACTS / "review.json").write_text(json.dumps({"page": str(page), "screenshot": str(shot)}))


PROBE = """<!doctype html><html><body><script>
const player = new Audio("{src}");
player.preload = "auto";
player.addEventListener("loadedmetadata", () => document.body.setAttribute("data-duration", player.duration));
player.addEventListener("error", () => document.body.setAttribute("data-error", String(player.error.code)));
</script></body></html>"""


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (scripts/test.sh installs it on Debian/Ubuntu)")
def test_the_browser_decodes_the_embedded_audio(page: Path) -> None:
    """The page's audio, as embedded, plays in Chromium: it decodes to the cached clip's duration."""
    assert CHROMIUM is not None
    html = page.read_text()
    (src,) = re.findall(r'<audio controls preload="none" src="(data:audio/flac;base64,[^"]+)"', html)
    probe = page.with_name("probe.html")
    probe.write_text(PROBE.format(src=src))
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=10000"]
    dom = subprocess.run([*browser, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(page.parent)})
    decoded = re.search(r'data-duration="([0-9.]+)"', dom.stdout)
    assert decoded is not None, dom.stdout[-2000:] + dom.stderr[-2000:]
    cache = NarrationCache(page.parent / "media" / "voiceovers")
    (kept,) = [e for e in cache.entries() if (cache.audio_file(e) or Path("/none")).is_file()]
    assert abs(float(decoded[1]) - float(kept["duration"])) < 0.01


def test_embedded_audio_is_the_cached_clip_losslessly_in_half_the_bytes(tmp_path: Path) -> None:
    """On speech (the example voice, 16-bit as the cache writes it), FLAC is exact and about half a WAV."""
    import io

    import soundfile as sf

    from manim_qwen_mlx.cli.review_page import _flac, _read

    wav = REPO / "example_scenes" / "voices" / "espeak.wav"
    encoded = _flac(*_read(wav))
    decoded, rate = sf.read(io.BytesIO(encoded), dtype="int16")
    original, original_rate = sf.read(str(wav), dtype="int16")
    assert rate == original_rate and np.array_equal(decoded, original)
    assert len(encoded) < 0.6 * wav.stat().st_size


def test_the_spoken_form_shows_beside_the_written_where_they_differ() -> None:
    from manim_qwen_mlx.cli.review_page import Row, render

    differs = render("t", [Row("The area is πr².", None, None, "The area is pi r squared.")])
    assert "The area is πr²." in differs and "spoken: The area is pi r squared." in differs
    same = render("t", [Row("A circle grows.", None, None, "A circle grows.")])
    assert "spoken:" not in same


def test_a_draft_placeholder_is_marked() -> None:
    from manim_qwen_mlx.cli.review_page import Row, render

    marked = render("t", [Row("A circle.", None, None, "A circle.", drafted=True)])
    assert "not synthesized yet" in marked and "a draft placeholder, silence, stands in for it" in marked
    assert "draft placeholder" not in render("t", [Row("A circle.", None, None, "A circle.")])
