"""Demo orders of the sandbox, fed through the plugin's real hook code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from saleor_support_plugin.orders.models import OrderEvent
from saleor_support_plugin.orders.services import process_event
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from sandbox.saleor_shapes import (
    RelatedList,
    SaleorAddress,
    SaleorChannel,
    SaleorFulfillment,
    SaleorFulfillmentLine,
    SaleorOrder,
    SaleorOrderLine,
    SaleorTransactionItem,
    SaleorUser,
)

NAMESPACE = uuid.UUID("5f0c3c52-6a55-4b52-9a8e-2f6f3f1c1a10")


def _order(
    number: int, email: str, first_name: str, language: str, user_pk: int | None
) -> SaleorOrder:
    # Deterministic ids: seeding again reports the same facts, which the plugin ignores.
    order_id = uuid.uuid5(NAMESPACE, f"order-{number}")
    line = SaleorOrderLine(
        pk=uuid.uuid5(NAMESPACE, f"line-{number}"),
        variant_id=number,
        product_name="Trail Runner",
        variant_name="42 / Blue",
        product_sku=f"TR-42-{number}",
        quantity=1,
        quantity_fulfilled=0,
        currency="EUR",
        unit_price_gross_amount=Decimal("89.00"),
        undiscounted_unit_price_gross_amount=Decimal("89.00"),
    )
    return SaleorOrder(
        pk=order_id,
        number=number,
        channel=SaleorChannel(slug="default-channel", currency_code="EUR"),
        status="unfulfilled",
        created_at=datetime.now(UTC) - timedelta(days=1),
        user=SaleorUser(pk=user_pk, email=email, first_name=first_name)
        if user_pk
        else None,
        user_email=email,
        language_code=language,
        currency="EUR",
        total_gross_amount=Decimal("89.00"),
        lines=RelatedList([line]),
        payment_transactions=RelatedList([SaleorTransactionItem()]),
        billing_address=SaleorAddress(first_name=first_name),
    )


def _ship(order: SaleorOrder, tracking_number: str) -> SaleorFulfillment:
    fulfillment = SaleorFulfillment(
        pk=order.number,
        order=order,
        fulfillment_order=1,
        tracking_number=tracking_number,
    )
    for line in order.lines:
        fulfillment.lines.append(
            SaleorFulfillmentLine(order_line_id=line.pk, quantity=line.quantity)
        )
        line.quantity_fulfilled = line.quantity
    order.fulfillments.append(fulfillment)
    order.status = "fulfilled"
    return fulfillment


def seed_orders(users: dict[str, object]) -> list[str]:
    """Alice's order shipped (post carrier events for DEMO-1001), Bob's confirmed in German, a guest's cancelled."""
    alice = users["alice@example.com"]
    bob = users["bob@example.com"]
    shipped = _order(1001, "alice@example.com", "Alice", "en", alice.pk)  # type: ignore[attr-defined]
    confirmed = _order(1002, "bob@example.com", "Bob", "de", bob.pk)  # type: ignore[attr-defined]
    cancelled = _order(1003, "guest@example.com", "Gina", "en", None)
    with transaction.atomic():
        for order in (shipped, confirmed, cancelled):
            hooks.order_created(order)
            hooks.order_confirmed(order)
        fulfillment = _ship(shipped, "DEMO-1001")
        hooks.tracking_number_updated(fulfillment)
        hooks.fulfillment_created(fulfillment)
        cancelled.status = "canceled"
        hooks.order_cancelled(cancelled)
    # Process now rather than waiting for the worker, so the demo tickets seeded
    # next can refer to these orders.
    settings = load_settings()
    for key in OrderEvent.objects.filter(processed_at__isnull=True).values_list(
        "idempotency_key", flat=True
    ):
        process_event(key, settings=settings)
    return [f"#{order.number}" for order in (shipped, confirmed, cancelled)]
