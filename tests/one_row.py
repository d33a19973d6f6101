"""One row's generation and decode, for tests and benchmarks (the package runs every row through
``scheduler.Scheduler`` and ``background.Decodes``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

from manim_qwen_mlx.backends.base import Prompt
from manim_qwen_mlx.core.settings import Sampling
from manim_qwen_mlx.model.decoder_context import DecoderContext
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import decode, scheduler

Tag = TypeVar("Tag")


def generate(model: LoadedTTS, prompt: Prompt, talker: Sampling, subtalker: Sampling, max_frames: int,
             seed: int = 0) -> decode.Codes:
    """Codec frames for one prompt: a batch of one row, its random stream seeded with ``seed``."""
    work: scheduler.Scheduler[None] = scheduler.Scheduler(model, 1)
    work.submit(None, scheduler.Job(lambda: prompt, talker, subtalker, max_frames, seed))
    (done,) = work.results()
    return done.codes


def to_audio(model: LoadedTTS, codes: Any, context: DecoderContext | None = None) -> np.ndarray:
    """Samples of generated codes [frames, 16], decoded after ``context`` (a clone's reference) as a run does."""
    return decode.to_audio_later(model, codes, context).finish()


def whole(model: LoadedTTS, codes: Any) -> Any:
    """Codes [1, T, 16] -> samples [n] (mlx), every frame's, in one pass (mlx-audio's own decode)."""
    wav, lengths = model.module.speech_tokenizer.decode(codes)
    return wav[0][: int(lengths[0])]


def after(model: LoadedTTS, context: DecoderContext, codes: Any) -> np.ndarray:
    """Samples of codes [T, 16] decoded after ``context``, all at once."""
    return model.continued_decoder.decode(context, np.asarray(codes))


def scheduled(model: LoadedTTS, jobs: Iterable[tuple[Tag, scheduler.Job]], batch_size: int
              ) -> Iterator[scheduler.Finished[Tag]]:
    """Every job through one scheduler, ``batch_size`` rows at a time, each as its row ends."""
    work: scheduler.Scheduler[Tag] = scheduler.Scheduler(model, batch_size)
    for tag, job in jobs:
        work.submit(tag, job)
    return work.results()
