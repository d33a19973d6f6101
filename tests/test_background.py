"""Decodes beside the steps: one at a time while rows are to come, a decode a core once none is, the last
alone on the calling thread; on the mlx backend every decode on the calling thread."""

import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from manim_qwen_mlx.model.decoder_context import LaterSamples
from manim_qwen_mlx.synthesis import background
from manim_qwen_mlx.synthesis import decode as decoding


class _Record:
    """What the fake decodes saw: the threads they ran on, and the most running at once."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.running = self.most = 0
        self.lock = threading.Lock()

    def later(self, value: float, fails: bool = False) -> LaterSamples:
        def finish() -> np.ndarray:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.threads.append(threading.get_ident())
            time.sleep(0.05)
            with self.lock:
                self.running -= 1
            if fails:
                raise RuntimeError("decoder broke")
            return np.full(3, value, np.float32)

        return LaterSamples(finish, True)


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> _Record:
    seen = _Record()

    def to_audio_later(_model: object, codes: Any, _context: object = None) -> LaterSamples:
        return seen.later(float(codes), fails=codes < 0)

    monkeypatch.setattr(decoding, "to_audio_later", to_audio_later)
    return seen


def _model(beside: bool) -> Any:
    held: list[int] = []

    @contextmanager
    def hold() -> Iterator[None]:
        held.append(threading.get_ident())
        yield

    def beside_steps() -> AbstractContextManager[None] | None:
        return hold() if beside else None

    return SimpleNamespace(backend=SimpleNamespace(beside_steps=beside_steps), held=held)


def test_decodes_beside_the_steps_run_one_at_a_time_then_a_core_each(record: _Record) -> None:
    model = _model(beside=True)
    decodes = background.Decodes(model)
    try:
        going = [decodes.submit(value, None, steps_go_on=True) for value in range(4)]
        assert [float(samples.result()[0]) for samples in going] == [0, 1, 2, 3]
        assert record.most == 1 and threading.get_ident() not in record.threads  # one at a time, beside
        assert len(model.held) == 4  # each held its core (the backend's beside_steps)
        record.most = 0
        queued = [decodes.submit(value, None, steps_go_on=True) for value in range(4, 8)]
        last = decodes.submit(8, None, steps_go_on=False)  # no rows left: the queued ones take every core
        assert [float(samples.result()[0]) for samples in [*queued, last]] == [4, 5, 6, 7, 8]
        assert record.most == min(os.cpu_count() or 1, 4)
        alone = decodes.submit(9, None, steps_go_on=False)  # nothing else waiting: here, on every core
        assert alone.done() and record.threads[-1] == threading.get_ident()
    finally:
        decodes.close()


def test_a_failing_decode_reaches_whoever_waits_for_it(record: _Record) -> None:
    decodes = background.Decodes(_model(beside=True))
    try:
        broken, fine = decodes.submit(-1, None, steps_go_on=True), decodes.submit(1, None, steps_go_on=True)
        with pytest.raises(RuntimeError, match="decoder broke"):
            broken.result()
        assert float(fine.result()[0]) == 1
    finally:
        decodes.close()


def test_on_the_mlx_backend_every_decode_runs_here(record: _Record) -> None:
    decodes = background.Decodes(_model(beside=False))
    made = [decodes.submit(value, None, steps_go_on=True) for value in range(3)]
    assert all(samples.done() for samples in made) and set(record.threads) == {threading.get_ident()}
    decodes.close()
