"""Work cut into pieces by shape gives the same bits on one thread or several (the prefill, the decoder)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from manim_qwen_mlx.backends.numpy_cpu import decoder as cpu_decoder
from manim_qwen_mlx.backends.numpy_cpu import workers
from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS


@pytest.fixture
def sizes() -> Iterator[Callable[[int], None]]:
    yield WORKERS.resize
    WORKERS.resize(WORKERS.cores)


def test_numpy_s_blas_runs_one_thread_a_piece_and_the_workers_share_the_cores() -> None:
    if WORKERS.held is None:
        pytest.skip("numpy's BLAS is not its wheels' OpenBLAS here")
    assert WORKERS.cores >= 1
    held = [info["num_threads"] for info in threadpool_info() if info["filepath"] == WORKERS.held]
    assert held == [1]


def test_a_product_in_pieces_has_the_same_bits_on_any_thread_count(
    sizes: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "PIECE_COLUMNS", 48)  # several pieces of a small product
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal((37, 96), dtype=np.float32), rng.standard_normal((200, 96), dtype=np.float32)
    made = []
    for count in (1, 2, 3):
        sizes(count)
        made.append(WORKERS.product(x, weight))
    assert all(np.array_equal(made[0], other) for other in made[1:])
    np.testing.assert_allclose(made[0], x @ weight.T, rtol=1e-5, atol=1e-4)


def test_a_failing_piece_raises_after_the_others_are_done(sizes: Callable[[int], None]) -> None:
    if WORKERS.cores < 2:
        pytest.skip("one thread here")
    sizes(2)
    done: list[int] = []

    def fail() -> None:
        raise ValueError("piece")

    with pytest.raises(ValueError, match="piece"):
        WORKERS.run([fail, lambda: done.append(1), lambda: done.append(2), lambda: done.append(3)])
    assert sorted(done) == [1, 3]  # the caller's share (0, 2) stopped at its failure; the other's (1, 3) ran


def test_the_decoder_s_stages_have_the_same_bits_on_any_thread_count(
    sizes: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_cpu_decoder import _decoder, _tiny_config

    monkeypatch.setattr(cpu_decoder, "CHUNK_VALUES", 2048)  # many chunks
    decoder = _decoder(_tiny_config())
    stand_ins = [cpu_decoder.numpy_version(layer) for layer in decoder.decoder]
    x = np.random.default_rng(4).standard_normal((1, 9, decoder.decoder[0].conv.weight.shape[2])).astype(np.float32)
    made = []
    for count in (1, 2):
        sizes(count)
        y = x
        for stand_in in stand_ins:
            assert stand_in is not None
            y = np.array(stand_in(y))
        made.append(y)
    assert made[0].shape[1] > 9 and np.array_equal(made[0], made[1])


@pytest.mark.usefixtures("numpy_cpu")
def test_a_prefill_has_the_same_bits_on_any_thread_count(
    tiny_model: Path, sizes: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from manim_qwen_mlx.backends import device
    from manim_qwen_mlx.model import loader

    if not device.is_cpu():
        pytest.skip("the numpy-cpu backend runs on the CPU only")
    monkeypatch.setattr(workers, "PIECE_COLUMNS", 16)
    talker = loader.load(tiny_model).steps().talker
    x = np.random.default_rng(5).standard_normal((11, talker.layers[0].q.weight.shape[1])).astype(np.float32)
    made = []
    for count in (1, 2):
        sizes(count)
        store = talker.store(16)
        made.append((talker.prefill(x, store), store.keys[:, :, :, :11].copy()))
    assert np.array_equal(made[0][0], made[1][0]) and np.array_equal(made[0][1], made[1][1])


def test_a_forked_child_runs_pieces_on_threads_of_its_own(sizes: Callable[[int], None]) -> None:
    import os

    if not hasattr(os, "fork") or WORKERS.cores < 2:
        pytest.skip("no fork, or one thread here")
    sizes(2)
    WORKERS.run([lambda: None, lambda: None])  # the parent's threads exist
    pid = os.fork()
    if pid == 0:  # the child: its pieces must not wait for the parent's threads
        import signal

        signal.alarm(20)  # a child stuck waiting fails the test, not the suite
        made: list[int] = []
        WORKERS.run([lambda: made.append(1), lambda: made.append(2)])
        os._exit(0 if sorted(made) == [1, 2] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
