"""Rewrite the README's configuration reference from CONFIG_STRUCTURE: `python -m saleor_support_plugin.docs`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render_readme(text: str) -> str:
    from .conf import configuration_reference_markdown

    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError("The README has no configuration reference markers.")
    return pattern.sub(
        lambda _: f"{START}\n{configuration_reference_markdown()}\n{END}", text
    )


def main() -> None:
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    readme.write_text(render_readme(readme.read_text()))


if __name__ == "__main__":
    main()
