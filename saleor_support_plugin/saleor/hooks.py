"""What SupportPlugin's hooks do, kept free of Saleor imports so tests drive it with Saleor-shaped objects.

A hook notes which order changed and why, from attributes already on the
object it gets (ids, a fulfillment's status and tracking number): at most one
INSERT, nothing read, never a lazy relation. Everything else happens in the
worker, which reads the order as it is then (`orders.reconcile`). So several
hooks of one mutation cost a few INSERTs, and the order in which their events
are processed cannot change what the customer hears. A failure is logged and
swallowed: a support feature must never break the merchant's order mutation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from ..orders.models import OrderEventType
from ..orders.services import fulfillment_key, order_key, record_change
from ..price_protection.models import PriceChangeSource
from ..price_protection.services import record_price_change

logger = logging.getLogger(__name__)


def never_raises(hook: Callable[..., Any]) -> Callable[..., None]:
    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            hook(*args, **kwargs)
        except Exception:
            logger.exception(
                "Support plugin hook %s failed; the event was not recorded.",
                hook.__name__,
            )

    return wrapper


def _order_change(order: Any, type: OrderEventType, once: str | None = None) -> None:
    """`once`: the name of a one-off fact (placed, confirmed…): a repeat records nothing."""
    order_id = str(order.pk)
    record_change(
        type=type, order_id=order_id, key=order_key(order_id, once) if once else None
    )


def _fulfillment_change(
    fulfillment: Any, type: OrderEventType, once: str | None = None
) -> None:
    fulfillment_id = str(fulfillment.pk)
    record_change(
        type=type,
        # The foreign key's column: reading `fulfillment.order` could load the order.
        order_id=str(fulfillment.order_id),
        key=fulfillment_key(fulfillment_id, once) if once else None,
        detail={
            "fulfillment_id": fulfillment_id,
            "status": str(fulfillment.status),
            "tracking_number": fulfillment.tracking_number or "",
        },
    )


@never_raises
def order_created(order: Any) -> None:
    _order_change(order, OrderEventType.PLACED, "placed")


@never_raises
def order_confirmed(order: Any) -> None:
    _order_change(order, OrderEventType.CONFIRMED, "confirmed")


@never_raises
def order_fully_paid(order: Any) -> None:
    _order_change(order, OrderEventType.FULLY_PAID)


@never_raises
def order_fulfilled(order: Any) -> None:
    _order_change(order, OrderEventType.FULFILLED)


@never_raises
def order_cancelled(order: Any) -> None:
    _order_change(order, OrderEventType.CANCELLED, "cancelled")


@never_raises
def order_refunded(order: Any) -> None:
    """order_refunded and order_fully_refunded: the reconciler compares refunded totals."""
    _order_change(order, OrderEventType.REFUNDED)


@never_raises
def order_updated(order: Any) -> None:
    """Saleor fires this on almost any change; returns reach plugins only through it."""
    _order_change(order, OrderEventType.UPDATED)


@never_raises
def fulfillment_created(fulfillment: Any) -> None:
    """Record a shipment; it is announced once, when its status is FULFILLED."""
    _fulfillment_change(
        fulfillment,
        OrderEventType.FULFILLMENT_CREATED,
        f"created:{fulfillment.status}",
    )


@never_raises
def fulfillment_approved(fulfillment: Any) -> None:
    """Record an approved shipment (the same fact as fulfillment_created in that status)."""
    fulfillment_created(fulfillment)


@never_raises
def tracking_number_updated(fulfillment: Any) -> None:
    _fulfillment_change(fulfillment, OrderEventType.TRACKING_UPDATED)


@never_raises
def product_variant_updated(variant: Any) -> None:
    """Record that a variant or its channel-listing prices changed (Saleor passes no old prices)."""
    record_price_change(
        variant_id=str(variant.pk), source=PriceChangeSource.VARIANT_UPDATED
    )


@never_raises
def product_variant_discounted_price_updated(change: Any) -> None:
    """Record a promotion's change of a variant's discounted price in one channel."""
    record_price_change(
        variant_id=str(change.variant_id),
        channel_slug=str(change.channel_slug or ""),
        source=PriceChangeSource.DISCOUNTED_PRICE,
    )
