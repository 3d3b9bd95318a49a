"""Plain data the plugin reads from its host: what support needs of an order.

Readers in `saleor_support_plugin.saleor.readers` build these from Saleor's
models; tests and the sandbox build them from factories. Nothing here knows
Saleor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


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


# --- JSON round trip, for the event log


def _line_from(data: dict[str, Any]) -> OrderLineData:
    return OrderLineData(
        **{
            **data,
            "unit_price_gross": Decimal(data["unit_price_gross"]),
            "undiscounted_unit_price_gross": Decimal(
                data["undiscounted_unit_price_gross"]
            ),
        }
    )


def fulfillment_from_payload(data: dict[str, Any]) -> FulfillmentData:
    return FulfillmentData(
        **{
            **data,
            "created_at": datetime.fromisoformat(data["created_at"]),
            "lines": tuple(FulfillmentLineData(**line) for line in data["lines"]),
        }
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def order_from_payload(data: dict[str, Any]) -> OrderData:
    return OrderData(
        **{
            **data,
            "created_at": datetime.fromisoformat(data["created_at"]),
            "total_gross": Decimal(data["total_gross"]),
            "total_refunded": Decimal(data["total_refunded"]),
            "refunded_at": _time(data.get("refunded_at")),
            "updated_at": _time(data.get("updated_at")),
            "lines": tuple(_line_from(line) for line in data["lines"]),
            "fulfillments": tuple(
                fulfillment_from_payload(f) for f in data["fulfillments"]
            ),
        }
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def to_payload(data: OrderData | FulfillmentData) -> dict[str, Any]:
    return _jsonable(dataclasses.asdict(data))
