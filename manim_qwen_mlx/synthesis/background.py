"""Each sentence's decode, its numpy part on a thread beside the decoding loop while rows are still to come.

On the CPU the speech decoder's waveform stages (numpy) take about as long as a sentence's steps, and
the steps at a batch's rows, like the decoder, gain little from a second core. So while more rows are to
come, a finished sentence's decode runs its mlx layers at once and its numpy stages on a thread of their
own that holds one core, the steps the others (the backend's ``beside_steps``). Once no row is left, what
has not started decodes at once, a decode a core (one alone on every core). The decoder's pieces are the same whichever
thread runs them (``backends.numpy_cpu.workers``), and so are the samples. On the mlx backend every
decode runs on the calling thread, as before.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import numpy as np

from manim_qwen_mlx.model.decoder_context import DecoderContext, LaterSamples
from manim_qwen_mlx.model.loaded import LoadedTTS
from manim_qwen_mlx.synthesis import decode as decoding


class _Decode:
    """One decode's numpy part: its samples once run."""

    def __init__(self, later: LaterSamples) -> None:
        self.later = later
        self.samples: Future[np.ndarray] = Future()

    def run(self) -> None:
        try:
            self.samples.set_result(self.later.finish())
        except BaseException as exc:  # handed to whoever waits for these samples
            self.samples.set_exception(exc)


class Decodes:
    """Decodes of one run's sentences: ``submit`` each as its codes are done, ``rest_here`` once no row is
    left, ``close`` at the end. Decodes beside the steps run one at a time; once the steps are done, one a
    core (a second decode gains more than a decode's second core), or a last one alone on every core."""

    def __init__(self, model: LoadedTTS) -> None:
        self.model = model
        self.cores = os.cpu_count() or 1
        beside = model.backend.beside_steps() is not None
        self._executor = ThreadPoolExecutor(self.cores, "qwen-decode") if beside else None
        self._slots = threading.Condition()
        self._allowed, self._running, self._queued = 1, 0, 0

    def submit(self, codes: Any, context: DecoderContext | None, steps_go_on: bool) -> Future[np.ndarray]:
        """The samples of ``codes`` after ``context`` (a clone's reference; none: from the start)."""
        decode = _Decode(decoding.to_audio_later(self.model, codes, context))
        if not steps_go_on:
            self.rest_here()
        if self._executor is None or not decode.later.numpy_left or not (steps_go_on or self._queued):
            decode.run()  # here, on every core: nothing else to share them with
            return decode.samples
        with self._slots:
            self._queued += 1
        self._executor.submit(self._beside, decode)
        return decode.samples

    def rest_here(self) -> None:
        """No steps are left: the decodes waiting may take every core, one each."""
        with self._slots:
            self._allowed = self.cores
            self._slots.notify_all()

    def _beside(self, decode: _Decode) -> None:
        with self._slots:
            self._slots.wait_for(lambda: self._running < self._allowed)
            self._queued, self._running = self._queued - 1, self._running + 1
        try:
            held = self.model.backend.beside_steps()  # this thread's core alone
            with held if held is not None else nullcontext():
                decode.run()
        finally:
            with self._slots:
                self._running -= 1
                self._slots.notify_all()

    def close(self) -> None:
        """Wait for the decodes in progress; those not started are dropped (the run was given up)."""
        if self._executor is not None:
            self.rest_here()
            self._executor.shutdown(wait=True, cancel_futures=True)
