"""Each sentence's decode, its numpy part on a thread beside the decoding loop while rows are still to come.

On the CPU the speech decoder's waveform stages (numpy) take about as long as a sentence's steps, and
the steps at a batch's rows, like the decoder, gain little from a second core. So while more rows are to
come, a finished sentence's decode runs its mlx layers at once and its numpy stages on a thread of their
own that holds one core, the steps the others (the backend's ``beside_steps``). Once no row is left, what
has not started decodes on the calling thread, on every core. The decoder's pieces are the same whichever
thread runs them (``backends.numpy_cpu.workers``), and so are the samples. On the mlx backend every
decode runs on the calling thread, as before.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import numpy as np

from manim_qwen_mlx.model.decoder_context import DecoderContext, LaterSamples
from manim_qwen_mlx.model.loaded import LoadedTTS


class _Decode:
    """One decode's numpy part, run once: by the thread beside the steps or, unclaimed, by the caller."""

    def __init__(self, later: LaterSamples) -> None:
        self.later = later
        self.samples: Future[np.ndarray] = Future()
        self._claimed = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        with self._lock:
            claimed, self._claimed = self._claimed, True
        return not claimed

    def run(self) -> None:
        try:
            self.samples.set_result(self.later.finish())
        except BaseException as exc:  # handed to whoever waits for these samples
            self.samples.set_exception(exc)


class Decodes:
    """Decodes of one run's sentences: ``submit`` each as its codes are done, ``close`` at the end."""

    def __init__(self, model: LoadedTTS) -> None:
        self.model = model
        beside = model.backend.beside_steps()
        self._executor = None if beside is None else ThreadPoolExecutor(1, "qwen-decode")
        self._waiting: list[_Decode] = []

    def submit(self, codes: Any, context: DecoderContext | None, steps_go_on: bool) -> Future[np.ndarray]:
        """The samples of ``codes`` after ``context`` (a clone's reference; none: from the start), beside the
        steps while they go on, else here."""
        decode = _Decode(self.model.decode_after_later(context or self.model.decoder_context(), codes))
        self._waiting = [waiting for waiting in self._waiting if not waiting.samples.done()]
        if self._executor is not None and steps_go_on and decode.later.numpy_left:
            self._waiting.append(decode)
            self._executor.submit(self._beside, decode)
            return decode.samples
        self._waiting.append(decode)
        self.rest_here()
        return decode.samples

    def rest_here(self) -> None:
        """Every decode not started yet, on this thread (no steps left to share the cores with)."""
        for waiting in self._waiting:
            if waiting.claim():
                waiting.run()

    def _beside(self, decode: _Decode) -> None:
        if decode.claim():
            held = self.model.backend.beside_steps()
            with held if held is not None else nullcontext():
                decode.run()

    def close(self) -> None:
        """Wait for a decode in progress; those not started are dropped (the run was given up)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

