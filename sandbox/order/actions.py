"""Change a sandbox order the way the corresponding Saleor mutations do (and save it).

Callers then call the plugin's hooks, as Saleor does after its mutation.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .models import Fulfillment, FulfillmentLine, Order, TransactionItem


@transaction.atomic
def fulfill(
    order: Order, *, tracking_number: str = "", status: str = "fulfilled"
) -> Fulfillment:
    """Fulfill every remaining quantity of `order`, as Saleor's orderFulfill does."""
    fulfillment = Fulfillment.objects.create(
        order=order,
        fulfillment_order=order.fulfillments.count() + 1,
        status=status,
        tracking_number=tracking_number,
    )
    for line in order.lines.all():
        remaining = line.quantity - line.quantity_fulfilled
        if remaining:
            FulfillmentLine.objects.create(
                fulfillment=fulfillment, order_line=line, quantity=remaining
            )
            line.quantity_fulfilled = line.quantity
            line.save(update_fields=["quantity_fulfilled"])
    order.status = "fulfilled"
    order.save(update_fields=["status", "updated_at"])
    return fulfillment


def update_tracking(fulfillment: Fulfillment, tracking_number: str) -> None:
    """As orderFulfillmentUpdateTracking."""
    fulfillment.tracking_number = tracking_number
    fulfillment.save(update_fields=["tracking_number"])


def approve(fulfillment: Fulfillment) -> None:
    """As orderFulfillmentApprove."""
    fulfillment.status = "fulfilled"
    fulfillment.save(update_fields=["status"])


def set_status(order: Order, status: str) -> None:
    """As orderConfirm / orderCancel: the order's status changes."""
    order.status = status
    order.save(update_fields=["status", "updated_at"])


def refund(order: Order, amount: Decimal) -> None:
    """Record a refund the way a payment app reports it (TransactionItem.refunded_value grows)."""
    item = order.payment_transactions.first()
    if item is None:
        item = TransactionItem.objects.create(order=order)
    item.refunded_value += amount
    item.modified_at = timezone.now()
    item.save(update_fields=["refunded_value", "modified_at"])


@transaction.atomic
def return_items(order: Order, *, status: str = "returned") -> Fulfillment:
    """Return everything shipped, as orderFulfillmentReturnProducts: a new fulfillment in a return status."""
    returned = Fulfillment.objects.create(
        order=order, fulfillment_order=order.fulfillments.count() + 1, status=status
    )
    for line in order.lines.all():
        if line.quantity_fulfilled:
            FulfillmentLine.objects.create(
                fulfillment=returned, order_line=line, quantity=line.quantity_fulfilled
            )
    order.status = "returned"
    order.save(update_fields=["status", "updated_at"])
    return returned
