from typing import Any

import pytest

from saleor_support_plugin.conf import (
    TemplateRules,
    email_template_rules,
    parse_settings,
    parse_template,
)
from saleor_support_plugin.notifications.kinds import (
    SURVEY_KINDS,
    TICKET_KINDS,
    NotificationKind,
)
from saleor_support_plugin.notifications.rendering import (
    TEMPLATE_DIR,
    html_to_text,
    language_candidates,
    render_email,
)

CONTEXT: dict[str, Any] = {
    "order": {
        "number": "1042",
        "customer_first_name": "Zoë",
        "total": "59.90 EUR",
        "lines": [
            {
                "quantity": 2,
                "product_name": "Trail Runner",
                "variant_name": "42",
                "sku": "TR-42",
            }
        ],
    },
    "fulfillment": {
        "tracking_number": "1Z&9",
        "tracking_url": "https://t.example/1Z%269",
        "composed_id": "1042-1",
    },
    "carrier": {
        "status": "exception",
        "description": "Address <not> found",
        "estimated_delivery": "2026-11-30",
    },
    "delay": {"reason": "tracking_silent", "expected_date": "2026-11-30"},
    "refund": {"amount": "10.00 EUR", "total": "10.00 EUR"},
    "store": {"name": "Acme & Co"},
    "unsubscribe_url": "http://testserver/unsubscribe/?token=abc",
}


ORDER_KINDS = [
    kind
    for kind in NotificationKind
    if kind not in TICKET_KINDS
    and kind not in SURVEY_KINDS
    and kind is not NotificationKind.PRICE_REFUND_MANUAL
    # Staff's report: tests/test_weekly_report.py renders it.
    and kind is not NotificationKind.WEEKLY_REPORT
]

TICKET_CONTEXT: dict[str, Any] = {
    "ticket": {"number": 1042, "subject": "Zipper & buttons"},
    "message": {
        "text": "We will send a new one.",
        "html": "<p>We will send a <b>new</b> one.</p>",
    },
    "order": {"number": "77"},
    "customer_email": "zoe@example.com",
    "store": {"name": "Acme & Co"},
    "ticket_url": "https://shop.example/support/1?token=abc",
}


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(
    "kind", sorted(TICKET_KINDS - {NotificationKind.TICKET_SLA_BREACH})
)
def test_ticket_templates_render(kind, language):
    rendered = render_email(
        NotificationKind(kind),
        TICKET_CONTEXT,
        language_code=language,
        settings=parse_settings({}, active=True),
    )
    assert "1042" in rendered.subject
    assert "Zipper & buttons" in rendered.subject
    assert "{{" not in rendered.subject + rendered.text + rendered.html
    assert "<b>new</b>" in rendered.html
    assert "We will send a new one." in rendered.text


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_every_built_in_template_renders_in_every_language(kind, language):
    rendered = render_email(
        kind, CONTEXT, language_code=language, settings=parse_settings({}, active=True)
    )
    assert rendered.language == language
    assert "1042" in rendered.subject
    assert "{{" not in rendered.subject + rendered.text + rendered.html
    assert "Zoë" in rendered.text
    assert "Acme & Co" in rendered.text  # plain text is not HTML-escaped
    assert "Acme &amp; Co" in rendered.html  # HTML is
    assert "<not>" not in rendered.html
    assert CONTEXT["unsubscribe_url"] in rendered.text


LAYOUT_RULES = TemplateRules(("store", "subject", "body", "unsubscribe_url"), ("body",))


def test_built_in_templates_pass_the_dashboard_validation():
    # given every built-in template
    paths = list(TEMPLATE_DIR.rglob("*.hbs"))
    assert len(paths) >= 2 * (3 * len(ORDER_KINDS) + 1)
    for path in paths:
        kind = path.name.split(".")[0]
        rules = (
            LAYOUT_RULES
            if kind == "layout"
            else email_template_rules(NotificationKind(kind))
        )
        # when it is checked as a merchant's template of its kind
        # then it reads only the variables documented for that kind
        parse_template(path.read_text(), rules)


@pytest.mark.parametrize(
    ("code", "candidates"),
    [
        ("de-DE", ["de-de", "de", "en"]),
        ("PT_BR", ["pt-br", "pt", "en"]),
        ("", ["en"]),
        ("en", ["en"]),
    ],
)
def test_language_candidates(code, candidates):
    assert language_candidates(code) == candidates


def test_html_to_text_keeps_paragraphs_and_unescapes():
    assert html_to_text(
        "<h1>Hi</h1><p>Fish &amp; chips</p><ul><li>a</li><li>b</li></ul>"
    ) == ("Hi\nFish & chips\na\nb\n")


def test_subject_drops_bidi_overrides_and_control_characters():
    # given a customer's ticket subject that flips text direction and hides characters
    context = {
        **TICKET_CONTEXT,
        "ticket": {
            "number": 1042,
            "subject": "Refund\u202e gnp.exe\u202c \u2066x\u2069\x00\x1b[31m\x07\tnow\r\nplease\u200f",
        },
    }
    # when the email is rendered
    rendered = render_email(
        NotificationKind.TICKET_CREATED,
        context,
        language_code="en",
        settings=parse_settings({}, active=True),
    )
    # then the subject is one line without overrides, isolates or controls
    assert rendered.subject.endswith("Refund gnp.exe x[31m now please\u200f")
    assert not any(
        ord(char) < 32
        or 0x7F <= ord(char) <= 0x9F
        or char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        for char in rendered.subject
    )


def test_merchant_subject_override_drops_bidi_overrides_too():
    settings = parse_settings(
        {"shipped_subject": "Order {{order.number}}\u202e shipped"}, active=True
    )
    rendered = render_email(
        NotificationKind.SHIPPED, CONTEXT, language_code="en", settings=settings
    )
    assert rendered.subject == "Order 1042 shipped"


PRICE_CONTEXT: dict[str, Any] = {
    "order": {
        "number": "1042",
        "customer_first_name": "Zoë",
        "customer_email": "z@x.de",
    },
    "store": {"name": "Acme & Co"},
    "claim": {
        "reference": "PC-1001",
        "product_name": "Trail <Runner>",
        "variant_name": "42",
        "old_price": "100.00 EUR",
        "new_price": "80.00 EUR",
        "quantity": 2,
        "amount": "40.00 EUR",
        "gift_card": True,
        "gift_card_code": "ABCD1234",
        "reason": "Clearance price",
    },
}


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(
    "kind",
    [
        NotificationKind.PRICE_REFUNDED,
        NotificationKind.PRICE_CLAIM_RECEIVED,
        NotificationKind.PRICE_CLAIM_REJECTED,
        NotificationKind.PRICE_REFUND_MANUAL,
    ],
)
def test_price_protection_templates_render_the_claim(kind, language):
    # when
    rendered = render_email(
        kind,
        PRICE_CONTEXT,
        language_code=language,
        settings=parse_settings({}, active=True),
    )

    # then
    assert "1042" in rendered.subject
    assert "{{" not in rendered.subject + rendered.text + rendered.html
    assert "Trail <Runner>" in rendered.text
    assert "Trail &lt;Runner&gt;" in rendered.html
    if kind is NotificationKind.PRICE_REFUNDED:
        assert "40.00 EUR" in rendered.text
        assert "100.00 EUR" in rendered.text
        assert "80.00 EUR" in rendered.text
        assert "ABCD1234" in rendered.text
    if kind is NotificationKind.PRICE_CLAIM_REJECTED:
        assert "Clearance price" in rendered.text
    if kind is NotificationKind.PRICE_REFUND_MANUAL:
        assert rendered.language == "en"
        assert "z@x.de" in rendered.text


def _survey_context(kind: str) -> dict[str, Any]:
    top = 10 if kind == "nps" else 5
    return {
        "order": {"number": "1042", "customer_first_name": "Zoë"},
        "ticket": {"reference": "T-77", "subject": "Zip & buttons"},
        "store": {"name": "Acme & Co"},
        "survey": {
            "kind": kind,
            "question": "Would you <really> recommend Acme & Co?",
            "scores": [
                {"score": n, "url": f"https://shop.example/s/?token=t&score={n}"}
                for n in range(0 if kind == "nps" else 1, top + 1)
            ],
            "page_url": "https://shop.example/s/?token=t",
            "low_label": "Not at all",
            "high_label": "Very",
            "expires_days": 30,
        },
    }


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("kind", ["nps", "csat"])
def test_survey_emails_carry_every_score_as_a_link(kind, language):
    # when
    rendered = render_email(
        NotificationKind(f"survey_{kind}"),
        _survey_context(kind),
        language_code=language,
        settings=parse_settings({}, active=True),
    )

    # then every score is a link in both parts, and text from outside is escaped
    scores = range(0, 11) if kind == "nps" else range(1, 6)
    for score in scores:
        assert (
            f"{score}: https://shop.example/s/?token=t&score={score}" in rendered.text
        )
        assert f">{score}</a>" in rendered.html
    assert "score&#x3D;11" not in rendered.html
    assert "Would you &lt;really&gt; recommend" in rendered.html
    assert ("1042" if kind == "nps" else "T-77") in rendered.subject
    assert "{{" not in rendered.subject + rendered.text + rendered.html
