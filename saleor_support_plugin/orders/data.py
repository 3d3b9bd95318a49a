"""Plain data the plugin reads from its host: what support needs of an order.

Readers in `saleor_support_plugin.saleor.readers` build these from Saleor's
models; tests and the sandbox build them from factories. Nothing here knows
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
    lines: tuple[OrderLineData, ...] = ()
    fulfillments: tuple[FulfillmentData, ...] = field(default=())
