"""factory-boy factories: the sandbox's Saleor-shaped orders (sandbox/order) and the plugin's models.

Orders are rows, as Saleor's are: the plugin's worker reads the order as it is
now, so a test changes an order the way Saleor's mutations do
(`sandbox.order.actions`) and then calls the hooks.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model

from sandbox.order.actions import (
    approve,
    fulfill,
    refund,
    return_items,
    set_status,
    update_tracking,
)
from sandbox.order.models import Order, OrderLine, TransactionItem

__all__ = [
    "SaleorOrderFactory",
    "SaleorOrderLineFactory",
    "SaleorUserFactory",
    "approve",
    "fulfill",
    "refund",
    "return_items",
    "set_status",
    "update_tracking",
]

_order_numbers = itertools.count(1000)


class SaleorUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.LazyAttribute(lambda u: u.email)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Alice"


class SaleorOrderLineFactory(factory.Factory):
    """An unsaved line: the order factory saves it with its order."""

    class Meta:
        model = OrderLine

    id = factory.LazyFunction(uuid.uuid4)
    variant_id = factory.Sequence(lambda n: n + 100)
    product_name = "Trail Runner"
    variant_name = "42 / Blue"
    product_sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    quantity = 1
    quantity_fulfilled = 0
    currency = "USD"
    unit_price_gross_amount = Decimal("59.90")
    undiscounted_unit_price_gross_amount = factory.SelfAttribute(
        "unit_price_gross_amount"
    )


class SaleorOrderFactory(factory.django.DjangoModelFactory):
    """An order with `lines` (default: one), a payment transaction and no fulfillments."""

    class Meta:
        model = Order
        skip_postgeneration_save = True  # the lines hook saves what it adds

    id = factory.LazyFunction(uuid.uuid4)
    number = factory.LazyFunction(lambda: next(_order_numbers))
    status = "unfulfilled"
    created_at = factory.LazyFunction(lambda: datetime.now(UTC))
    user = factory.SubFactory(SaleorUserFactory)
    user_email = factory.LazyAttribute(
        lambda o: o.user.email if o.user else "guest@example.com"
    )
    language_code = "en"
    currency = "USD"
    total_gross_amount = Decimal("59.90")

    @factory.post_generation
    def lines(order: Any, create, extracted, **kwargs):  # noqa: N805 (the built Order)
        lines = (
            extracted
            if extracted is not None
            else [SaleorOrderLineFactory.build(currency=order.currency)]
        )
        for line in lines:
            line.order = order
            line.save()
        # Paid in full through one transaction, as a checkout leaves it.
        TransactionItem.objects.create(
            order=order, charged_value=order.total_gross_amount
        )


# --- the plugin's own models


class OrderSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "saleor_support_plugin.OrderSnapshot"

    order_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    number = factory.Sequence(lambda n: str(5000 + n))
    channel_slug = "default-channel"
    status = "unfulfilled"
    placed_at = factory.LazyFunction(lambda: datetime.now(UTC))
    customer_email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    user_id = None
    language_code = "en"
    currency = "USD"
    total_gross = Decimal("59.90")
    observed_at = factory.LazyFunction(lambda: datetime.now(UTC))


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "saleor_support_plugin.Ticket"

    number = factory.Sequence(lambda n: 900_000 + n)
    subject = factory.Sequence(lambda n: f"Question {n}")
    customer_email = factory.Sequence(lambda n: f"buyer{n}@example.com")


class TicketMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "saleor_support_plugin.TicketMessage"

    ticket = factory.SubFactory(TicketFactory)
    author_kind = "customer"
    body_html = "Hello"
    body_text = "Hello"
