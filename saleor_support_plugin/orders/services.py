"""Order events: recorded cheaply where they happen, processed in a task.

`record_change` is what a Saleor hook calls: one INSERT naming the order that
changed, nothing read. `record_event` is the same for webhooks and the delay
check. In Celery, `process_event` hands a hook's event to the reconciler
(`orders.reconcile`), which decides from the order as it is now; carrier news
and delays are facts of their own and are decided per event, under the same
per-order lock.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from ..conf import SupportSettings
from ..core.background import in_background, in_background_once
from ..notifications.kinds import NotificationKind
from .locks import lock_order
from .models import (
    FulfillmentSnapshot,
    OrderEvent,
    OrderEventSource,
    OrderEventType,
    OrderSnapshot,
)
from .reconcile import (
    FULFILLED,
    HOOK_EVENT_TYPES,
    RETURN_STATUSES,
    NotificationPlan,
    reconcile_order,
)

__all__ = ["FULFILLED", "RETURN_STATUSES", "NotificationPlan"]

logger = logging.getLogger(__name__)

UNSHIPPED_ORDER_STATUSES = frozenset({"unconfirmed", "unfulfilled"})
CARRIER_STATUSES = frozenset(
    {
        "in_transit",
        "out_for_delivery",
        "delivered",
        "exception",
        "failed_attempt",
        "returned_to_sender",
    }
)
CARRIER_PROBLEM_STATUSES = frozenset(
    {"exception", "failed_attempt", "returned_to_sender"}
)
# A carrier event may arrive before the shipment's hook was processed; it waits
# this long for the tracking number to appear before it is given up on.
UNMATCHED_CARRIER_EVENT_WAIT = timedelta(hours=1)
PENDING_TRACKING = (
    "pending: tracking number not known yet (the event waits up to an hour for "
    "the shipment)"
)


# --- idempotency keys: one per real-world fact


def order_key(order_id: str, what: str) -> str:
    return f"order:{order_id}:{what}"


def fulfillment_key(fulfillment_id: str, what: str) -> str:
    return f"fulfillment:{fulfillment_id}:{what}"


def change_key() -> str:
    """Name a change that has no name of its own (a state, not a one-off fact)."""
    return f"change:{uuid.uuid4()}"


# --- hook path


def record_change(
    *,
    type: OrderEventType,
    order_id: str,
    key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Note that an order changed: one INSERT, nothing read.

    Inside a transaction the INSERT waits for its commit: it then never runs in
    (or can abort) the merchant's transaction, and it is not recorded for a
    change that was rolled back. `detail` holds attributes already on the
    hook's object (ids, tracking number), for the event log only: decisions
    read the order as it is when the event is processed.
    """

    def insert() -> None:
        try:
            record_event(
                type=type, key=key or change_key(), order_id=order_id, extra=detail
            )
        except Exception:
            logger.exception(
                "Support plugin could not record %s of order %s.", type.value, order_id
            )

    if connection.in_atomic_block:
        transaction.on_commit(insert, robust=True)
    else:
        insert()


def record_event(
    *,
    type: OrderEventType,
    key: str,
    source: OrderEventSource = OrderEventSource.HOOK,
    extra: dict[str, Any] | None = None,
    order_id: str | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Append an event to the log; return False when its key was already there.

    Exactly one SQL statement. Processing is enqueued after the surrounding
    transaction commits (at once when there is none, as when Saleor calls hooks
    after its commit), and published to the broker off the calling thread.
    """
    now = timezone.now()
    table = OrderEvent._meta.db_table
    with connection.cursor() as cursor:
        # INSERT … ON CONFLICT DO NOTHING: a repeat costs one statement and no error,
        # and does not abort a surrounding transaction the way an IntegrityError would.
        cursor.execute(
            f"INSERT INTO {table} (id, idempotency_key, type, source, order_id, payload, occurred_at, created_at, outcome)"  # noqa: S608
            " VALUES (gen_random_uuid(), %s, %s, %s, %s, %s::jsonb, %s, %s, '')"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [
                key,
                type.value,
                source.value,
                order_id,
                json.dumps({"extra": extra or {}}, separators=(",", ":")),
                occurred_at or now,
                now,
            ],
        )
        inserted = cursor.fetchone() is not None
    if inserted:
        if order_id and type in HOOK_EVENT_TYPES:
            # One task reconciles every pending event of the order: the hooks of
            # one mutation share one publish.
            transaction.on_commit(
                lambda: in_background_once(
                    f"reconcile:{order_id}", enqueue_processing, key
                )
            )
        else:
            transaction.on_commit(lambda: in_background(enqueue_processing, key))
    return inserted


def enqueue_processing(key: str) -> None:
    """Hand the event to Celery; if the broker is down, the sweeper will do it later."""
    from ..tasks import process_order_event_task

    try:
        process_order_event_task.delay(key)
    except Exception:
        logger.warning(
            "Could not enqueue processing of %s; the sweeper will retry.",
            key,
            exc_info=True,
        )


# --- task path


@dataclass
class Processed:
    event: OrderEvent
    snapshot: OrderSnapshot | None
    plans: list[NotificationPlan]
    outcome: str = ""
    done: bool = True


# A row whose processing raised this many times is given up on: a poison row
# (one that can never be processed) must not be retried every sweep forever.
MAX_PROCESSING_ATTEMPTS = 5
# Failures that say nothing about the row (the database went away, a lock or
# serialization timeout): retried by the sweeper without counting.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def process_event(key: str, *, settings: SupportSettings) -> list[Any]:
    """Process one logged event exactly once; return the outbox rows it created.

    Never raises for a row that cannot be processed: the failure is counted on
    the row, and after `MAX_PROCESSING_ATTEMPTS` the row is given up on.
    """
    try:
        return _process_event(key, settings=settings)
    except TRANSIENT_ERRORS as exc:
        logger.warning(
            "Processing of order event %s failed (%s); it will be retried.",
            key,
            _short_error(exc),
        )
        return []
    except Exception as exc:
        _record_failure(key, exc)
        return []


def process_now(key: str, *, settings: SupportSettings) -> str:
    """Process an event in the caller's request and return what it led to.

    For webhooks, whose sender deserves an answer: the enqueued task then finds
    the event done. A failure leaves it to the task and the sweeper.
    """
    process_event(key, settings=settings)
    event = OrderEvent.objects.filter(idempotency_key=key).only("outcome").first()
    return (event.outcome if event is not None else "") or "queued for processing"


def _process_event(key: str, *, settings: SupportSettings) -> list[Any]:
    event = (
        OrderEvent.objects.filter(idempotency_key=key)
        .only("type", "order_id", "processed_at")
        .first()
    )
    if event is None:
        return []
    if OrderEventType(event.type) in HOOK_EVENT_TYPES:
        if not event.order_id:
            raise ValueError("a hook event without an order id")
        # Every pending hook event of the order, this one included, even when
        # this one is done: its publish may stand for later ones (in_background_once).
        return reconcile_order(event.order_id, settings=settings).notifications
    if event.processed_at is not None:
        return []
    return _process_fact(key, settings=settings)


def _process_fact(key: str, *, settings: SupportSettings) -> list[Any]:
    """Process a carrier event or a delay: a fact of its own, announced once by its key."""
    from ..notifications.services import create_notifications

    with transaction.atomic():
        event = (
            OrderEvent.objects.select_for_update().filter(idempotency_key=key).first()
        )
        if event is None or event.processed_at is not None:
            return []
        result = FACT_HANDLERS[OrderEventType(event.type)](event, settings)
        if not result.done:
            event.outcome = result.outcome
            event.save(update_fields=["outcome"])
            return []
        notifications = []
        already = set()
        if result.snapshot is not None and result.plans:
            already = _already_written(result.plans)
            notifications = create_notifications(
                result.plans, event=event, snapshot=result.snapshot, settings=settings
            )
        event.processed_at = timezone.now()
        event.outcome = result.outcome or _fact_outcome(
            result.plans, notifications, already
        )
        event.save(update_fields=["processed_at", "outcome"])
    logger.info("Order event %s processed: %s", key, event.outcome)
    return notifications


def _already_written(plans: list[NotificationPlan]) -> set[str]:
    from ..notifications.models import Notification

    keys = {f"{plan.key}:email": plan.key for plan in plans}
    return {
        keys[key]
        for key in Notification.objects.filter(dedupe_key__in=keys).values_list(
            "dedupe_key", flat=True
        )
    }


def _fact_outcome(
    plans: list[NotificationPlan], created: list[Any], already: set[str]
) -> str:
    if not plans:
        return "recorded: no customer update for this news"
    sent = {row.dedupe_key.rsplit(":", 1)[0] for row in created}
    return "; ".join(
        f"{plan.kind.value} queued"
        if plan.key in sent
        else f"{plan.kind.value} already told"
        if plan.key in already
        else f"{plan.kind.value} suppressed (see the update's reason)"
        for plan in plans
    )


def _short_error(exc: Exception) -> str:
    """Name the error by its class and first line, short: enough to tell poison from a bug."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:200].rstrip(": ")


def _record_failure(key: str, exc: Exception) -> None:
    """Count a failed attempt on the row; give it up after the bound.

    Only the counters are read and written: a poison row may hold a value
    (a timestamp past year 9999) that cannot even be loaded into Python.
    """
    reason = _short_error(exc)
    with transaction.atomic():
        row = (
            OrderEvent.objects.select_for_update()
            .filter(idempotency_key=key, processed_at__isnull=True)
            .values_list("failed_attempts", flat=True)
            .first()
        )
        if row is None:
            return
        attempts = row + 1
        given_up = attempts >= MAX_PROCESSING_ATTEMPTS
        changes: dict[str, Any] = {"failed_attempts": attempts, "last_error": reason}
        if given_up:
            # processed_at set: the sweeper, the seeding and the partial index
            # all treat it as done; the outcome says it failed.
            changes.update(processed_at=timezone.now(), outcome=f"failed: {reason}")
        OrderEvent.objects.filter(idempotency_key=key).update(**changes)
    if given_up:
        # Once per row, with the traceback, for the operator to look into.
        logger.error(
            "Gave up on order event %s after %d failed attempts: %s",
            key,
            attempts,
            reason,
            exc_info=exc,
        )
    else:
        logger.warning(
            "Processing of order event %s failed (attempt %d of %d): %s",
            key,
            attempts,
            MAX_PROCESSING_ATTEMPTS,
            reason,
        )


def _lock_snapshot(order_id: str) -> OrderSnapshot | None:
    return OrderSnapshot.objects.select_for_update().filter(order_id=order_id).first()


def _carrier(event: OrderEvent, settings: SupportSettings) -> Processed:
    data = event.payload["extra"]
    shipments = FulfillmentSnapshot.objects.filter(
        tracking_number=data["tracking_number"]
    ).order_by("-created_at")
    found = shipments.values_list("pk", "order__order_id").first()
    row = None
    if found is not None:
        # The order's lock first, as the reconciler takes it, then the row.
        lock_order(found[1])
        row = (
            FulfillmentSnapshot.objects.select_for_update()
            .select_related("order")
            .filter(pk=found[0])
            .first()
        )
    if row is None:
        if timezone.now() - event.created_at < UNMATCHED_CARRIER_EVENT_WAIT:
            return Processed(
                event,
                None,
                [],
                outcome=PENDING_TRACKING,
                done=False,
            )
        return Processed(event, None, [], outcome="ignored: unknown tracking number")
    # The column, not the payload's copy: it was loaded, so it is a storable time.
    occurred_at = event.occurred_at
    row.last_activity_at = max(row.last_activity_at, occurred_at)
    stale = row.carrier_event_at is not None and occurred_at < row.carrier_event_at
    if data.get("estimated_delivery"):
        row.estimated_delivery = datetime.fromisoformat(
            data["estimated_delivery"]
        ).date()
    if not stale:
        row.carrier_status = data["status"]
        row.carrier_event_at = occurred_at
        row.carrier_description = data.get("description") or ""
        row.carrier = data.get("carrier") or row.carrier
        if data["status"] == "delivered":
            row.delivered_at = occurred_at
    row.save()
    event.order_id = row.order.order_id
    event.save(update_fields=["order_id"])
    if stale:
        return Processed(
            event,
            row.order,
            [],
            outcome="ignored: older than the shipment's latest carrier news",
        )
    if row.delivered_at is not None and data["status"] != "delivered":
        return Processed(
            event, row.order, [], outcome="ignored: the shipment was already delivered"
        )
    context = {
        "fulfillment_id": row.fulfillment_id,
        "carrier_event_id": data["event_id"],
    }
    status = data["status"]
    plans = []
    if status == "out_for_delivery":
        plans.append(
            NotificationPlan(
                NotificationKind.OUT_FOR_DELIVERY,
                f"out_for_delivery:{row.fulfillment_id}",
                context,
            )
        )
    elif status == "delivered":
        plans.append(
            NotificationPlan(
                NotificationKind.DELIVERED, f"delivered:{row.fulfillment_id}", context
            )
        )
    elif status in CARRIER_PROBLEM_STATUSES:
        # One delay-class update per shipment: a carrier problem or silence, not both.
        plans.append(
            NotificationPlan(
                NotificationKind.DELIVERY_EXCEPTION,
                f"delayed:{row.fulfillment_id}",
                context,
            )
        )
    return Processed(event, row.order, plans)


def _delay_unshipped(event: OrderEvent, settings: SupportSettings) -> Processed:
    lock_order(event.order_id or "")
    snapshot = _lock_snapshot(event.order_id or "")
    if snapshot is None or snapshot.status not in UNSHIPPED_ORDER_STATUSES:
        return Processed(
            event, snapshot, [], outcome="ignored: shipped or cancelled meanwhile"
        )
    return Processed(
        event,
        snapshot,
        [
            NotificationPlan(
                NotificationKind.DELAYED,
                f"delayed:order:{snapshot.order_id}",
                {"delay_reason": "not_shipped"},
            )
        ],
    )


def _delay_tracking_silent(event: OrderEvent, settings: SupportSettings) -> Processed:
    fulfillment_id = event.payload["extra"]["fulfillment_id"]
    lock_order(event.order_id or "")
    row = (
        FulfillmentSnapshot.objects.select_related("order")
        .filter(fulfillment_id=fulfillment_id)
        .first()
    )
    if row is None or row.delivered_at is not None:
        return Processed(event, None, [], outcome="ignored: delivered meanwhile")
    context = {"fulfillment_id": fulfillment_id, "delay_reason": "tracking_silent"}
    return Processed(
        event,
        row.order,
        [
            NotificationPlan(
                NotificationKind.DELAYED, f"delayed:{fulfillment_id}", context
            )
        ],
    )


FACT_HANDLERS: dict[
    OrderEventType, Callable[[OrderEvent, SupportSettings], Processed]
] = {
    OrderEventType.CARRIER: _carrier,
    OrderEventType.DELAY_UNSHIPPED: _delay_unshipped,
    OrderEventType.DELAY_TRACKING_SILENT: _delay_tracking_silent,
}
