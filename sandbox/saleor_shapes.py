"""Objects shaped like Saleor's Order, OrderLine, Fulfillment (attribute names as in Saleor 3.24).

The readers in `saleor_support_plugin.saleor` accept them as they accept Saleor's
models, so the sandbox's demo data and the tests drive the plugin's real hook
code without Saleor. `fulfill`, `refund` and `return_items` change an order the
way the corresponding Saleor mutations do.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FULFILLMENT_IDS = itertools.count(1)


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


def fulfill(
    order: SaleorOrder, *, tracking_number: str = "", status: str = "fulfilled"
) -> SaleorFulfillment:
    """Fulfill every remaining quantity of `order`, the way Saleor's orderFulfill does."""
    fulfillment = SaleorFulfillment(
        pk=next(FULFILLMENT_IDS),
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
        pk=next(FULFILLMENT_IDS),
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
