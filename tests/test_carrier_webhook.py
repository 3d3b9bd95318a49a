"""The carrier webhook over real HTTP: signed, fresh, once, well-formed, bounded."""

import json
import time

import pytest
import requests

from saleor_support_plugin.orders.models import FulfillmentSnapshot, OrderEvent
from saleor_support_plugin.webhooks.carrier import MAX_BODY_BYTES

from .fixtures.support import CARRIER_URL, carrier_event, signed_carrier_request


@pytest.fixture
def carrier_url(live_server, support_config):
    return f"{live_server.url}{CARRIER_URL}"


def post(url, body, headers=None):
    return requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=10,
    )


def test_valid_event_is_accepted_and_logged_once(carrier_url):
    sent = carrier_event(event_id="ok-1")
    raw, headers = signed_carrier_request(sent)
    response = post(carrier_url, raw, headers)
    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "event_id": "ok-1",
        "outcome": "pending: tracking number not known yet (the event waits up to an"
        " hour for the shipment)",
    }
    event = OrderEvent.objects.get(idempotency_key="carrier:ok-1")
    assert event.payload["extra"]["status"] == "out_for_delivery"
    assert event.payload["extra"]["estimated_delivery"] == sent["estimated_delivery"]


def test_replayed_event_id_is_rejected_and_changes_nothing(carrier_url):
    raw, headers = signed_carrier_request(carrier_event(event_id="replay-1"))
    assert post(carrier_url, raw, headers).status_code == 202
    # the same event id again, even re-signed with a new body
    raw2, headers2 = signed_carrier_request(
        carrier_event(event_id="replay-1", status="delivered")
    )
    response = post(carrier_url, raw2, headers2)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_event"
    assert (
        OrderEvent.objects.get(idempotency_key="carrier:replay-1").payload["extra"][
            "status"
        ]
        == "out_for_delivery"
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({"X-Support-Timestamp": "{now}"}, "signature_missing"),
        (
            {
                "X-Support-Timestamp": "{now}",
                "X-Support-Signature": "sha256=" + "0" * 64,
            },
            "invalid_signature",
        ),
        (
            {"X-Support-Timestamp": "yesterday", "X-Support-Signature": "sha256=abc"},
            "invalid_timestamp",
        ),
    ],
)
def test_unsigned_or_badly_signed_request_is_401(carrier_url, headers, code):
    raw = json.dumps(carrier_event()).encode()
    now = str(int(time.time()))
    response = post(
        carrier_url,
        raw,
        {key: value.replace("{now}", now) for key, value in headers.items()},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert OrderEvent.objects.count() == 0


def test_signature_with_another_secret_is_401(carrier_url):
    raw, headers = signed_carrier_request(
        carrier_event(), secret="not-the-store-secret"
    )
    response = post(carrier_url, raw, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


def test_body_changed_after_signing_is_401(carrier_url):
    raw, headers = signed_carrier_request(carrier_event(status="in_transit"))
    tampered = raw.replace(b"in_transit", b"delivered")
    assert post(carrier_url, tampered, headers).status_code == 401


@pytest.mark.parametrize(
    "age", [400, -400]
)  # clear of the 300 s tolerance on a slow run
def test_stale_or_future_timestamp_is_401(carrier_url, age):
    raw, headers = signed_carrier_request(carrier_event(), now=time.time() - age)
    response = post(carrier_url, raw, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stale_timestamp"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (json.dumps(carrier_event(status="lost_in_space")).encode(), "status"),
        (json.dumps(carrier_event(event_id="")).encode(), "event_id"),
        (json.dumps(carrier_event(tracking_number=None)).encode(), "tracking_number"),
        (json.dumps(carrier_event(tracking_number=123)).encode(), "tracking_number"),
        (json.dumps(carrier_event(occurred_at="yesterday")).encode(), "occurred_at"),
        (
            json.dumps(carrier_event(occurred_at="2026-11-23T08:15:00")).encode(),
            "occurred_at",
        ),
        (
            json.dumps(carrier_event(estimated_delivery="soon")).encode(),
            "estimated_delivery",
        ),
        (json.dumps(carrier_event(description="x" * 1001)).encode(), "description"),
        (
            json.dumps(carrier_event(occurred_at="9999-12-31T23:59:59-14:00")).encode(),
            "occurred_at",
        ),
        (
            json.dumps(carrier_event(occurred_at="0001-01-01T00:00:00+14:00")).encode(),
            "occurred_at",
        ),
        (
            json.dumps(carrier_event(estimated_delivery="9999-12-31")).encode(),
            "estimated_delivery",
        ),
        (
            json.dumps(carrier_event(estimated_delivery="0001-01-01")).encode(),
            "estimated_delivery",
        ),
    ],
)
def test_malformed_payload_is_400_naming_the_field(carrier_url, body, field):
    raw, headers = signed_carrier_request(body)
    response = post(carrier_url, raw, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["field"] == field
    assert OrderEvent.objects.count() == 0


def test_oversized_payload_is_413(carrier_url):
    event = carrier_event(padding="x" * MAX_BODY_BYTES)
    raw, headers = signed_carrier_request(event)
    response = post(carrier_url, raw, headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert OrderEvent.objects.count() == 0


def test_closed_when_no_secret_is_configured(live_server, support_config):
    support_config(carrier_webhook_secret="")
    raw, headers = signed_carrier_request(carrier_event())
    response = post(f"{live_server.url}{CARRIER_URL}", raw, headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "webhook_not_configured"


def test_get_is_405(carrier_url):
    response = requests.get(carrier_url, timeout=10)
    assert response.status_code == 405


def test_description_is_stored_as_plain_text(carrier_url):
    event = carrier_event(
        event_id="xss-1",
        description="<script>alert(1)</script>Left at <b>door</b> &amp; porch",
    )
    raw, headers = signed_carrier_request(event)
    assert post(carrier_url, raw, headers).status_code == 202
    stored = OrderEvent.objects.get(idempotency_key="carrier:xss-1").payload["extra"][
        "description"
    ]
    assert stored == "Left at door & porch"


def test_unknown_tracking_number_waits_then_is_given_up(
    carrier_url, django_capture_on_commit_callbacks
):
    raw, headers = signed_carrier_request(
        carrier_event(event_id="orphan-1", tracking_number="NOPE")
    )
    assert post(carrier_url, raw, headers).status_code == 202
    event = OrderEvent.objects.get(idempotency_key="carrier:orphan-1")
    assert event.processed_at is None
    assert event.outcome == (
        "pending: tracking number not known yet (the event waits up to an hour"
        " for the shipment)"
    )
    assert not FulfillmentSnapshot.objects.exists()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "invalid_json", "body"),
        (b"\xff\xfe", "invalid_json", "body"),
        (b"[" * 50_000, "too_deep", "body"),
        (b'{"event_id": ' + b"[" * 40 + b"]" * 40 + b"}", "too_deep", "body"),
        (
            json.dumps(carrier_event(event_id="evt\x00")).encode(),
            "invalid_characters",
            "event_id",
        ),
        (
            json.dumps(carrier_event(tracking_number="1Z\ud800")).encode(),
            "invalid_characters",
            "tracking_number",
        ),
        (
            json.dumps(carrier_event(description="Left at door \udfff")).encode(),
            "invalid_characters",
            "description",
        ),
    ],
)
def test_hostile_signed_body_is_a_coded_400_without_traceback(
    carrier_url, caplog, body, code, field
):
    # given a body signed with the store's secret: signed is not the same as sane
    raw, headers = signed_carrier_request(body)
    # when
    response = post(carrier_url, raw, headers)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert "Traceback" not in caplog.text
    assert OrderEvent.objects.count() == 0


def test_unsigned_deep_body_is_401_before_it_is_parsed(carrier_url):
    response = post(carrier_url, b"[" * 50_000)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_missing"


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_non_numeric_content_length_is_400(live_server, support_config, length):
    # given a request whose Content-Length is not a number (requests would fix it)
    import http.client
    from urllib.parse import urlsplit

    raw, headers = signed_carrier_request(carrier_event())
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    # when
    connection.putrequest("POST", CARRIER_URL)
    for name, value in {
        **headers,
        "Content-Type": "application/json",
        "Content-Length": length,
    }.items():
        connection.putheader(name, value)
    connection.endheaders(raw)
    response = connection.getresponse()
    # then
    assert response.status == 400
    assert json.loads(response.read())["error"]["code"] == "invalid_content_length"
    connection.close()
    assert OrderEvent.objects.count() == 0


def test_the_answer_says_what_each_event_led_to(
    db, mail_config, smtp_server, on_commit, post_carrier_event
):
    # given a shipped order
    from saleor_support_plugin.saleor import hooks

    from .factories import SaleorOrderFactory, fulfill

    order = SaleorOrderFactory.create()
    fulfillment = fulfill(order, tracking_number="ANS-1")
    on_commit(hooks.fulfillment_created, fulfillment)

    def outcome(event_id, status):
        response = post_carrier_event(
            carrier_event(event_id=event_id, tracking_number="ANS-1", status=status)
        )
        assert response.status_code == 202
        return response.json()["outcome"]

    # when the carrier reports, in the order a newcomer might try
    answers = [
        outcome("a1", "in_transit"),
        outcome("a2", "out_for_delivery"),
        outcome("a3", "delivered"),
        outcome("a4", "exception"),
        outcome("a5", "delivered"),
    ]
    # then each answer says what happened
    assert answers == [
        "recorded: no customer update for this news",
        "out_for_delivery queued",
        "delivered queued",
        "ignored: the shipment was already delivered",
        "delivered already told",
    ]
