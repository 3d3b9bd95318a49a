"""Both webhooks under generated hostile input: never a 5xx, never a traceback, nothing half-written."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleor_support_plugin.core.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
)
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderEvent
from saleor_support_plugin.tickets.models import InboundEmail, Ticket, TicketMessage

from .fixtures.graphql import PLUGIN_URL
from .fixtures.support import CARRIER_SECRET, CARRIER_URL

INBOUND_SECRET = "inbound-secret"
INBOUND_URL = f"{PLUGIN_URL}/webhooks/inbound-email/"

BOUNDED = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any code point, NUL and lone surrogates included (JSON carries them as \u escapes).
hostile_text = st.text(
    alphabet=st.characters(codec=None, categories=None), max_size=40
) | st.sampled_from(["", " ", "\x00", "\ud800", "a\udfffb", "\u202eevil", "9" * 400])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | hostile_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)
# What a WSGI server can hand over as a header value: Latin-1 without CR and LF.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60
)


def _now() -> datetime:
    return datetime.now(UTC)


def _carrier_base() -> dict[str, Any]:
    return {
        "event_id": "evt-h",
        "tracking_number": "1Z999",
        "status": "in_transit",
        "occurred_at": (_now() - timedelta(hours=1)).isoformat(),
        "estimated_delivery": (_now() + timedelta(days=2)).date().isoformat(),
        "description": "On its way",
        "carrier": "ups",
    }


def _mail_base() -> dict[str, Any]:
    return {
        "from": "Alice <alice@example.com>",
        "to": ["support@acme.example"],
        "subject": "Zipper",
        "text": "It broke.",
        "html": "",
        "message_id": "<h@x>",
        "in_reply_to": "",
        "references": [],
        "authentication_results": "mx.acme.example; dmarc=pass header.from=example.com",
        "authentication": {"dmarc": "pass"},
    }


def _unique(base: dict[str, Any], nonce: int) -> dict[str, Any]:
    """Give a fresh event id / Message-ID, so that valid requests are accepted, not duplicates."""
    if "event_id" in base:
        return {"event_id": f"evt-{nonce}"}
    return {"message_id": f"<{nonce}@x>", "from": f"user{nonce % 50}@example.com"}


def _payloads(base: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Generate the valid shape with some fields replaced, any JSON, or raw bytes."""
    fields = sorted(base)
    overridden = st.builds(
        lambda nonce, changes: json.dumps(
            {**base, **_unique(base, nonce), **changes}
        ).encode(),
        st.integers(min_value=0, max_value=10**9),
        st.dictionaries(
            st.sampled_from(fields), hostile_text | json_values, max_size=2
        ),
    )
    untouched = st.integers(min_value=0, max_value=10**9).map(
        lambda nonce: json.dumps({**base, **_unique(base, nonce)}).encode()
    )
    deep = st.builds(
        lambda opener, depth: (opener * depth).encode(),
        st.sampled_from(["[", '{"a":', "[{}, "]),
        st.integers(min_value=30, max_value=5_000),
    ) | st.just(b"[" * 50_000)
    # Mostly the valid shape with a few fields changed: that reaches the services.
    return st.one_of(
        untouched,
        overridden,
        overridden,
        overridden,
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
        deep,
    )


@st.composite
def requests_for(draw, base: dict[str, Any], secret: str):
    """(body, extra environ): signed correctly, wrongly, or with arbitrary headers."""
    body = draw(_payloads(base))
    how = draw(st.sampled_from(["signed"] * 5 + ["wrong_secret", "arbitrary", "fresh"]))
    if how == "arbitrary":
        headers = draw(
            st.dictionaries(
                st.sampled_from([TIMESTAMP_HEADER, SIGNATURE_HEADER]),
                header_text,
            )
        )
    elif how == "fresh":
        # a current timestamp, so the signature itself is compared
        headers = {
            **signed_headers(secret, body),
            SIGNATURE_HEADER: draw(header_text.filter(str.strip)),
        }
    else:
        headers = signed_headers(secret if how == "signed" else "wrong", body)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": v for name, v in headers.items()}
    # Now and then a Content-Length that is not a size, negative or huge.
    length = draw(
        st.none()
        | header_text.filter(lambda text: not _is_int(text))
        | st.integers(max_value=-1).map(str)
        | st.integers(min_value=3 * 1024 * 1024, max_value=10**30).map(str)
        if draw(st.integers(min_value=0, max_value=5)) == 0
        else st.none()
    )
    if length is not None:
        extra["CONTENT_LENGTH"] = length
    return body, extra


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _counts() -> tuple[int, ...]:
    return (
        OrderEvent.objects.count(),
        InboundEmail.objects.count(),
        Ticket.objects.count(),
        TicketMessage.objects.count(),
        Notification.objects.count(),
    )


def _check(client, caplog, url: str, body: bytes, extra: dict[str, str]) -> None:
    before = _counts()
    caplog.clear()
    response = client.generic(
        "POST", url, body, content_type="application/json", **extra
    )
    # never a server error, never internals
    assert response.status_code < 500, response.content[:300]
    assert b"Traceback" not in response.content
    assert not [record for record in caplog.records if record.exc_info]
    if response.status_code >= 400:
        # a coded refusal, and nothing of it kept
        assert set(response.json()["error"]) >= {"code", "message"}
        assert _counts() == before


@pytest.fixture
def hostile_config(support_config):
    support_config(
        inbound_email_secret=INBOUND_SECRET,
        inbound_email_address="support@acme.example",
        ticket_rate_limit_per_hour="5",
    )


@BOUNDED
@given(sent=requests_for(_carrier_base(), CARRIER_SECRET))
def test_carrier_webhook_never_fails_on_hostile_requests(
    db, client, caplog, hostile_config, sent
):
    caplog.set_level(logging.WARNING)
    _check(client, caplog, CARRIER_URL, *sent)


@BOUNDED
@given(sent=requests_for(_mail_base(), INBOUND_SECRET))
def test_inbound_email_webhook_never_fails_on_hostile_requests(
    db, client, caplog, hostile_config, sent
):
    caplog.set_level(logging.WARNING)
    _check(client, caplog, INBOUND_URL, *sent)
