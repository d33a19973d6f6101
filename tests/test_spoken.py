"""Words as they should be spoken: the user's pronunciations and the math table make the text the model
says; subcaptions keep the written text, bookmarks land on the written words, and a changed pronunciation
synthesizes again exactly the narrations that contain it."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from manim_voiceover.tracker import TimeInterpolator

from manim_qwen_mlx import QwenMLXService, SettingsError
from manim_qwen_mlx.cli import main
from manim_qwen_mlx.core import spoken
from manim_qwen_mlx.core.text import remove_bookmarks


@pytest.mark.parametrize(
    "written, said",
    [
        ("The area is πr², so r ≤ 2.", "The area is pi r squared, so r less than or equal to 2."),
        ("x³ ≠ ∞, ±1 × 2 ÷ 3, √2, n → ∞", "x cubed not equal to infinity, plus or minus 1 times 2 divided by 3, "
         "the square root of 2, n to infinity"),
        ("Then $\\frac{a}{b}$ and $x^2 + y_i = z^{10}$.", "Then a over b and x squared plus y sub i equals z to the "
         "power of 10."),
        ("So $\\sqrt{x} \\le \\alpha$ holds.", "So the square root of x less than or equal to alpha holds."),
    ],
)
def test_the_math_table_speaks_common_math(written: str, said: str) -> None:
    assert spoken.speak(written).text == said


@pytest.mark.parametrize(
    "written",
    ["It costs $5 and $6.", "Keep $\\unknown{x}$ as written.", "Keep $x^$ too.", "No math here."],
)
def test_what_the_table_does_not_know_stays_as_written(written: str) -> None:
    assert spoken.speak(written).text == written


def test_pronunciations_are_whole_words_with_smart_case_and_win_over_the_table() -> None:
    words = {"Euler": "Oiler", "gif": "jif", "θ": "theta angle"}
    said = spoken.speak("Euler's euler GIF gif gifs θ π", words).text
    assert said == "Oiler's euler jif jif gifs theta angle pi"  # "Euler" its case only; "gif" any case
    assert spoken.speak("x² θ", words, math=False).text == "x² theta angle"  # the table off, the user's kept


def test_each_spoken_character_comes_from_a_written_one() -> None:
    written = "A x² and Euler grow."
    form = spoken.speak(written, {"Euler": "Leonhard Oiler"})
    assert len(form.origin) == len(form.text) + 1 and form.origin[-1] == len(written)
    assert list(form.origin) == sorted(form.origin)  # in order
    at = {word: form.origin[form.text.index(word)] for word in ("squared", "Leonhard", "Oiler", "grow")}
    assert at["squared"] == written.index("²") and at["Leonhard"] == at["Oiler"] == written.index("Euler")
    assert at["grow"] == written.index("grow")


def test_a_project_file_is_read_and_a_bad_one_says_where(tmp_path: Path) -> None:
    assert spoken.read_pronunciations(tmp_path / "none.toml") == {}
    good = tmp_path / "pronunciations.toml"
    good.write_text('Euler = "Oiler"\n"x²" = "x squared"\n', encoding="utf-8")
    assert spoken.read_pronunciations(good) == {"Euler": "Oiler", "x²": "x squared"}
    good.write_text('Euler = "Oiler"\nLaTeX = lah-tek\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"pronunciations.toml cannot be read \(.*line 2.*\)\. Write one"):
        spoken.read_pronunciations(good)
    good.write_text('Euler = 3\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="'Euler' must each be given a non-empty text"):
        spoken.read_pronunciations(good)
    with pytest.raises(SettingsError, match="must be a dict of words"):
        spoken.checked(["Euler"])


def test_say_shows_what_will_be_spoken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pronunciations.toml").write_text('LaTeX = "lah-tek"\n', encoding="utf-8")
    shown = CliRunner().invoke(main, ["say", "--show-spoken", "LaTeX says $x^2$."])
    assert shown.exit_code == 0 and shown.output.strip() == "lah-tek says x squared."
    plain = CliRunner().invoke(main, ["say", "--show-spoken", "--no-math-speech", "LaTeX says $x^2$."])
    assert plain.output.strip() == "lah-tek says $x^2$."


def _entries(cache_dir: Path) -> list[dict]:
    return json.loads((cache_dir / "cache.json").read_text())


def test_bookmarks_land_on_the_written_words_and_subcaptions_show_them(
    tiny_model: Path, reference: Path, cache_dir: Path
) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=12, cache_dir=cache_dir,
                         bookmarks="estimate", pronunciations={"Euler": "Leonhard Oiler"})
    text = "First <bookmark mark='A'/>Euler, then <bookmark mark='B'/>$\\frac{a}{b}$ <bookmark mark='C'/>ends."
    data = svc._wrap_generate_from_text(text)
    assert data["input_text"] == text  # what the tracker and the subcaptions read
    stored = _entries(cache_dir)[0]["input_data"]["input_text"]
    assert stored == "First Leonhard Oiler, then a over b ends."  # what the model said, and the key names
    written = remove_bookmarks(text)
    offsets = [boundary["text_offset"] for boundary in data["word_boundaries"]]
    for word in ("Euler", "$\\frac", "ends"):
        assert written.index(word) in offsets  # every written token starts a boundary
    times = {}
    for mark in "ABC":
        before = remove_bookmarks(text.split(f"<bookmark mark='{mark}'/>")[0])
        times[mark] = TimeInterpolator(data["word_boundaries"]).interpolate(len(before))
    assert 0 < times["A"] < times["B"] < times["C"] < data["duration"]


def test_a_changed_pronunciation_synthesizes_again_only_what_contains_it(
    tiny_model: Path, reference: Path, cache_dir: Path
) -> None:
    texts = ["Euler found it.", "Then a circle grows."]

    def render(said: str) -> None:
        svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, cache_dir=cache_dir,
                             pronunciations={"Euler": said})
        for text in texts:
            svc._wrap_generate_from_text(text)

    render("Oiler")
    assert len(_entries(cache_dir)) == 2
    render("Oiler")
    assert len(_entries(cache_dir)) == 2  # nothing changed: all hits
    render("Oyler")
    said = sorted(entry["input_data"]["input_text"] for entry in _entries(cache_dir))
    assert said == ["Oiler found it.", "Oyler found it.", "Then a circle grows."]  # one new entry, the Euler one
