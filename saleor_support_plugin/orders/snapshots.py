"""The plugin's copy of an order, written by the reconciler from the order as it is now.

Features (tickets, delays, price protection, surveys) read these rows and never
the host's tables. Written only under the order's lock, from a fresh read, so
the copy is never older than what was last seen.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .data import FulfillmentData, OrderData
from .models import FulfillmentSnapshot, OrderLineSnapshot, OrderSnapshot


def store_snapshot(order: OrderData) -> tuple[OrderSnapshot, bool]:
    """Write the order's current state; return the row and whether it is new (first sight)."""
    now = timezone.now()
    fields = _order_fields(order)
    snapshot = OrderSnapshot.objects.filter(order_id=order.order_id).first()
    first_sight = snapshot is None
    if snapshot is None:
        try:
            with transaction.atomic():
                snapshot = OrderSnapshot.objects.create(**fields, observed_at=now)
        except IntegrityError:
            # Created outside the order lock (an older release, a test factory).
            snapshot = OrderSnapshot.objects.get(order_id=order.order_id)
            first_sight = False
    if not first_sight:
        for name, value in fields.items():
            setattr(snapshot, name, value)
        snapshot.observed_at = now
        snapshot.save()
    _store_lines(snapshot, order)
    for fulfillment in order.fulfillments:
        store_fulfillment(snapshot, fulfillment, now)
    return snapshot, first_sight


def _order_fields(order: OrderData) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "number": order.number,
        "channel_slug": order.channel_slug,
        "status": order.status,
        "placed_at": order.created_at,
        "customer_email": order.customer_email,
        "customer_first_name": order.customer_first_name,
        "user_id": order.user_id,
        "language_code": order.language_code,
        "currency": order.currency,
        "total_gross": order.total_gross,
        "total_refunded": order.total_refunded,
    }


# Fulfillment statuses whose lines the customer no longer has.
GIVEN_BACK_STATUSES = frozenset(
    {"returned", "refunded", "refunded_and_returned", "replaced"}
)


def kept_quantities(order: OrderData) -> dict[str, int]:
    """Per line: bought, minus what was returned, refunded or replaced; 0 when cancelled."""
    given_back: dict[str, int] = {}
    for fulfillment in order.fulfillments:
        if fulfillment.status in GIVEN_BACK_STATUSES:
            for item in fulfillment.lines:
                given_back[item.line_id] = (
                    given_back.get(item.line_id, 0) + item.quantity
                )
    if order.status == "canceled":
        return {line.line_id: 0 for line in order.lines}
    return {
        line.line_id: max(line.quantity - given_back.get(line.line_id, 0), 0)
        for line in order.lines
    }


def _store_lines(snapshot: OrderSnapshot, order: OrderData) -> None:
    kept = kept_quantities(order)
    OrderLineSnapshot.objects.bulk_create(
        [
            OrderLineSnapshot(
                order=snapshot,
                line_id=line.line_id,
                variant_id=line.variant_id,
                sku=line.sku,
                product_name=line.product_name,
                variant_name=line.variant_name,
                quantity=line.quantity,
                quantity_fulfilled=line.quantity_fulfilled,
                currency=line.currency,
                unit_price_gross=line.unit_price_gross,
                unit_price_net=line.unit_price_gross
                if line.unit_price_net is None
                else line.unit_price_net,
                undiscounted_unit_price_gross=line.undiscounted_unit_price_gross,
                channel_slug=order.channel_slug,
                placed_at=order.created_at,
                quantity_kept=kept[line.line_id],
            )
            for line in order.lines
        ],
        update_conflicts=True,
        unique_fields=["line_id"],
        update_fields=[
            "variant_id",
            "sku",
            "product_name",
            "variant_name",
            "quantity",
            "quantity_fulfilled",
            "unit_price_gross",
            "unit_price_net",
            "channel_slug",
            "placed_at",
            "quantity_kept",
        ],
    )


def store_fulfillment(
    snapshot: OrderSnapshot, fulfillment: FulfillmentData, now: Any
) -> FulfillmentSnapshot:
    lines = [
        {"line_id": line.line_id, "quantity": line.quantity}
        for line in fulfillment.lines
    ]
    row, created = FulfillmentSnapshot.objects.get_or_create(
        fulfillment_id=fulfillment.fulfillment_id,
        defaults={
            "order": snapshot,
            "composed_id": fulfillment.composed_id,
            "status": fulfillment.status,
            "tracking_number": fulfillment.tracking_number,
            "created_at": fulfillment.created_at,
            "lines": lines,
            "last_activity_at": fulfillment.created_at,
        },
    )
    if created:
        return row
    changed = (
        row.status != fulfillment.status
        or row.tracking_number != fulfillment.tracking_number
        or row.composed_id != fulfillment.composed_id
        or row.lines != lines
    )
    if row.tracking_number != fulfillment.tracking_number:
        # A new tracking number is a sign of life of the shipment (delay detection).
        row.last_activity_at = max(row.last_activity_at, now)
        row.tracking_changes += 1
    row.status = fulfillment.status
    row.tracking_number = fulfillment.tracking_number
    row.composed_id = fulfillment.composed_id
    row.lines = lines
    if changed:
        row.save()
    return row
