"""Handlebars rendering of customer emails, in the order's language.

Built-in templates live in `templates/email/<language>/<kind>.{subject,txt,html}.hbs`;
a merchant's subject or body from the dashboard replaces the built-in one for
every language. The language is the order's (`pt-BR` → `pt-br`, then `pt`),
falling back to English. Templates are interpreted by `core.handlebars`, which
reads only the plain data of the context.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conf import SupportSettings, email_template_rules, stored_template
from ..core import handlebars
from ..core.handlebars import SafeHtml, Template
from .kinds import NotificationKind

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
FALLBACK_LANGUAGE = "en"


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


def _builtin(language: str, kind: NotificationKind, part: str) -> Template:
    # Our own templates; {{{ }}} in them still emits only SafeHtml values.
    return handlebars.parse(builtin_template(language, kind, part), allow_raw=True)


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
    context = _with_ticket_reference(_mark_safe_html(kind, context))
    subject_template = stored_template(
        f"{kind.value}_subject", settings.subject_override(kind)
    ) or _builtin(language, kind, "subject")
    # Subjects are plain text: undo Handlebars' HTML escaping, keep one line.
    subject = clean_subject(html.unescape(subject_template.render(context)))
    body_override = stored_template(
        f"{kind.value}_template", settings.body_override(kind)
    )
    body = (body_override or _builtin(language, kind, "html")).render(context)
    html_part = _layout(language).render(
        {**context, "subject": subject, "body": SafeHtml(body)}
    )
    if body_override:
        text = html_to_text(body)
    else:
        text = html.unescape(_builtin(language, kind, "txt").render(context))
    if context.get("unsubscribe_url"):
        text = f"{text.rstrip()}\n\n--\n{_unsubscribe_line(language)}: {context['unsubscribe_url']}\n"
    return RenderedEmail(subject=subject, text=text, html=html_part, language=language)


def _mark_safe_html(kind: NotificationKind, context: dict[str, Any]) -> dict[str, Any]:
    """Mark the values a template may insert raw (the stored, sanitized message HTML).

    The context comes back from the outbox as JSON, which keeps no SafeHtml; only
    our code writes it, from `TicketMessage.body_html`, sanitized when stored.
    """
    marked = dict(context)
    for path in email_template_rules(kind).raw:
        *parents, leaf = path.split(".")
        target = marked
        for name in parents:
            child = target.get(name)
            if not isinstance(child, dict):
                break
            target[name] = target = dict(child)
        else:
            if isinstance(target.get(leaf), str):
                target[leaf] = SafeHtml(target[leaf])
    return marked


def _with_ticket_reference(context: dict[str, Any]) -> dict[str, Any]:
    """Give rows written before `ticket.reference` existed their reference (T-<number>)."""
    from ..tickets.models import ticket_reference  # late: tickets import this module

    ticket = context.get("ticket")
    if isinstance(ticket, dict) and "reference" not in ticket and "number" in ticket:
        reference = ticket_reference(ticket["number"])
        return {**context, "ticket": {**ticket, "reference": reference}}
    return context


# Characters that would reorder or hide text in a subject line: C0/C1 controls and
# the bidirectional embeddings, overrides and isolates (U+202A–202E, U+2066–2069).
_SUBJECT_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_subject(text: str) -> str:
    """Make a subject one line of visible text."""
    text = _SUBJECT_CONTROLS.sub(
        lambda match: " " if match.group().isspace() else "", text
    )
    return " ".join(text.split())


def _layout(language: str) -> Template:
    source = _read(TEMPLATE_DIR / language / "layout.html.hbs") or _read(
        TEMPLATE_DIR / FALLBACK_LANGUAGE / "layout.html.hbs"
    )
    assert source is not None
    return handlebars.parse(source, allow_raw=True)


UNSUBSCRIBE_LINES = {
    "en": "Stop shipping updates and surveys",
    "de": "Versandbenachrichtigungen und Umfragen abbestellen",
}


def _unsubscribe_line(language: str) -> str:
    return UNSUBSCRIBE_LINES.get(language, UNSUBSCRIBE_LINES[FALLBACK_LANGUAGE])
