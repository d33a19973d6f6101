"""Work cut into fixed pieces, each run on one BLAS thread, the pieces shared among the cores.

OpenBLAS rounds a product differently with one thread and with two, and when the same rows come in a
product of another height (tests/test_workers.py). So the prompt's prefill and the speech decoder cut
their products into pieces that depend only on the shapes (columns of a weight, chunks of a clip), each
piece runs single-threaded, and up to ``size`` threads take pieces: the bits are the same whatever the
thread count, which follows the cores other work leaves free (``threads``). On the prefill's products the
pieces on two cores run as fast as OpenBLAS's own two threads (benchmarks/cpu_kernels.py).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.core.defaults import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
PIECE_COLUMNS = 512  # a prefill product's outputs per piece (256 and 1024 were slower, ad hoc)


def _numpy_blas() -> Any | None:
    """threadpoolctl's handle on numpy's own OpenBLAS (the build its wheels bundle, apart from mlx's and
    scipy's), or None: numpy's BLAS is another, or a system one shared with mlx, and its threads stay."""
    from threadpoolctl import ThreadpoolController

    package = Path(np.__file__).parent
    bundled = {package.parent / f"{package.name}.libs", package / ".dylibs"}  # Linux's and macOS's wheels
    libs = [lib for lib in ThreadpoolController().lib_controllers
            if lib.internal_api == "openblas" and Path(lib.filepath).parent in bundled]
    return libs[0] if len(libs) == 1 else None


class Workers:
    """Threads that run pieces of work; numpy's BLAS runs one thread a caller, and the caller waits."""

    def __init__(self) -> None:
        blas = _numpy_blas()
        if blas is not None:
            blas.set_num_threads(1)  # for the process: OpenBLAS has no per-thread count (its "local" one is global)
        else:
            log.info("numpy's BLAS is not its own OpenBLAS: its threads split the CPU's products, and their last "
                     "bits may depend on the thread count")
        self.held: str | None = None if blas is None else blas.filepath  # the BLAS whose threads stay at one
        self.cores = (os.cpu_count() or 1) if blas is not None else 1  # else a piece could run multi-threaded
        self.size = self.cores
        self._start()
        os.register_at_fork(after_in_child=self._start)  # a forked child has none of these threads

    def _start(self) -> None:
        self._executor = ThreadPoolExecutor(self.cores - 1, "qwen-cpu") if self.cores > 1 else None
        self._scratch = threading.local()
        self._local = threading.local()

    def resize(self, size: int) -> None:
        """Use ``size`` threads from now on (at most the cores); the pieces, and so the bits, stay."""
        self.size = max(1, min(size, self.cores))

    def limit(self, size: int | None) -> None:
        """The calling thread's pieces on at most ``size`` threads (None: ``size``'s), whatever others use."""
        self._local.size = size

    def run(self, pieces: Sequence[Callable[[], object]]) -> None:
        """Every piece, on up to ``size`` threads, the caller's one of them; which thread runs which changes
        nothing they compute."""
        size = getattr(self._local, "size", None) or self.size
        shares = [pieces[index :: size] for index in range(min(size, len(pieces)))]
        futures = [self._executor.submit(_all, share) for share in shares[1:]] if self._executor else []
        try:
            _all([piece for share in shares[: 1 if futures else None] for piece in share])
        finally:
            for future in futures:
                future.result()

    def product(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """x [T, in] @ weight [out, in]^T -> [T, out] (a transposed view), in pieces of PIECE_COLUMNS outputs."""
        out = np.empty((weight.shape[0], x.shape[0]), np.float32)
        inputs = x.T

        def piece(first: int) -> Callable[[], object]:
            last = first + PIECE_COLUMNS
            return lambda: np.matmul(weight[first:last], inputs, out=out[first:last])

        self.run([piece(first) for first in range(0, weight.shape[0], PIECE_COLUMNS)])
        return out.T

    def scratch(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """This thread's buffer ``name`` of at least ``shape``'s size, reused across pieces (uninitialised)."""
        size = int(np.prod(shape))
        held: np.ndarray | None = getattr(self._scratch, name, None)
        if held is None or held.size < size:
            held = np.empty(size, np.float32)
            setattr(self._scratch, name, held)
        return held[:size].reshape(shape)


def _all(pieces: Sequence[Callable[[], object]]) -> None:
    for piece in pieces:
        piece()


WORKERS = Workers()
