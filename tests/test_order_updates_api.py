"""`supportOrderUpdates`: staff can answer "did the customer get the shipping email?"."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.notifications.selectors import redact_error
from saleor_support_plugin.saleor import hooks

from .factories import SaleorOrderFactory, fulfill
from .fixtures.graphql import get_graphql_content

QUERY_ORDER_UPDATES = """
query updates($order: ID, $number: String) {
  supportOrderUpdates(order: $order, orderNumber: $number) {
    order { number }
    notifications { kind channel recipient status reason attempts lastError messageId sentAt nextAttemptAt }
    events { type source outcome failedAttempts processedAt }
  }
}
"""


@pytest.fixture
def shipped_order(db, mail_config, smtp_server, on_commit):
    order = SaleorOrderFactory.create(user__email="alice@example.com")
    on_commit(hooks.order_confirmed, order)
    fulfillment = fulfill(order, tracking_number="1Z999")
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.fulfillment_created, fulfillment)
    smtp_server.wait_for(2)
    return order


def updates_of(response):
    return get_graphql_content(response)["data"]["supportOrderUpdates"]


def test_staff_see_each_update_with_its_state(shipped_order, staff_api_client):
    # given an order whose confirmation and shipping emails went out
    # when staff ask by Saleor's order ID
    result = updates_of(
        staff_api_client.post_graphql(
            QUERY_ORDER_UPDATES, {"order": to_global_id("Order", str(shipped_order.pk))}
        )
    )
    # then every update is listed with its delivery state
    assert result["order"] == {"number": str(shipped_order.number)}
    sent = [
        (n["kind"], n["channel"], n["recipient"], n["status"], n["attempts"])
        for n in result["notifications"]
    ]
    assert sent == [
        ("CONFIRMED", "EMAIL", "alice@example.com", "SENT", 1),
        ("SHIPPED", "EMAIL", "alice@example.com", "SENT", 1),
    ]
    assert all(
        n["sentAt"] and n["nextAttemptAt"] is None for n in result["notifications"]
    )
    # and every recorded event, processed
    assert {event["type"] for event in result["events"]} >= {
        "confirmed",
        "tracking_updated",
        "fulfillment_created",
    }
    assert all(event["processedAt"] for event in result["events"])


def test_suppressed_and_failed_updates_say_why(
    shipped_order, staff_api_client, support_config
):
    # given one update suppressed and one that failed with credentials in its error
    shipped, confirmed = (
        Notification.objects.get(kind="shipped"),
        Notification.objects.get(kind="confirmed"),
    )
    Notification.objects.filter(pk=shipped.pk).update(
        status=NotificationStatus.SUPPRESSED, reason="unsubscribed"
    )
    Notification.objects.filter(pk=confirmed.pk).update(
        status=NotificationStatus.FAILED,
        reason="gave up after 10 attempts",
        last_error="Connection refused: smtp://mailer:hunter2@mail.example.com:587",
    )
    # when staff ask by order number
    result = updates_of(
        staff_api_client.post_graphql(
            QUERY_ORDER_UPDATES, {"number": f"#{shipped_order.number}"}
        )
    )
    # then each row says why, and no password reaches the API
    by_kind = {n["kind"]: n for n in result["notifications"]}
    assert by_kind["SHIPPED"]["status"] == "SUPPRESSED"
    assert by_kind["SHIPPED"]["reason"] == "unsubscribed"
    assert by_kind["CONFIRMED"]["status"] == "FAILED"
    assert by_kind["CONFIRMED"]["lastError"] == (
        "Connection refused: smtp://***@mail.example.com:587"
    )
    assert "hunter2" not in json.dumps(result)


def test_an_event_that_led_to_no_update_shows_its_outcome(
    shipped_order, staff_api_client, post_carrier_event
):
    # given a carrier event older than the shipment's latest news
    from .fixtures.support import carrier_event

    latest = carrier_event(event_id="late-1", status="delivered")
    earlier = datetime.fromisoformat(latest["occurred_at"]) - timedelta(hours=2)
    assert post_carrier_event(latest).status_code == 202
    assert (
        post_carrier_event(
            carrier_event(
                event_id="late-0", status="in_transit", occurred_at=earlier.isoformat()
            )
        ).status_code
        == 202
    )
    result = updates_of(
        staff_api_client.post_graphql(
            QUERY_ORDER_UPDATES, {"number": str(shipped_order.number)}
        )
    )
    # then every processed event names what it led to, the late one why it led to nothing
    by_outcome = {e["outcome"]: e for e in result["events"]}
    late = by_outcome["ignored: older than the shipment's latest carrier news"]
    assert late["source"] == "carrier"
    assert late["processedAt"]
    assert all(e["outcome"] and e["processedAt"] for e in result["events"])
    assert all(e["failedAttempts"] == 0 for e in result["events"])


@pytest.mark.parametrize(
    "client_name",
    ["customer_api_client", "api_client", "staff_without_permission_api_client"],
)
def test_only_staff_with_the_permission(request, shipped_order, client_name):
    client = request.getfixturevalue(client_name)
    response = client.post_graphql(
        QUERY_ORDER_UPDATES, {"number": str(shipped_order.number)}
    )
    content = json.loads(response.content)
    assert content["data"]["supportOrderUpdates"] is None
    assert "staff" in content["errors"][0]["message"]


@pytest.mark.parametrize(
    "variables",
    [
        {"order": to_global_id("Order", "not-a-uuid")},
        {"order": to_global_id("Order", "0b9c4a4e-7c0e-4f55-9a57-0d0f54b7b0a1")},
        {"number": "999999"},
    ],
)
def test_unknown_orders_answer_null(staff_api_client, db, variables):
    result = updates_of(staff_api_client.post_graphql(QUERY_ORDER_UPDATES, variables))
    assert result is None


def test_exactly_one_of_order_and_number(staff_api_client, db):
    response = staff_api_client.post_graphql(QUERY_ORDER_UPDATES, {})
    assert "exactly one" in json.loads(response.content)["errors"][0]["message"]


def test_query_count_does_not_grow_with_updates(
    shipped_order, staff_api_client, on_commit, smtp_server
):
    # given the order's statements for two updates
    variables = {"number": str(shipped_order.number)}
    with CaptureQueriesContext(connection) as two:
        staff_api_client.post_graphql(QUERY_ORDER_UPDATES, variables)
    # when it gets two more shipments (more updates and events)
    for tracking in ("1Z1000", "1Z1001"):
        fulfillment = fulfill(shipped_order, tracking_number=tracking)
        on_commit(hooks.tracking_number_updated, fulfillment)
        on_commit(hooks.fulfillment_created, fulfillment)
    smtp_server.wait_for(4)
    with CaptureQueriesContext(connection) as four:
        result = updates_of(
            staff_api_client.post_graphql(QUERY_ORDER_UPDATES, variables)
        )
    # then the statements are the same
    assert len(result["notifications"]) == 4
    assert len(four.captured_queries) == len(two.captured_queries)


def test_redact_error_removes_credentials_of_any_scheme():
    assert redact_error("POST https://u:p@hooks.example/x failed") == (
        "POST https://***@hooks.example/x failed"
    )
    assert redact_error("x" * 2000) == "x" * 500
