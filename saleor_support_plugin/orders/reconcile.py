"""The reconciler: tell the customer exactly what they have not been told about an order.

Every hook only records that an order changed. Here, holding that order's lock,
the worker reads the order as it is now (the host's `read_order` port: Saleor's
writer database inside Saleor, the sandbox's tables outside it), reads what
the outbox says the customer was already told, and plans the difference:

- a fulfillment in FULFILLED status with no "shipped" row → shipped;
- its tracking number differs from the last one announced → tracking updated
  (A → B → A announces A again: each announcement is numbered);
- a fulfillment in a return status with no "return" row → return received;
- refunded total above the highest total announced → refund issued, for the
  difference;
- an order Saleor reported confirmed, still going ahead, without that row →
  confirmed; a cancelled order without that row → cancelled.

Decisions compare levels, never two snapshots, so the order in which events
arrive, repeats and races between workers all give the same emails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import SupportSettings
from ..notifications.kinds import NotificationKind
from ..notifications.models import Notification, NotificationChannel
from .data import OrderData
from .locks import lock_order
from .models import OrderEvent, OrderEventType

logger = logging.getLogger(__name__)

FULFILLED = "fulfilled"
CANCELED = "canceled"  # Saleor's spelling of OrderStatus.CANCELED
RETURN_STATUSES = frozenset({"returned", "refunded_and_returned", "replaced"})
# Statuses of an order that was confirmed and is going ahead.
CONFIRMED_STATUSES = frozenset(
    {
        "unfulfilled",
        "partially_fulfilled",
        "fulfilled",
        "partially_returned",
        "returned",
    }
)
# Kinds the reconciler decides; carrier news and delays are decided per event.
RECONCILED_KINDS = frozenset(
    {
        NotificationKind.CONFIRMED,
        NotificationKind.SHIPPED,
        NotificationKind.TRACKING_UPDATED,
        NotificationKind.RETURN_RECEIVED,
        NotificationKind.REFUND_ISSUED,
        NotificationKind.CANCELLED,
    }
)
# Events from Saleor's hooks: each only says "this order changed".
HOOK_EVENT_TYPES = frozenset(
    {
        OrderEventType.PLACED,
        OrderEventType.CONFIRMED,
        OrderEventType.FULLY_PAID,
        OrderEventType.FULFILLMENT_CREATED,
        OrderEventType.TRACKING_UPDATED,
        OrderEventType.FULFILLED,
        OrderEventType.CANCELLED,
        OrderEventType.REFUNDED,
        OrderEventType.UPDATED,
    }
)
# A fact older than this, seen when the plugin meets the order for the first
# time (it was installed later, or the order predates it), is history: it is
# recorded as told (suppressed, with the reason) and not sent.
NEWS_WINDOW = timedelta(days=2)
HISTORY = "it happened before the plugin knew the order"


@dataclass(frozen=True)
class NotificationPlan:
    """A customer update: `key` names the fact, so it is written (and sent) once."""

    kind: NotificationKind
    key: str
    context: dict[str, Any] = field(default_factory=dict)
    # Written as suppressed with this reason instead of being sent.
    suppressed: str = ""


@dataclass
class Told:
    """What the outbox says the customer was told (or deliberately not) about one order."""

    keys: set[str] = field(default_factory=set)
    # fulfillment id -> (number of tracking announcements, last tracking number announced)
    tracking: dict[str, tuple[int, str]] = field(default_factory=dict)
    refunded_total: Decimal = Decimal(0)

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, dict[str, Any]]]) -> Told:
        """`rows`: (plan key, kind, context) of the order's email rows, any status."""
        told = cls()
        for key, kind, context in rows:
            told.keys.add(key)
            fulfillment = (context or {}).get("fulfillment") or {}
            if kind == NotificationKind.SHIPPED:
                fid = key.removeprefix("shipped:")
                count, _ = told.tracking.get(fid, (0, ""))
                if count == 0:
                    told.tracking[fid] = (
                        0,
                        str(fulfillment.get("tracking_number", "")),
                    )
            elif kind == NotificationKind.TRACKING_UPDATED:
                # tracking:<fulfillment id>:<announcement number>
                _, fid, number = ([*key.split(":"), "", ""])[:3]
                index = int(number) if number.isdigit() else 0
                count, _ = told.tracking.get(fid, (0, ""))
                if index >= count:
                    told.tracking[fid] = (
                        index,
                        str(fulfillment.get("tracking_number", "")),
                    )
            elif kind == NotificationKind.REFUND_ISSUED:
                try:
                    total = Decimal(key.rsplit(":", 1)[1])
                except (InvalidOperation, IndexError):
                    continue
                told.refunded_total = max(told.refunded_total, total)
        return told


def plan_updates(
    order: OrderData,
    told: Told,
    *,
    first_sight: bool,
    now: datetime,
    confirmed: bool = False,
    explained_refunds: Decimal = Decimal(0),
) -> list[NotificationPlan]:
    """Plan the updates the customer is owed: what is true now, minus what they were told.

    `confirmed`: Saleor reported the order's confirmation (its one-off
    `order_confirmed` fact, fired for automatic confirmation too); it is
    announced unless the order is no longer going ahead. `explained_refunds`:
    money price protection returned (or is returning) to the original payment;
    its own email tells the customer, so it is left out of "refund issued".
    """
    plans: list[NotificationPlan] = []

    def owe(
        kind: NotificationKind, key: str, at: datetime | None, **context: Any
    ) -> None:
        if key in told.keys:
            return
        history = first_sight and at is not None and now - at > NEWS_WINDOW
        plans.append(
            NotificationPlan(kind, key, context, suppressed=HISTORY if history else "")
        )

    oid = order.order_id
    if confirmed and order.status in CONFIRMED_STATUSES:
        owe(NotificationKind.CONFIRMED, f"confirmed:{oid}", order.created_at)
    for fulfillment in order.fulfillments:
        fid = fulfillment.fulfillment_id
        if fulfillment.status == FULFILLED:
            shipped_key = f"shipped:{fid}"
            if shipped_key not in told.keys:
                owe(
                    NotificationKind.SHIPPED,
                    shipped_key,
                    fulfillment.created_at,
                    fulfillment_id=fid,
                )
                continue
            count, announced = told.tracking.get(fid, (0, ""))
            current = fulfillment.tracking_number
            if current and current != announced:
                owe(
                    NotificationKind.TRACKING_UPDATED,
                    f"tracking:{fid}:{count + 1}",
                    None,
                    fulfillment_id=fid,
                )
        elif fulfillment.status in RETURN_STATUSES:
            owe(
                NotificationKind.RETURN_RECEIVED,
                f"return:{fid}",
                fulfillment.created_at,
                fulfillment_id=fid,
                return_status=fulfillment.status,
            )
    refunded = order.total_refunded - explained_refunds
    if refunded > told.refunded_total:
        owe(
            NotificationKind.REFUND_ISSUED,
            f"refund:{oid}:{refunded}",
            order.refunded_at,
            refund_amount=str(refunded - told.refunded_total),
            refund_total=str(order.total_refunded),
        )
    if order.status == CANCELED:
        owe(NotificationKind.CANCELLED, f"cancelled:{oid}", order.updated_at)
    return plans


def told_about(order_id: str) -> Told:
    suffix = f":{NotificationChannel.EMAIL}"
    rows = Notification.objects.filter(
        order_id=order_id,
        channel=NotificationChannel.EMAIL,
        kind__in=[kind.value for kind in RECONCILED_KINDS],
    ).values_list("dedupe_key", "kind", "context")
    return Told.from_rows(
        [(key.removesuffix(suffix), kind, context) for key, kind, context in rows]
    )


@dataclass(frozen=True)
class Reconciled:
    events: list[str]
    notifications: list[Any]
    outcome: str


def reconcile_order(order_id: str, *, settings: SupportSettings) -> Reconciled:
    """Take every pending hook event of the order and plan what the customer is owed.

    One transaction: the lock, the events, the snapshot, the outbox rows and the
    events' outcomes commit together; a failure leaves the events pending.
    """
    # Late imports: the outbox service and the ports import this package's models.
    from ..core.background import in_background
    from ..notifications.services import create_notifications
    from ..ports import read_current_order
    from ..price_protection.selectors import explained_refunds
    from ..price_protection.services import enqueue_settlement, refunds_in_flight
    from .snapshots import store_snapshot

    hook_types = [t.value for t in HOOK_EVENT_TYPES]
    with transaction.atomic():
        lock_order(order_id)
        events = list(
            OrderEvent.objects.filter(
                order_id=order_id, processed_at__isnull=True, type__in=hook_types
            )
            .order_by("created_at")
            .values_list("id", "type")
        )
        if not events:
            return Reconciled([], [], "")
        order = read_current_order(order_id)
        notifications: list[Any] = []
        if order is None:
            outcome = "nothing sent: the shop has no such order (deleted?)"
        else:
            snapshot, first_sight = store_snapshot(order)
            plans = plan_updates(
                order,
                told_about(order_id),
                first_sight=first_sight,
                now=timezone.now(),
                confirmed=any(t == OrderEventType.CONFIRMED for _, t in events),
                explained_refunds=explained_refunds(order_id),
            )
            if refunds_in_flight(order_id):
                # The shop may be reporting one of price protection's refunds.
                transaction.on_commit(
                    lambda: in_background(enqueue_settlement, order_id)
                )
            event = OrderEvent(pk=events[-1][0])
            notifications = create_notifications(
                plans, event=event, snapshot=snapshot, settings=settings
            )
            outcome = describe(plans, notifications)
        OrderEvent.objects.filter(pk__in=[pk for pk, _ in events]).update(
            processed_at=timezone.now(), outcome=outcome[:255]
        )
    types = ", ".join(sorted({OrderEventType(t).value for _, t in events}))
    # The operator's answer to "why did (or didn't) the customer get an email?".
    logger.info(
        "Order %s reconciled after %d event(s) (%s): %s",
        order.number if order is not None else order_id,
        len(events),
        types,
        outcome,
    )
    return Reconciled([str(pk) for pk, _ in events], notifications, outcome)


def describe(plans: list[NotificationPlan], created: list[Any]) -> str:
    if not plans:
        return "nothing new: the customer was already told the order's current state"
    sent = {row.dedupe_key.rsplit(":", 1)[0] for row in created}
    parts = []
    for plan in plans:
        if plan.suppressed:
            parts.append(f"{plan.kind.value} not sent ({plan.suppressed})")
        elif plan.key in sent:
            parts.append(f"{plan.kind.value} queued")
        else:
            parts.append(f"{plan.kind.value} suppressed (see the update's reason)")
    return "; ".join(parts)
