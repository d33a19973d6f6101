"""In precache's dry run of the user's scenes, a failure prints as Python's plain traceback, not manim's
rich box: the box cuts every line at its width (a long narration line lost its end), and the parent
reads the frames back (``voiceover.collect.failure_excerpt``). Installed when manim loads our plugin in
that subprocess (``MANIM_QWEN_MLX_COLLECT`` set); outside the layers.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any


def install() -> None:
    try:
        from manim._config import error_console
    except Exception:  # manim not importable here: its own error then says more than ours could
        return

    def plain(*_args: Any, **_kwargs: Any) -> None:
        traceback.print_exc(file=sys.stderr)

    error_console.print_exception = plain  # type: ignore[method-assign]
