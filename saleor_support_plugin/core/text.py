"""Sanitizing text that comes from outside before it is stored."""

import html

import nh3


def plain_text(raw: str) -> str:
    """Strip every tag (and script/style content), keep the words, unescaped."""
    return html.unescape(nh3.clean(raw, tags=set())).strip()
