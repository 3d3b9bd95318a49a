"""Handlebars (pybars3) rendering of customer emails, in the order's language.

Built-in templates live in `templates/email/<language>/<kind>.{subject,txt,html}.hbs`;
a merchant's subject or body from the dashboard replaces the built-in one for
every language. The language is the order's (`pt-BR` → `pt-br`, then `pt`),
falling back to English.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybars import Compiler

from ..conf import SupportSettings
from .kinds import NotificationKind

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
FALLBACK_LANGUAGE = "en"


@functools.lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    return Compiler().compile(source)


def render_string(source: str, context: dict[str, Any]) -> str:
    return str(_compile(source)(context))


@functools.lru_cache(maxsize=256)
def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def language_candidates(language_code: str) -> list[str]:
    code = (language_code or "").strip().lower().replace("_", "-")
    candidates = [code, code.split("-")[0], FALLBACK_LANGUAGE]
    return list(dict.fromkeys(candidate for candidate in candidates if candidate))


def resolve_language(language_code: str, kind: NotificationKind) -> str:
    for candidate in language_candidates(language_code):
        if _read(TEMPLATE_DIR / candidate / f"{kind.value}.subject.hbs") is not None:
            return candidate
    return FALLBACK_LANGUAGE


def builtin_template(language: str, kind: NotificationKind, part: str) -> str:
    source = _read(TEMPLATE_DIR / language / f"{kind.value}.{part}.hbs")
    if source is None:
        source = _read(TEMPLATE_DIR / FALLBACK_LANGUAGE / f"{kind.value}.{part}.hbs")
    assert source is not None, f"Missing built-in template {kind.value}.{part}"
    return source


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


_TAGS = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table|ul|ol)>|<br\s*/?>", re.IGNORECASE)


def html_to_text(markup: str) -> str:
    """Make a readable plain-text part for a merchant's HTML-only template."""
    text = _BLOCK_END.sub("\n", markup)
    text = html.unescape(_TAGS.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render_email(
    kind: NotificationKind,
    context: dict[str, Any],
    *,
    language_code: str,
    settings: SupportSettings,
) -> RenderedEmail:
    language = resolve_language(language_code, kind)
    subject_source = settings.subject_override(kind) or builtin_template(
        language, kind, "subject"
    )
    # Subjects are plain text: undo Handlebars' HTML escaping, keep one line.
    subject = " ".join(html.unescape(render_string(subject_source, context)).split())
    body_override = settings.body_override(kind)
    body = render_string(
        body_override or builtin_template(language, kind, "html"), context
    )
    html_part = render_string(
        _layout(language), {**context, "subject": subject, "body": body}
    )
    if body_override:
        text = html_to_text(body)
    else:
        text = html.unescape(
            render_string(builtin_template(language, kind, "txt"), context)
        )
    if context.get("unsubscribe_url"):
        text = f"{text.rstrip()}\n\n--\n{_unsubscribe_line(language)}: {context['unsubscribe_url']}\n"
    return RenderedEmail(subject=subject, text=text, html=html_part, language=language)


def _layout(language: str) -> str:
    source = _read(TEMPLATE_DIR / language / "layout.html.hbs") or _read(
        TEMPLATE_DIR / FALLBACK_LANGUAGE / "layout.html.hbs"
    )
    assert source is not None
    return source


UNSUBSCRIBE_LINES = {
    "en": "Stop shipping updates",
    "de": "Versandbenachrichtigungen abbestellen",
}


def _unsubscribe_line(language: str) -> str:
    return UNSUBSCRIBE_LINES.get(language, UNSUBSCRIBE_LINES[FALLBACK_LANGUAGE])
