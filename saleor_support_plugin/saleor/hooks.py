"""What SupportPlugin's hooks do, kept free of Saleor imports so tests drive it with Saleor-shaped objects.

Each hook reads the Saleor object into plain data, records one event (one
INSERT, a no-op when the same fact was recorded before) and enqueues its
processing on commit. A failure is logged and swallowed: a support feature
must never break the merchant's order mutation.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from ..orders.models import OrderEventType
from ..orders.services import (
    fulfillment_key,
    order_key,
    record_event,
    tracking_event_key,
)
from .readers import read_order

logger = logging.getLogger(__name__)


def never_raises(hook: Callable[..., Any]) -> Callable[..., None]:
    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            if connection.in_atomic_block:
                # A savepoint: a failed statement of ours must not abort the
                # merchant's transaction.
                with transaction.atomic():
                    hook(*args, **kwargs)
            else:
                hook(*args, **kwargs)
        except Exception:
            logger.exception(
                "Support plugin hook %s failed; the event was not recorded.",
                hook.__name__,
            )

    return wrapper


def _prefetch(order: Any) -> None:
    """Load an order's relations in a fixed number of queries (Saleor models only)."""
    if hasattr(order, "_meta"):
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(
            [order],
            "lines",
            "fulfillments__lines",
            "payment_transactions",
            "payments__transactions",
        )


def _read(order: Any):
    _prefetch(order)
    return read_order(order)


@never_raises
def order_created(order: Any) -> None:
    data = _read(order)
    record_event(
        type=OrderEventType.PLACED, key=order_key(data.order_id, "placed"), order=data
    )


@never_raises
def order_confirmed(order: Any) -> None:
    data = _read(order)
    record_event(
        type=OrderEventType.CONFIRMED,
        key=order_key(data.order_id, "confirmed"),
        order=data,
    )


@never_raises
def order_fully_paid(order: Any) -> None:
    data = _read(order)
    record_event(
        type=OrderEventType.FULLY_PAID,
        key=order_key(data.order_id, "fully_paid"),
        order=data,
    )


@never_raises
def order_fulfilled(order: Any) -> None:
    data = _read(order)
    record_event(
        type=OrderEventType.FULFILLED,
        key=order_key(data.order_id, "fulfilled"),
        order=data,
    )


@never_raises
def order_cancelled(order: Any) -> None:
    data = _read(order)
    record_event(
        type=OrderEventType.CANCELLED,
        key=order_key(data.order_id, "cancelled"),
        order=data,
    )


@never_raises
def order_refunded(order: Any) -> None:
    """Record a refund (order_refunded and order_fully_refunded): one key per new refunded total."""
    data = _read(order)
    key = order_key(data.order_id, f"refunded:{data.total_refunded}")
    record_event(type=OrderEventType.REFUNDED, key=key, order=data)


@never_raises
def order_updated(order: Any) -> None:
    """Record the order's state; Saleor fires this on almost any change, a repeated state is a no-op."""
    data = _read(order)
    state = "|".join(
        [data.status, str(data.total_refunded)]
        + sorted(
            f"{f.fulfillment_id}={f.status}/{f.tracking_number}"
            for f in data.fulfillments
        )
    )
    digest = hashlib.sha256(state.encode()).hexdigest()[:24]
    record_event(
        type=OrderEventType.UPDATED,
        key=order_key(data.order_id, f"updated:{digest}"),
        order=data,
    )


def _record_fulfillment(fulfillment: Any) -> None:
    data = _read(fulfillment.order)
    fulfillment_id = str(fulfillment.pk)
    record_event(
        type=OrderEventType.FULFILLMENT_CREATED,
        key=fulfillment_key(fulfillment_id, f"created:{fulfillment.status}"),
        order=data,
        extra={"fulfillment_id": fulfillment_id},
    )


@never_raises
def fulfillment_created(fulfillment: Any) -> None:
    """Record a shipment; it is announced once, when its status is FULFILLED."""
    _record_fulfillment(fulfillment)


@never_raises
def fulfillment_approved(fulfillment: Any) -> None:
    """Record an approved shipment (the same fact as fulfillment_created in that status)."""
    _record_fulfillment(fulfillment)


@never_raises
def tracking_number_updated(fulfillment: Any) -> None:
    data = _read(fulfillment.order)
    fulfillment_id = str(fulfillment.pk)
    record_event(
        type=OrderEventType.TRACKING_UPDATED,
        key=tracking_event_key(fulfillment_id, fulfillment.tracking_number or ""),
        order=data,
        extra={"fulfillment_id": fulfillment_id},
    )
