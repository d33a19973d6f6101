"""manim-voiceover imports the ``sox`` package, whose import runs ``sox -h`` through a shell and warns
"SoX could not be found!" when there is no SoX binary. We need no SoX (``global_speed`` is the only
manim-voiceover feature that does, and we refuse it), so that one probe is silenced: its shell line
and that warning, nothing else of sox's or manim-voiceover's logging.

This works when our package is imported before ``sox``: always for the ``manim-qwen-mlx`` command;
for ``manim render`` when manim loads our plugin before manim-voiceover's (the order in which Python
lists installed packages, which differs between machines).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

NO_SOX_WARNING = "SoX could not be found!"


class _QuietSoxFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "sox":
            return None
        sys.meta_path.remove(self)  # one import to watch
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec_module(module: ModuleType) -> None:
            logging.getLogger("sox").addFilter(_drop_no_sox_warning)
            with _stderr_silenced():
                exec_module(module)

        spec.loader.exec_module = quiet_exec_module  # type: ignore[method-assign]
        return spec


def _drop_no_sox_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(NO_SOX_WARNING)


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null: the probe's shell writes "sox: not found" there, not to sys.stderr."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def install() -> None:
    """Watch for the import of ``sox`` (no-op once it is imported or already watched)."""
    if "sox" in sys.modules or any(isinstance(f, _QuietSoxFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietSoxFinder())
