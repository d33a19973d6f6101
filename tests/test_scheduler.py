"""Continuous batching: a row's codes depend on its own inputs only, never on what shares its batch."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import one_row
import pytest
import soundfile as sf
from conftest import EXAMPLE_VOICE

from manim_qwen_mlx import SynthesisError, audio
from manim_qwen_mlx.core.defaults import TAKE_SEED_STEP
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import Sampling, SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import engine, prompt, scheduler, sentence, takes
from manim_qwen_mlx.synthesis.quality import Thresholds

GREEDY = Sampling(0.0, 0, 1.0, 1.05)
SAMPLED = Sampling(0.9, 50, 0.95, 1.05)
TEXTS = ["A circle grows slowly on the screen.", "Then a square.", "And at last a triangle, drawn edge by edge."]


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_qwen3_tts import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("models") / "tiny-deep", layers=3, predictor_hidden=16)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another voice: the first two seconds of the example clip, with its own transcript."""
    data, rate = sf.read(EXAMPLE_VOICE, dtype="float32")
    clip = tmp_path_factory.mktemp("voices") / "short.wav"
    sf.write(clip, data[: 2 * rate], rate)
    clip.with_suffix(".txt").write_text("The quick brown.")
    return clip


def _voices(model: Any, short_clip: Path) -> list[prompt.VoicePrompt]:
    made = []
    for clip in (EXAMPLE_VOICE, short_clip):
        voice = Voice.from_options(clip)
        assert voice.ref_audio is not None
        made.append(sentence.voice_prompt(model, "clone", audio.load_reference(voice.ref_audio), voice.ref_text))
    return made


def _jobs(model: Any, voices: list[prompt.VoicePrompt], streaming: bool, sampling: Sampling,
          frames: list[int]) -> list[scheduler.Job]:
    """Rows of different prompt lengths, voices and frame ceilings."""
    jobs = []
    for index, (text, ceiling) in enumerate(zip(TEXTS * 2, frames, strict=False)):
        built = prompt.build(model, text, voices[index % 2], "auto", streaming)
        jobs.append(scheduler.Job(lambda built=built: built, sampling, sampling, ceiling, 100 + index))
    return jobs


def _codes(model: Any, jobs: list[scheduler.Job], batch_size: int) -> dict[int, np.ndarray]:
    return {done.tag: np.array(done.codes.codes) for done in one_row.scheduled(model, enumerate(jobs), batch_size)}


@pytest.mark.parametrize("streaming", [False, True], ids=["non-streaming", "streaming"])
@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
@pytest.mark.parametrize("which", ["tiny_model", "deep"])
def test_batched_rows_give_the_codes_of_one_by_one(
    which: str, sampling: Sampling, streaming: bool, short_clip: Path, request: pytest.FixtureRequest
) -> None:
    model = loader.load(request.getfixturevalue(which))
    frames = [14, 5, 20, 9, 17, 11]  # rows end at different frames while the others go on
    jobs = _jobs(model, _voices(model, short_clip), streaming, sampling, frames)
    alone = {index: _codes(model, [job], 1)[0] for index, job in enumerate(jobs)}
    assert [alone[i].shape[0] for i in range(len(jobs))] == frames  # random weights never say end-of-speech
    for batch_size in (2, 4, 6):
        batched = _codes(model, jobs, batch_size)
        for index in range(len(jobs)):
            np.testing.assert_array_equal(batched[index], alone[index], err_msg=f"row {index}, B={batch_size}")


def test_rows_leave_as_they_end_and_queued_ones_join(tiny_model: Path, short_clip: Path) -> None:
    model = loader.load(tiny_model)
    jobs = _jobs(model, _voices(model, short_clip), False, GREEDY, [12, 3, 8, 4, 6, 2])
    order = [done.tag for done in one_row.scheduled(model, enumerate(jobs), 2)]
    # Two rows at a time, each leaving at its own ceiling and freeing its place for the next in the queue:
    # 1 (3 frames) at step 3, then 2 (8, from step 4) at 11, 0 at 12, 3 (4, from 12) at 15, 5 (2, from
    # 16) at 17, and 4 (6, from 13) at 18.
    assert order == [1, 2, 0, 3, 5, 4]


def test_a_runaway_is_retried_alone_while_the_others_finish(tiny_model: Path, reference: Path) -> None:
    """"A." (30 frames of its own) never ends at a ceiling of 30; "Hi." is cut on purpose at 30."""
    voice, settings = Voice.from_options(reference), SynthesisSettings(max_tokens=30)
    texts = ["Hi.", "A.", "A circle. Watch it grow."]
    ref = ModelRef.resolve(tiny_model)
    made = dict(engine.synthesize_many([engine.Narrate(t, voice, settings) for t in texts], ref, batch_size=3))
    assert isinstance(made[1], SynthesisError) and "in 3 tries" in str(made[1])
    for index in (0, 2):
        alone = engine.synthesize(texts[index], voice, settings, ref)
        batched = made[index]
        assert isinstance(batched, engine.Speech)
        np.testing.assert_array_equal(batched.samples, alone.samples)


def test_narrations_come_back_as_they_are_done(tiny_model: Path, reference: Path, short_clip: Path) -> None:
    """A long narration does not hold back the short ones behind it; voices and settings may differ."""
    ref = ModelRef.resolve(tiny_model)
    voices = [Voice.from_options(reference), Voice.from_options(short_clip)]
    wanted = [
        engine.Narrate("A long one, cut at twenty frames.", voices[0], SynthesisSettings(max_tokens=20)),
        engine.Narrate("Five.", voices[1], SynthesisSettings(max_tokens=4)),
        engine.Narrate("Six.", voices[0], SynthesisSettings(max_tokens=4, seed=3)),
    ]
    made = list(engine.synthesize_many(wanted, ref, batch_size=2))
    assert [index for index, _ in made] == [1, 2, 0]  # 1 ends at frame 4, 2 takes its row and ends at 8
    for index, speech in made:
        assert isinstance(speech, engine.Speech)
        alone = engine.synthesize(wanted[index].text, wanted[index].voice, wanted[index].settings, ref)
        np.testing.assert_array_equal(speech.samples, alone.samples)


def test_a_take_that_fails_its_checks_goes_back_into_the_queue(
    tiny_model: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected take's sentences are queued again with the next take's seed, ahead of the narrations still
    waiting, while the other rows go on; its audio is the take that seed makes alone, and every narration's
    is what it would be alone."""
    ref, voice = ModelRef.resolve(tiny_model), Voice.from_options(reference)
    checking = takes.Checking(Thresholds(2.0, 0.0, 1.0), 3, pace=True, verify=False)
    texts = ["Short one.", "A longer one, cut at twenty.", "Third.", "Fourth, queued."]
    wanted = [engine.Narrate(text, voice, SynthesisSettings(seed=i, max_tokens=6 if i == 0 else 20), checking)
              for i, text in enumerate(texts)]
    real_judge, real_results, real_submit = takes.Takes.judge, scheduler.Scheduler.results, scheduler.Scheduler.submit
    finished: list[tuple[int, int]] = []
    busy_at_retake: list[int] = []

    def judge(self: takes.Takes, speech: engine.Speech) -> bool:  # the check says no to "Short one."'s first take
        again = real_judge(self, speech)
        if self.spoken == texts[0] and len(self.made) == 1:
            self.made[0] = (*self.made[0][:2], ["rejected by the test"], self.made[0][3])
            return True
        return again

    def spy(self: scheduler.Scheduler[Any]) -> Iterator[scheduler.Finished[Any]]:
        for done in real_results(self):
            finished.append((done.tag.narration, done.tag.take))
            yield done

    def submit(self: scheduler.Scheduler[Any], tag: Any, job: scheduler.Job, first: bool = False) -> None:
        if tag.take:
            busy_at_retake.append(self.pending)
        real_submit(self, tag, job, first)

    monkeypatch.setattr(takes.Takes, "judge", judge)
    monkeypatch.setattr(scheduler.Scheduler, "results", spy)
    monkeypatch.setattr(scheduler.Scheduler, "submit", submit)
    made = dict(engine.synthesize_many(wanted, ref, batch_size=3))
    # Narration 0's first take ends at frame 6; its retake is queued while other rows are still in flight
    # and runs through the same scheduler, beside them.
    assert busy_at_retake and busy_at_retake[0] > 0 and (0, 1) in finished
    retaken = made[0]
    assert isinstance(retaken, engine.Speech) and retaken.checks is not None
    assert [take.seed for take in retaken.checks.takes] == [0, TAKE_SEED_STEP] and retaken.checks.chosen == 1
    alone = engine.synthesize(texts[0], voice, SynthesisSettings(seed=TAKE_SEED_STEP, max_tokens=6), ref)
    np.testing.assert_array_equal(retaken.samples, alone.samples)
    for index in (1, 2, 3):
        speech = made[index]
        assert isinstance(speech, engine.Speech) and speech.checks is not None and len(speech.checks.takes) == 1
        alone = engine.synthesize(texts[index], voice, wanted[index].settings, ref)
        np.testing.assert_array_equal(speech.samples, alone.samples)


def test_cancelled_jobs_leave_and_the_others_keep_their_codes(tiny_model: Path, short_clip: Path) -> None:
    """``cancel`` takes a row in flight out at once and a queued job before it starts; the rows left make the
    codes they make alone."""
    model = loader.load(tiny_model)
    jobs = _jobs(model, _voices(model, short_clip), False, SAMPLED, [4, 12, 12, 12])
    alone = {index: _codes(model, [job], 1)[0] for index, job in enumerate(jobs)}
    work: scheduler.Scheduler[int] = scheduler.Scheduler(model, 2)
    for index, job in enumerate(jobs):
        work.submit(index, job)
    made = {}
    for done in work.results():
        made[done.tag] = np.array(done.codes.codes)
        if done.tag == 0:  # row 1 is in flight, 2 about to join, 3 queued
            assert work.cancel(lambda tag: tag in (1, 3)) == 2 and work.pending == 1
    assert sorted(made) == [0, 2] and work.pending == 0
    for index in made:
        np.testing.assert_array_equal(made[index], alone[index])
