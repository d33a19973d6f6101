"""Continuous batching: up to B generations (rows) in flight over one loaded model.

Each step asks the backend for every row's next logits at once, draws every row's first code in one graph
(``decode.first_codes``: each row's own penalty, masks, sampler and random stream), then has the backend
make every row's frame, whose codes are read once; each row's policy (``decode.RowPolicy``) takes its
codes: end-of-speech, a loop or its frame ceiling ends it. A row that ends leaves at once (the backend's
``drop``) and the next jobs in the queue are prefilled in their places, together. The queue is read as rows free up, so
a consumer may put a job back (a runaway's retry) while it iterates. One-by-one synthesis is this with
B = 1: one path, not two. ``Scheduler`` is its API: submit, cancel, results as rows end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

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


@dataclass(frozen=True)
class Finished(Generic[Tag]):
    """A row that ended: its job's tag, the prompt it ran and its codes."""

    tag: Tag
    prompt: Prompt
    codes: Codes


@dataclass
class _Row(Generic[Tag]):
    tag: Tag
    prompt: Prompt
    policy: RowPolicy
    state: object  # the backend's own row (``MlxRow``, ``NumpyRow``), only ever handed back to it


class Scheduler(Generic[Tag]):
    """Rows in flight over one loaded model, at most ``batch_size`` at a time. ``submit`` queues a job (a
    retry to the front); ``cancel`` takes jobs out, queued or in flight; ``results`` runs the frames and
    yields each row as it ends (not in submission order). Jobs may be submitted and cancelled while
    ``results`` is being read: the queue is read as rows free up."""

    def __init__(self, model: LoadedTTS, batch_size: int) -> None:
        self._model, self._batch_size = model, batch_size
        self._steps = model.steps()
        self._queue: deque[tuple[Tag, Job]] = deque()
        self._rows: list[_Row[Tag]] = []

    def submit(self, tag: Tag, job: Job, first: bool = False) -> None:
        (self._queue.appendleft if first else self._queue.append)((tag, job))

    def cancel(self, which: Callable[[Tag], bool]) -> int:
        """Every job whose tag ``which`` picks, queued (never started) or in flight (its row leaves now); how many."""
        queued = [entry for entry in self._queue if not which(entry[0])]
        gone = len(self._queue) - len(queued)
        self._queue = deque(queued)
        for row in [row for row in self._rows if which(row.tag)]:
            self._leave(row)
            gone += 1
        return gone

    @property
    def pending(self) -> int:
        """Jobs queued or in flight."""
        return len(self._queue) + len(self._rows)

    def results(self) -> Iterator[Finished[Tag]]:
        import mlx.core as mx

        steps, rows = self._steps, self._rows
        while self._queue or rows:
            joining = [self._queue.popleft() for _ in range(min(len(self._queue), self._batch_size - len(rows)))]
            if joining:  # the rows that join in one frame are prefilled together
                prompts = [job.prompt() for _, job in joining]
                states = steps.start(prompts, [job.max_frames for _, job in joining])
                rows.extend(_Row(tag, prompt, RowPolicy(self._model.config, job.talker_sampling,
                                                        job.subtalker_sampling, job.max_frames, job.seed), state)
                            for (tag, job), prompt, state in zip(joining, prompts, states, strict=True))
            policies = [row.policy for row in rows]
            firsts = first_codes(policies, steps.talk([row.state for row in rows]))
            # Every row's whole frame, one read of its codes: a row whose first code is end-of-speech drops the rest.
            frames = steps.frame([row.state for row in rows], firsts, RowDraws(policies))
            for policy, frame in zip(policies, frames, strict=True):
                policy.take(frame)
            for row in [row for row in rows if row.policy.done]:
                if row in rows:  # not cancelled while an earlier one was handed out
                    self._leave(row)
                    yield Finished(row.tag, row.prompt, row.policy.result())
                    mx.clear_cache()

    def _leave(self, row: _Row[Tag]) -> None:
        self._rows.remove(row)
        self._steps.drop(row.state)
