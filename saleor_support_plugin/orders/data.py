"""Plain data the plugin reads from its host: what support needs of an order.

Readers in `saleor_support_plugin.saleor.readers` build these from Saleor's
models and the sandbox's Saleor-shaped tables alike. Nothing here knows
Saleor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class OrderLineData:
    line_id: str
    variant_id: str | None
    sku: str | None
    product_name: str
    variant_name: str
    quantity: int
    quantity_fulfilled: int
    currency: str
    unit_price_gross: Decimal
    undiscounted_unit_price_gross: Decimal
    # None when the host does not say (then the gross price stands for it).
    unit_price_net: Decimal | None = None


@dataclass(frozen=True)
class FulfillmentLineData:
    line_id: str
    quantity: int


@dataclass(frozen=True)
class FulfillmentData:
    fulfillment_id: str
    order_id: str
    composed_id: str
    status: str
    tracking_number: str
    created_at: datetime
    lines: tuple[FulfillmentLineData, ...] = ()


@dataclass(frozen=True)
class OrderData:
    order_id: str
    number: str
    channel_slug: str
    status: str
    created_at: datetime
    customer_email: str
    user_id: str | None
    language_code: str
    currency: str
    total_gross: Decimal
    total_refunded: Decimal = Decimal(0)
    customer_first_name: str = ""
    # When money was last refunded, and when the order last changed (None when unknown).
    refunded_at: datetime | None = None
    updated_at: datetime | None = None
    lines: tuple[OrderLineData, ...] = ()
    fulfillments: tuple[FulfillmentData, ...] = field(default=())

    def fulfillment(self, fulfillment_id: str) -> FulfillmentData | None:
        return next(
            (f for f in self.fulfillments if f.fulfillment_id == fulfillment_id), None
        )
