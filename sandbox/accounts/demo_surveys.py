"""A demo order delivered over a week ago, so `./dev run` sends its purchase survey (NPS, German)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction

from saleor_support_plugin.orders.models import (
    OrderEvent,
    OrderEventSource,
    OrderEventType,
)
from saleor_support_plugin.orders.services import process_event, record_event
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.surveys.models import Survey
from saleor_support_plugin.surveys.scheduling import plan_surveys, send_due_surveys
from sandbox.order.actions import fulfill
from sandbox.order.models import Fulfillment, Order

from .demo_orders import DemoOrder, _order

DELIVERED_DAYS_AGO = 8


def seed_surveys(users: dict[str, object]) -> DemoOrder:
    """Bob's order #1004: shipped 10 days ago, delivered 8 days ago (carrier news), survey due."""
    now = datetime.now(UTC)
    with transaction.atomic():
        order, new = _order(
            1004, "bob@example.com", "Bob", "de", users["bob@example.com"]
        )
        if new:
            order.created_at = now - timedelta(days=11)
            order.save(update_fields=["created_at"])
    if new:
        fulfillment = fulfill(order, tracking_number="DEMO-1004")
        Fulfillment.objects.filter(pk=fulfillment.pk).update(
            created_at=now - timedelta(days=10)
        )
        hooks.order_created(order)
        hooks.fulfillment_created(fulfillment)
    # After the hooks' own on-commit work (at once outside a transaction), as a
    # worker would see it: the shipment is known before its carrier news.
    transaction.on_commit(lambda: _deliver_and_survey(order))
    survey = Survey.objects.filter(order__number="1004").first()
    state = f"survey {survey.state}" if survey is not None else "no survey"
    return DemoOrder(order, f"delivered {DELIVERED_DAYS_AGO} days ago, German; {state}")


def _deliver_and_survey(order: Order) -> None:
    now = datetime.now(UTC)
    settings = load_settings()
    # This order's events only: anything else pending is the worker's (and a
    # row that cannot be processed must not be tried twice by one seeding).
    for key in OrderEvent.objects.filter(
        processed_at__isnull=True, order_id=str(order.pk)
    ).values_list("idempotency_key", flat=True):
        process_event(key, settings=settings)
    delivered = now - timedelta(days=DELIVERED_DAYS_AGO)
    # The carrier's delivery news, as the carrier webhook records it.
    if record_event(
        type=OrderEventType.CARRIER,
        key="carrier:demo-1004-delivered",
        source=OrderEventSource.CARRIER,
        occurred_at=delivered,
        extra={
            "event_id": "demo-1004-delivered",
            "tracking_number": "DEMO-1004",
            "status": "delivered",
            "occurred_at": delivered.isoformat(),
            "estimated_delivery": None,
            "description": "Delivered to the front door",
            "carrier": "sandbox",
        },
    ):
        process_event("carrier:demo-1004-delivered", settings=settings)
    # As the periodic surveys task does, now rather than within five minutes.
    plan_surveys(settings=settings)
    send_due_surveys(settings=settings)
