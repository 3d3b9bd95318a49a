"""The order "as it is now", read in the plugin's worker from the sandbox's tables."""

from __future__ import annotations

import uuid

from saleor_support_plugin.orders.data import OrderData
from saleor_support_plugin.saleor.readers import read_order as read_saleor_shaped

from .models import Order


def read_order(order_id: str) -> OrderData | None:
    """Read the order in a fixed number of queries, whatever its size."""
    try:
        uuid.UUID(order_id)
    except ValueError:
        return None
    order = (
        Order.objects.select_related("user")
        .prefetch_related("lines", "fulfillments__lines", "payment_transactions")
        .filter(pk=order_id)
        .first()
    )
    return read_saleor_shaped(order) if order is not None else None
