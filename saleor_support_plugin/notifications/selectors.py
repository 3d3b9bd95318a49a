"""Reads of the outbox for staff: what a customer was told about an order, and why not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import QuerySet

from ..auth import Requestor
from ..conf import SupportSettings
from ..core.errors import PermissionDenied
from ..orders.models import OrderEvent, OrderSnapshot
from .models import Notification

# Errors are stored as the remote side said them; a URL in one may carry
# credentials (`scheme://user:password@host`), which staff need not see.
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
LAST_ERROR_MAX_LENGTH = 500


def redact_error(text: str) -> str:
    return _CREDENTIALS.sub(r"\g<scheme>***@", text or "")[:LAST_ERROR_MAX_LENGTH]


@dataclass(frozen=True)
class OrderUpdates:
    order_id: str
    order: OrderSnapshot | None
    notifications: list[Notification]
    events: list[OrderEvent]


def order_updates(
    *, requestor: Requestor, settings: SupportSettings, order_id: str
) -> OrderUpdates:
    """Every outbox row and event of one order, oldest first (staff only; three queries)."""
    if not (requestor.is_staff and requestor.has_perm(settings.staff_permission)):
        raise PermissionDenied
    notifications: QuerySet[Notification] = Notification.objects.filter(
        order_id=order_id
    ).order_by("created_at", "id")
    events: QuerySet[OrderEvent] = (
        OrderEvent.objects.filter(order_id=order_id)
        .defer("payload")
        .order_by("created_at", "id")
    )
    return OrderUpdates(
        order_id=order_id,
        order=OrderSnapshot.objects.filter(order_id=order_id).first(),
        notifications=list(notifications),
        events=list(events),
    )


def order_id_for_number(number: str) -> str | None:
    return (
        OrderSnapshot.objects.filter(number=(number or "").strip().lstrip("#"))
        .values_list("order_id", flat=True)
        .first()
    )
