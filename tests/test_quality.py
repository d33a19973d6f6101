"""Checks of each take: word error rate for math narration, pacing, voice similarity, and takes that
retry failing ones. Retry logic runs on a fake synthesizer (named so: no synthesis is claimed there);
voice similarity and verification run on the tiny checkpoint."""

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli

from manim_qwen_mlx import QwenMLXService, TranscriptError
from manim_qwen_mlx.audio import load_reference
from manim_qwen_mlx.cache import NarrationCache
from manim_qwen_mlx.companions import asr
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.timing import Span
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import takes
from manim_qwen_mlx.synthesis.quality import Scores, Thresholds, normalize_words, pace, wer
from manim_qwen_mlx.synthesis.speech import Speech


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("It is 3.14.", "it is three point one four"),
        ("x squared", "x squared"),
        ("x² and r^2", "x squared and r squared"),
        ("The area is π r².", "the area is pi r squared"),
        ("e^x grows", "e to the x grows"),
        ("the 2nd and the 21st", "the second and the twenty first"),
        ("1,000 apples, 100% sure", "one thousand apples one hundred percent sure"),
        ("Don't stop.", "dont stop"),
        ("圆的面积", "圆 的 面 积"),
    ],
)
def test_normalisation_for_math_narration(written: str, words: str) -> None:
    assert normalize_words(written) == words.split()


def test_word_error_rate() -> None:
    assert wer("The area is π r squared.", "the area is pi r squared") == 0.0
    assert wer("It is 3.14.", "it is three point one four") == 0.0
    assert wer("a b c d", "a x c") == pytest.approx(0.5)  # one substitution, one deletion
    assert wer("a b", "a b c d") == pytest.approx(1.0)  # two insertions
    assert wer("", "") == 0.0


def test_pace_and_thresholds() -> None:
    assert pace("abcdefghij" * 3, 2.0, 15.0) == pytest.approx(1.0)  # 30 units in 2 s at a usual 15/s
    limits = Thresholds(pace_tolerance=2.0, min_similarity=0.5)
    assert limits.failures(Scores(pace=1.2, similarity=0.8)) == []
    assert limits.failures(Scores(pace=2.5)) == ["pace 2.50x the voice's usual rate"]
    assert limits.failures(Scores(pace=0.3, similarity=0.2)) == [
        "pace 0.30x the voice's usual rate",
        "voice similarity 0.20 < 0.5",
    ]
    assert limits.failures(Scores(pace=None)) == []  # not scored: a deliberate max_tokens cut


class FakeTakes:
    """Makes the takes a fake (no model): the audio length per take is chosen by the test."""

    def __init__(self, seconds_by_take: list[float]) -> None:
        self.seconds, self.seeds = seconds_by_take, []

    def __call__(self, text: str, seed: int) -> Speech:
        self.seeds.append(seed)
        samples = np.full(round(self.seconds[len(self.seeds) - 1] * 24_000), 0.1, dtype=np.float32)
        return Speech(samples, [Span(0, len(text), 0, samples.size)])


def _judged(fake: FakeTakes, settings: SynthesisSettings, checking: takes.Checking) -> Speech:
    """Every take ``takes.Takes`` asks for, as ``engine.synthesize_many`` makes them, then its choice."""
    judged = takes.Takes(TEXT, Voice(speaker="ryan"), settings, ModelRef.resolve("org/m"), False, checking)
    while judged.judge(fake(TEXT, judged.seed)):
        pass
    return judged.best()


CHECKING = takes.Checking(Thresholds(pace_tolerance=2.0, min_similarity=0.5), max_takes=3, pace=True, verify=False)
TEXT = "A sentence of exactly forty-two spoken units, or so."


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTakes:
    monkeypatch.setattr(takes, "usual_rate", lambda voice: 14.0)
    return FakeTakes([])


def _best(fake: FakeTakes, monkeypatch: pytest.MonkeyPatch, seconds: list[float]) -> tuple[Speech, dict]:
    fake.seconds = seconds
    speech = _judged(fake, SynthesisSettings(seed=10), CHECKING)
    assert speech.checks is not None
    return speech, speech.checks.to_json()  # as the cache entry stores it


def test_a_failing_first_take_is_made_again_with_a_derived_seed(
    fake: FakeTakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    speech, record = _best(fake, monkeypatch, [0.5, 3.0])  # 0.5 s: truncated (pace ~6x); 3 s: natural
    assert fake.seeds == [10, 10 + takes.TAKE_SEED_STEP]
    assert record["chosen"] == 1 and record["passed"] and len(record["takes"]) == 2
    assert record["takes"][0]["failures"] and not record["takes"][1]["failures"]
    assert speech.samples.size == 3 * 24_000


def test_a_rambling_take_is_caught_by_pacing_without_any_model(
    fake: FakeTakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, record = _best(fake, monkeypatch, [30.0, 40.0, 9.0])  # a runaway, another, then still slow
    assert len(fake.seeds) == 3 and not record["passed"]
    assert record["chosen"] == 2  # the least bad is kept, and said to fail
    assert all(take["failures"] for take in record["takes"])


class FakeRecognizer:
    """Stands in for a speech recognizer: hears what the test says, take by take."""

    def __init__(self, heard: list[str]) -> None:
        self.heard = heard

    def __call__(self, model: object, samples: object, rate: int = 24_000, expected: str = "") -> str:
        return self.heard.pop(0)


def test_a_take_the_recognizer_mishears_is_made_again(fake: FakeTakes, monkeypatch: pytest.MonkeyPatch) -> None:
    checking = takes.Checking(Thresholds(2.0, 0.0, 0.3), 3, pace=True, verify=True, asr=ModelRef.resolve("org/asr"))
    monkeypatch.setattr(takes, "voice_similarity", lambda *args: None)
    monkeypatch.setattr(asr, "load_or_warn", lambda ref, allow: object())
    monkeypatch.setattr(asr, "transcribe", FakeRecognizer(["something else entirely", TEXT.lower()]))
    fake.seconds = [3.0, 3.0]
    checks = _judged(fake, SynthesisSettings(), checking).checks
    assert checks is not None
    record = checks.to_json()
    first, second = record["takes"]
    assert first["wer"] > 0.3 and "word error rate" in first["failures"][0] and first["heard"]
    assert second["wer"] == 0.0 and record["chosen"] == 1 and record["passed"]


def test_the_tiny_recognizer_runs_through_mlx_audios_loader(tiny_model: Path, tiny_asr: Path, reference: Path,
                                                            tmp_path: Path) -> None:
    svc = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, verify=True, asr=str(tiny_asr),
                         min_voice_similarity=0.0, max_wer=1.0, cache_dir=tmp_path / "c")
    take = svc._wrap_generate_from_text("A circle.")["checks"]["takes"][0]
    assert isinstance(take["heard"], str) and 0.0 <= take["wer"] <= 1.0  # random weights hear noise


def test_voice_similarity_of_a_clip_with_itself(tiny_model: Path, reference: Path) -> None:
    voice = Voice.from_options(reference)
    same = takes.voice_similarity(voice, load_reference(reference), ModelRef.resolve(tiny_model))
    noise = np.random.default_rng(0).standard_normal(48_000).astype(np.float32) * 0.1
    other = takes.voice_similarity(voice, noise, ModelRef.resolve(tiny_model))
    assert same == pytest.approx(1.0, abs=1e-5) and other is not None and other < same
    assert takes.voice_similarity(Voice(speaker="ryan"), noise, ModelRef.resolve(tiny_model)) is None


def test_service_records_checks_and_can_turn_them_off(tiny_model: Path, reference: Path, tmp_path: Path) -> None:
    verified = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, verify=True,
                              min_voice_similarity=0.0, cache_dir=tmp_path / "a")
    checks = verified._wrap_generate_from_text("A circle.")["checks"]
    take = checks["takes"][0]
    assert checks["verified"] and checks["passed"] and take["pace"] is None  # max_tokens: a deliberate cut
    assert -1.0 <= take["similarity"] <= 1.0
    plain = QwenMLXService(model=tiny_model, ref_audio=reference, max_tokens=6, checks=False, cache_dir=tmp_path / "b")
    assert "checks" not in plain._wrap_generate_from_text("A circle.")


def test_precache_verify_scores_every_take(
    tiny_model: Path, tiny_aligner: Path, reference: Path, tmp_path: Path
) -> None:
    env = {"TEST_MODEL": str(tiny_model), "TEST_REF": str(reference), "TEST_ALIGNER": str(tiny_aligner)}
    env["TEST_REPORT"] = str(tmp_path / "report.jsonl")
    out = run_cli(["precache", "--verify", str(REPO / "tests" / "scenes" / "lecture.py"), "Summary"], tmp_path, env)
    assert out.returncode == 0, out.stdout + out.stderr
    for entry in NarrationCache(tmp_path / "media" / "voiceovers").entries():
        take = entry["checks"]["takes"][entry["checks"]["chosen"]]
        assert entry["checks"]["verified"] and isinstance(take["similarity"], float)


def _clip_without_transcript(reference: Path, tmp_path: Path) -> Path:
    clip = tmp_path / "voices" / "untold.wav"
    clip.parent.mkdir()
    clip.write_bytes(reference.read_bytes())
    return clip


def test_a_missing_transcript_is_written_by_the_recognizer(
    tiny_model: Path, tiny_asr: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clip = _clip_without_transcript(reference, tmp_path)
    monkeypatch.setattr(asr, "transcribe", FakeRecognizer(["The quick brown fox."]))  # the tiny one hears noise
    with caplog.at_level("WARNING", logger="manim.qwen_mlx"):
        svc = QwenMLXService(model=tiny_model, ref_audio=clip, asr=str(tiny_asr), cache_dir=tmp_path / "c")
    assert clip.with_suffix(".txt").read_text() == "The quick brown fox.\n"
    assert svc.voice.ref_text == "The quick brown fox." and "Read it and correct it" in caplog.text
    QwenMLXService(model=tiny_model, ref_audio=clip, asr="/no/recognizer", cache_dir=tmp_path / "c")  # reads it now


def test_a_missing_transcript_without_a_recognizer_says_what_to_do(
    tiny_model: Path, tiny_asr: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _clip_without_transcript(reference, tmp_path)
    with pytest.raises(TranscriptError, match=r"no speech recognizer to write one .* pass ref_text="):
        QwenMLXService(model=tiny_model, ref_audio=clip, asr=str(tmp_path / "absent"))
    monkeypatch.setattr(asr, "transcribe", FakeRecognizer([""]))
    with pytest.raises(TranscriptError, match="heard nothing"):
        QwenMLXService(model=tiny_model, ref_audio=clip, asr=str(tiny_asr))
    assert not clip.with_suffix(".txt").exists()
