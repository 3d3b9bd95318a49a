"""Demo orders of the sandbox, fed through the plugin's real hook code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from graphql_relay import to_global_id

from saleor_support_plugin.orders.models import OrderEvent
from saleor_support_plugin.orders.services import process_event
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from sandbox.order.actions import fulfill, set_status
from sandbox.order.models import (
    Order,
    OrderLine,
    TransactionItem,
    VariantChannelListing,
)

NAMESPACE = uuid.UUID("5f0c3c52-6a55-4b52-9a8e-2f6f3f1c1a10")


def _order(
    number: int, email: str, first_name: str, language: str, user: Any
) -> tuple[Order, bool]:
    """Return demo order `number`, created unless an earlier seeding did (deterministic ids)."""
    order_id = uuid.uuid5(NAMESPACE, f"order-{number}")
    existing = Order.objects.filter(pk=order_id).first()
    if existing is not None:
        _listing(existing)
        return existing, False
    order = Order.objects.create(
        id=order_id,
        number=number,
        status="unfulfilled",
        created_at=datetime.now(UTC) - timedelta(days=1),
        user=user,
        user_email=email,
        billing_first_name=first_name,
        language_code=language,
        currency="EUR",
        total_gross_amount=Decimal("89.00"),
    )
    OrderLine.objects.create(
        id=uuid.uuid5(NAMESPACE, f"line-{number}"),
        order=order,
        variant_id=number,
        product_name="Trail Runner",
        variant_name="42 / Blue",
        product_sku=f"TR-42-{number}",
        quantity=1,
        currency="EUR",
        unit_price_gross_amount=Decimal("89.00"),
        undiscounted_unit_price_gross_amount=Decimal("89.00"),
    )
    TransactionItem.objects.create(order=order, charged_value=order.total_gross_amount)
    _listing(order)
    return order, True


def _listing(order: Order) -> None:
    """List the demo product at its price: `./dev manage set_price <number> <price>` lowers it."""
    VariantChannelListing.objects.get_or_create(
        variant_id=order.number,
        channel_slug=order.channel_slug,
        defaults={
            "product_name": "Trail Runner 42 / Blue",
            "currency": "EUR",
            "price_amount": Decimal("89.00"),
        },
    )


def seed_orders(users: dict[str, object]) -> list[DemoOrder]:
    """Alice's order shipped (post carrier events for DEMO-1001), Bob's confirmed in German, a guest's cancelled."""
    with transaction.atomic():
        shipped, new = _order(
            1001, "alice@example.com", "Alice", "en", users["alice@example.com"]
        )
        confirmed, _ = _order(
            1002, "bob@example.com", "Bob", "de", users["bob@example.com"]
        )
        cancelled, _ = _order(1003, "guest@example.com", "Gina", "en", None)
    # Hooks after the commit, as Saleor calls them.
    for order in (shipped, confirmed, cancelled):
        hooks.order_created(order)
        hooks.order_confirmed(order)
    if new:
        # As Saleor's orderFulfill and orderCancel: change the order, then the hooks.
        fulfillment = fulfill(shipped, tracking_number="DEMO-1001")
        hooks.tracking_number_updated(fulfillment)
        hooks.fulfillment_created(fulfillment)
        set_status(cancelled, "canceled")
        hooks.order_cancelled(cancelled)
    # Process now rather than waiting for the worker, so the demo tickets seeded
    # next can refer to these orders.
    settings = load_settings()
    for key in OrderEvent.objects.filter(processed_at__isnull=True).values_list(
        "idempotency_key", flat=True
    ):
        process_event(key, settings=settings)
    return [
        DemoOrder(shipped, "shipped, tracking number DEMO-1001"),
        DemoOrder(confirmed, "confirmed, German"),
        DemoOrder(cancelled, "cancelled, placed without an account"),
    ]


def demo_orders() -> list[DemoOrder]:
    """Return the seeded demo orders, for the banner."""
    states = {
        1001: "shipped, tracking number DEMO-1001",
        1002: "confirmed, German",
        1003: "cancelled, placed without an account",
        1004: "delivered a week ago, German: its purchase survey was sent",
    }
    return [
        DemoOrder(order, states[order.number])
        for order in Order.objects.filter(number__in=states).order_by("number")
    ]


@dataclass(frozen=True)
class DemoOrder:
    order: Order
    state: str

    @property
    def global_id(self) -> str:
        """The ID Saleor's GraphQL gives the order (`me { orders }`), as the plugin's API takes it."""
        return to_global_id("Order", str(self.order.pk))

    def describe(self) -> str:
        return (
            f"#{self.order.number}  {self.global_id}  "
            f"{self.order.get_customer_email()}  ({self.state})"
        )
