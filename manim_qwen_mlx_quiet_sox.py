"""manim-voiceover imports the ``sox`` package, whose import runs ``sox -h`` through a shell and warns
"SoX could not be found!" when there is no SoX binary. We need no SoX (``global_speed`` is the only
manim-voiceover feature that does, and we refuse it), so that one probe is silenced: its shell line
and that warning, nothing else of sox's or manim-voiceover's logging.

It must be installed before ``sox`` is imported. An install (the wheel, and an editable one alike)
carries ``manim_qwen_mlx_quiet_sox.pth`` (setup.py), which imports this module when Python starts, so
``manim render`` is quiet whatever order manim loads plugins in. It is a module of its own, beside the
package rather than in it, so that every Python start-up in the environment pays for this file alone
(a fraction of a millisecond), not for ``import manim_qwen_mlx``. Our package installs it too, for a
process that started without the .pth.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType

NO_SOX_WARNING = "SoX could not be found!"


class _QuietSoxFinder:
    """A meta path finder for one name. Plain (no importlib.abc, no logging at import): the .pth imports
    this module in every Python process of the environment, so it must cost next to nothing."""

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
            import logging

            logging.getLogger("sox").addFilter(_drop_no_sox_warning)
            saved = _silence_stderr()
            try:
                exec_module(module)
            finally:
                _restore_stderr(saved)

        spec.loader.exec_module = quiet_exec_module  # type: ignore[method-assign]
        return spec


def _drop_no_sox_warning(record: object) -> bool:
    return not str(getattr(record, "msg", "")).startswith(NO_SOX_WARNING)


def _silence_stderr() -> int | None:
    """File descriptor 2 to /dev/null (the probe's shell writes "sox: not found" there, not to
    sys.stderr); the saved descriptor, or None where it could not be duplicated."""
    try:
        saved = os.dup(2)
    except OSError:
        return None
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    return saved


def _restore_stderr(saved: int | None) -> None:
    if saved is not None:
        os.dup2(saved, 2)
        os.close(saved)


def install() -> None:
    """Watch for the import of ``sox`` (no-op once it is imported or already watched)."""
    if "sox" in sys.modules or any(isinstance(f, _QuietSoxFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietSoxFinder())


install()  # the .pth's import is the whole of its line
