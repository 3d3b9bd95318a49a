"""Turn Saleor's Order, OrderLine and Fulfillment into the plugin's plain dataclasses.

Duck-typed on purpose: these functions read attributes Saleor's models have
(see ../shared/docs/saleor-3.24.md) and import nothing from Saleor, so tests
feed them Saleor-shaped factory objects.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..orders.data import FulfillmentData, FulfillmentLineData, OrderData, OrderLineData


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else _decimal(value)


def read_line(line: Any) -> OrderLineData:
    variant_id = getattr(line, "variant_id", None)
    return OrderLineData(
        line_id=str(line.pk),
        variant_id=str(variant_id) if variant_id is not None else None,
        sku=line.product_sku or None,
        product_name=line.product_name or "",
        variant_name=line.variant_name or "",
        quantity=int(line.quantity),
        quantity_fulfilled=int(line.quantity_fulfilled or 0),
        currency=line.currency,
        unit_price_gross=_decimal(line.unit_price_gross_amount),
        undiscounted_unit_price_gross=_decimal(
            line.undiscounted_unit_price_gross_amount
        ),
        unit_price_net=_optional_decimal(getattr(line, "unit_price_net_amount", None)),
    )


def read_fulfillment(fulfillment: Any, *, order_number: Any = None) -> FulfillmentData:
    number = order_number if order_number is not None else fulfillment.order.number
    return FulfillmentData(
        fulfillment_id=str(fulfillment.pk),
        order_id=str(fulfillment.order_id),
        composed_id=f"{number}-{fulfillment.fulfillment_order}",
        status=str(fulfillment.status),
        tracking_number=fulfillment.tracking_number or "",
        created_at=fulfillment.created_at,
        lines=tuple(
            FulfillmentLineData(
                line_id=str(item.order_line_id), quantity=int(item.quantity)
            )
            for item in fulfillment.lines.all()
        ),
    )


def read_refunded_at(order: Any) -> datetime | None:
    """When money was last returned: the latest refunding transaction's change."""
    times = [
        t.modified_at
        for t in order.payment_transactions.all()
        if _decimal(t.refunded_value) > 0 and getattr(t, "modified_at", None)
    ]
    for payment in order.payments.all():
        times += [
            t.created_at
            for t in payment.transactions.all()
            if t.kind == "refund" and t.is_success
        ]
    return max(times, default=None)


def read_refunded_amount(order: Any) -> Decimal:
    """Money returned to the customer so far: transactions, plus legacy payments' refunds."""
    total = sum(
        (_decimal(t.refunded_value) for t in order.payment_transactions.all()),
        Decimal(0),
    )
    for payment in order.payments.all():
        total += sum(
            (
                _decimal(t.amount)
                for t in payment.transactions.all()
                if t.kind == "refund" and t.is_success
            ),
            Decimal(0),
        )
    return total


def _first_name(order: Any) -> str:
    address = getattr(order, "billing_address", None)
    if address is not None and address.first_name:
        return address.first_name
    user = getattr(order, "user", None)
    return (user.first_name or "") if user is not None else ""


def read_order(order: Any) -> OrderData:
    user_id = getattr(order, "user_id", None)
    return OrderData(
        order_id=str(order.pk),
        number=str(order.number),
        channel_slug=order.channel.slug,
        status=str(order.status),
        created_at=order.created_at,
        customer_email=(order.get_customer_email() or "").lower(),
        user_id=str(user_id) if user_id is not None else None,
        language_code=order.language_code or "en",
        currency=order.currency,
        total_gross=_decimal(order.total_gross_amount),
        total_refunded=read_refunded_amount(order),
        refunded_at=read_refunded_at(order),
        updated_at=getattr(order, "updated_at", None),
        customer_first_name=_first_name(order),
        lines=tuple(read_line(line) for line in order.lines.all()),
        fulfillments=tuple(
            read_fulfillment(fulfillment, order_number=order.number)
            for fulfillment in order.fulfillments.all()
        ),
    )
