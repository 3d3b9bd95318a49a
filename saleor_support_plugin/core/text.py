"""Sanitizing text that comes from outside before it is stored."""

import html
import re

import nh3

# Closed script/style blocks and comments are markup: dropped whole.
_DROPPED_BLOCKS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
# Elements whose content an HTML parser reads as raw text (or swallows to the
# end): left open, they would eat the rest of a customer's message.
_RAW_TEXT_OPENERS = re.compile(
    r"<(?=/?(?:script|style|textarea|xmp|title|noscript|iframe|noembed|noframes|"
    r"plaintext|template|svg|math|select|object)\b)",
    re.I,
)
# A "<" that does not start a complete tag ("I paid <5", "a <b and then …").
_STRAY_LT = re.compile(r"<(?![A-Za-z/][^<>]*>)")


def _neutralize(raw: str) -> str:
    """Turn what a parser would swallow into text, so sanitizing drops only markup."""
    raw = _DROPPED_BLOCKS.sub("", raw)
    raw = _COMMENTS.sub("", raw)
    raw = _RAW_TEXT_OPENERS.sub("&lt;", raw)
    return _STRAY_LT.sub("&lt;", raw)


def plain_text(raw: str) -> str:
    """Strip every tag, keep the words (also after a stray or unclosed tag), unescaped."""
    return html.unescape(nh3.clean(_neutralize(raw), tags=set())).strip()


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
        _neutralize(body),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
    text = html.unescape(nh3.clean(_BLOCK_BREAK.sub("\n", safe), tags=set()))
    return safe, "\n".join(line.strip() for line in text.splitlines()).strip()
