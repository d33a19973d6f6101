"""Continuous batching: up to B generations (rows) in flight over one loaded model.

Each step asks the backend for every row's next logits at once, draws every row's first code in one graph
(``decode.first_codes``: each row's own penalty, masks, sampler and random stream), then has the backend
make every row's frame, whose codes are read once; each row's policy (``decode.RowPolicy``) takes its
codes: end-of-speech, a loop or its frame ceiling ends it. A row that ends leaves at once (the backend's
``drop``) and the next jobs in the queue are prefilled in their places, together. The queue is read as rows free up, so
a consumer may put a job back (a runaway's retry) while it iterates. One-by-one synthesis is this with
B = 1: one path, not two.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from manim_qwen_mlx.backends.base import Prompt
from manim_qwen_mlx.core.settings import Sampling
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis.decode import Codes, RowDraws, RowPolicy, first_codes

Tag = TypeVar("Tag")


@dataclass(frozen=True)
class Job:
    """One generation to run: its prompt (built when its row starts, so a long queue holds no embeddings),
    samplers, frame ceiling and seed."""

    prompt: Callable[[], Prompt]
    talker_sampling: Sampling
    subtalker_sampling: Sampling
    max_frames: int
    seed: int


@dataclass
class _Row(Generic[Tag]):
    tag: Tag
    prompt: Prompt
    policy: RowPolicy
    state: Any  # the backend's


def run(model: LoadedTTS, queue: deque[tuple[Tag, Job]], batch_size: int) -> Iterator[tuple[Tag, Prompt, Codes]]:
    """Every job of ``queue`` through the decoding loop, ``batch_size`` rows at a time; each result as its
    row ends (not in queue order)."""
    import mlx.core as mx

    steps = model.steps()
    rows: list[_Row[Tag]] = []
    while queue or rows:
        joining = [queue.popleft() for _ in range(min(len(queue), batch_size - len(rows)))]
        if joining:  # the rows that join in one frame are prefilled together
            prompts = [job.prompt() for _, job in joining]
            states = steps.start(prompts, [job.max_frames for _, job in joining])
            rows.extend(_Row(tag, prompt, RowPolicy(model.config, job.talker_sampling, job.subtalker_sampling,
                                                    job.max_frames, job.seed), state)
                        for (tag, job), prompt, state in zip(joining, prompts, states, strict=True))
        policies = [row.policy for row in rows]
        firsts = first_codes(policies, steps.talk([row.state for row in rows]))
        # Every row's whole frame, one read of its codes: a row whose first code is end-of-speech drops the rest.
        frames = steps.frame([row.state for row in rows], firsts, RowDraws(policies))
        for policy, frame in zip(policies, frames, strict=True):
            policy.take(frame)
        for row in [row for row in rows if row.policy.done]:
            rows.remove(row)
            steps.drop(row.state)
            yield row.tag, row.prompt, row.policy.result()
            mx.clear_cache()


def generate(model: LoadedTTS, prompt: Prompt, talker: Sampling, subtalker: Sampling, max_frames: int,
             seed: int = 0) -> Codes:
    """Codec frames for one prompt: a batch of one row, its random stream seeded with ``seed``."""
    job = Job(lambda: prompt, talker, subtalker, max_frames, seed)
    ((_, _, codes),) = run(model, deque([(None, job)]), 1)
    return codes
