"""Rewrite the README's option table from manim_qwen_mlx.core.options (tests/test_options.py checks it)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from manim_qwen_mlx.core.options import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- options:start -->\n).*?(<!-- options:end -->)", re.S)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print("README.md has no <!-- options:start --> ... <!-- options:end --> block.", file=sys.stderr)
        return 1
    README.write_text(BLOCK.sub(lambda m: m.group(1) + markdown_table() + "\n" + m.group(2), text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
