"""factory-boy factories for Saleor-shaped inputs.

The objects carry the attributes the readers in `saleor_support_plugin.saleor`
use on Saleor's Order, OrderLine and Fulfillment (names as in Saleor 3.24), so
hook code is exercised without Saleor. Factories for the plugin's own models
live beside them as the models appear.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import factory


class RelatedList(list):
    """Quacks like a related manager: `.all()`."""

    def all(self):
        return list(self)


@dataclass
class SaleorChannel:
    slug: str = "default-channel"
    currency_code: str = "USD"


@dataclass
class SaleorUser:
    pk: int
    email: str
    first_name: str = ""
    language_code: str = "en"

    @property
    def id(self) -> int:
        return self.pk


@dataclass
class SaleorAddress:
    first_name: str = ""


@dataclass
class SaleorTransactionItem:
    """Saleor's TransactionItem (the Transactions API): what the payment app refunded."""

    refunded_value: Decimal = Decimal(0)


@dataclass
class SaleorOrderLine:
    pk: uuid.UUID
    variant_id: int | None
    product_name: str
    variant_name: str
    product_sku: str | None
    quantity: int
    quantity_fulfilled: int
    currency: str
    unit_price_gross_amount: Decimal
    undiscounted_unit_price_gross_amount: Decimal


@dataclass
class SaleorFulfillmentLine:
    order_line_id: uuid.UUID
    quantity: int


@dataclass
class SaleorFulfillment:
    pk: int
    order: Any
    fulfillment_order: int
    status: str = "fulfilled"
    tracking_number: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    lines: RelatedList = field(default_factory=RelatedList)

    @property
    def order_id(self):
        return self.order.pk

    @property
    def composed_id(self) -> str:
        return f"{self.order.number}-{self.fulfillment_order}"


@dataclass
class SaleorOrder:
    pk: uuid.UUID
    number: int
    channel: SaleorChannel
    status: str
    created_at: datetime
    user: SaleorUser | None
    user_email: str
    language_code: str
    currency: str
    total_gross_amount: Decimal
    lines: RelatedList = field(default_factory=RelatedList)
    fulfillments: RelatedList = field(default_factory=RelatedList)
    payment_transactions: RelatedList = field(default_factory=RelatedList)
    payments: RelatedList = field(default_factory=RelatedList)
    billing_address: SaleorAddress | None = None

    @property
    def id(self):
        return self.pk

    @property
    def user_id(self):
        return self.user.pk if self.user else None

    def get_customer_email(self) -> str:
        return self.user.email if self.user else self.user_email


_order_numbers = itertools.count(1000)
_fulfillment_ids = itertools.count(1)


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


def fulfill(
    order: SaleorOrder, *, tracking_number: str = "", status: str = "fulfilled"
) -> SaleorFulfillment:
    """Fulfill every remaining quantity of `order`, the way Saleor's orderFulfill does."""
    fulfillment = SaleorFulfillment(
        pk=next(_fulfillment_ids),
        order=order,
        fulfillment_order=len(order.fulfillments) + 1,
        status=status,
        tracking_number=tracking_number,
    )
    for line in order.lines:
        remaining = line.quantity - line.quantity_fulfilled
        if remaining:
            fulfillment.lines.append(
                SaleorFulfillmentLine(order_line_id=line.pk, quantity=remaining)
            )
            line.quantity_fulfilled = line.quantity
    order.fulfillments.append(fulfillment)
    order.status = "fulfilled"
    return fulfillment


def refund(order: SaleorOrder, amount: Decimal) -> None:
    """Record a refund the way a payment app reports it (TransactionItem.refunded_value grows)."""
    order.payment_transactions[0].refunded_value += amount


def return_items(order: SaleorOrder, *, status: str = "returned") -> SaleorFulfillment:
    """Return everything shipped, as orderFulfillmentReturnProducts does: a new fulfillment in a return status."""
    returned = SaleorFulfillment(
        pk=next(_fulfillment_ids),
        order=order,
        fulfillment_order=len(order.fulfillments) + 1,
        status=status,
    )
    for line in order.lines:
        if line.quantity_fulfilled:
            returned.lines.append(
                SaleorFulfillmentLine(
                    order_line_id=line.pk, quantity=line.quantity_fulfilled
                )
            )
    order.fulfillments.append(returned)
    order.status = "returned"
    return returned
