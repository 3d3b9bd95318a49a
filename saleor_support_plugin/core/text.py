"""Sanitizing text that comes from outside before it is stored."""

import html
import re

import nh3


def plain_text(raw: str) -> str:
    """Strip every tag (and script/style content), keep the words, unescaped."""
    return html.unescape(nh3.clean(raw, tags=set())).strip()


ALLOWED_TAGS = {
    "p",
    "br",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
}
_BLOCK_BREAK = re.compile(r"<br\s*/?>|</(p|li|blockquote|pre)>", re.IGNORECASE)


def sanitize_html(body: str) -> tuple[str, str]:
    """Return (safe HTML, plain text) for a message body written as text or HTML."""
    if "<" not in body and ">" not in body:
        escaped = html.escape(body.strip())
        return escaped.replace("\n", "<br>"), body.strip()
    safe = nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
    text = html.unescape(nh3.clean(_BLOCK_BREAK.sub("\n", safe), tags=set()))
    return safe, "\n".join(line.strip() for line in text.splitlines()).strip()
