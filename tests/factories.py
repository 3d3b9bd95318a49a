"""factory-boy factories for Saleor-shaped inputs (see sandbox/saleor_shapes.py).

Factories for the plugin's own models live beside them as tests need them.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import factory

from sandbox.saleor_shapes import (
    RelatedList,
    SaleorChannel,
    SaleorOrder,
    SaleorOrderLine,
    SaleorTransactionItem,
    SaleorUser,
    fulfill,
    refund,
    return_items,
)

__all__ = [
    "SaleorOrderFactory",
    "SaleorOrderLineFactory",
    "SaleorUserFactory",
    "fulfill",
    "refund",
    "return_items",
]

_order_numbers = itertools.count(1000)


class SaleorUserFactory(factory.Factory[SaleorUser]):
    class Meta:
        model = SaleorUser

    pk = factory.Sequence(lambda n: n + 1)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Alice"


class SaleorOrderLineFactory(factory.Factory[SaleorOrderLine]):
    class Meta:
        model = SaleorOrderLine

    pk = factory.LazyFunction(uuid.uuid4)
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


class SaleorOrderFactory(factory.Factory[SaleorOrder]):
    """An order with `lines` (default: one) and no fulfillments."""

    class Meta:
        model = SaleorOrder

    pk = factory.LazyFunction(uuid.uuid4)
    number = factory.LazyFunction(lambda: next(_order_numbers))
    channel = factory.LazyFunction(SaleorChannel)
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
    def lines(self, create, extracted, **kwargs):
        self.lines = RelatedList(
            extracted
            if extracted is not None
            else [SaleorOrderLineFactory(currency=self.currency)]
        )
        self.fulfillments = RelatedList()
        self.payment_transactions = RelatedList([SaleorTransactionItem()])
        self.payments = RelatedList()


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
