"""Rewrite the generated option tables from manim_qwen_mlx.core.options: every option in docs/options.md, the
ones people set most in the README (tests/test_options.py checks both)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from manim_qwen_mlx.core.options import COMMON, markdown_table

REPO = Path(__file__).resolve().parents[1]
TABLES = (
    (REPO / "docs" / "options.md", "options", markdown_table()),
    (REPO / "README.md", "common-options", markdown_table(COMMON)),
)


def main() -> int:
    for path, name, table in TABLES:
        text = path.read_text(encoding="utf-8")
        block = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not block.search(text):
            print(f"{path.name} has no <!-- {name}:start --> ... <!-- {name}:end --> block.", file=sys.stderr)
            return 1
        path.write_text(block.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
