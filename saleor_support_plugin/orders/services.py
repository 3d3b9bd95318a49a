"""Order events: recorded cheaply where they happen, processed once in a task.

`record_event` is what a Saleor hook or a webhook calls: one INSERT that is a
no-op when the idempotency key exists, and processing enqueued on commit.
`process_event` runs in Celery: in one transaction it upserts the order
snapshot, decides which customer updates the event means and writes them to
the outbox, then marks the event processed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone

from ..conf import SupportSettings
from ..core.background import in_background
from ..notifications.kinds import NotificationKind
from .data import FulfillmentData, OrderData, order_from_payload, to_payload
from .models import (
    FulfillmentSnapshot,
    OrderEvent,
    OrderEventSource,
    OrderEventType,
    OrderLineSnapshot,
    OrderSnapshot,
)

logger = logging.getLogger(__name__)

FULFILLED = "fulfilled"
RETURN_STATUSES = frozenset({"returned", "refunded_and_returned", "replaced"})
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
# A return older than this, seen for the first time (e.g. the plugin was installed
# after it happened), is history, not news.
RETURN_NEWS_WINDOW = timedelta(days=2)
# A carrier event may arrive before the shipment's hook was processed; it waits
# this long for the tracking number to appear before it is given up on.
UNMATCHED_CARRIER_EVENT_WAIT = timedelta(hours=1)


# --- idempotency keys: one per real-world fact


def order_key(order_id: str, what: str) -> str:
    return f"order:{order_id}:{what}"


def fulfillment_key(fulfillment_id: str, what: str) -> str:
    return f"fulfillment:{fulfillment_id}:{what}"


def tracking_event_key(fulfillment_id: str, tracking_number: str) -> str:
    """Name a tracking change by how many changes preceded it, so A → B → A is news three times.

    The key is the one the change got when it was first recorded: the count of
    changes before it. A repeat of the hook, before or after processing, gets
    the same key and is a no-op.
    """
    known = (
        FulfillmentSnapshot.objects.filter(fulfillment_id=fulfillment_id)
        .values_list("tracking_changes", "tracking_number")
        .first()
    )
    changes, current = known or (0, "")
    if current == tracking_number and changes > 0:
        changes -= 1  # this is the change already recorded, repeated
    return fulfillment_key(fulfillment_id, f"tracking:{changes}:{tracking_number}")


# --- hook path


def record_event(
    *,
    type: OrderEventType,
    key: str,
    source: OrderEventSource = OrderEventSource.HOOK,
    order: OrderData | None = None,
    fulfillment: FulfillmentData | None = None,
    extra: dict[str, Any] | None = None,
    order_id: str | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Append an event to the log; return False when its key was already there.

    Exactly one SQL statement. Processing is enqueued after the surrounding
    transaction commits (at once when there is none, as when Saleor calls hooks
    after its commit), and published to the broker off the calling thread.
    """
    payload = {
        "order": to_payload(order) if order is not None else None,
        "fulfillment": to_payload(fulfillment) if fulfillment is not None else None,
        "extra": extra or {},
    }
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
                order_id or (order.order_id if order else None),
                _json(payload),
                occurred_at or now,
                now,
            ],
        )
        inserted = cursor.fetchone() is not None
    if inserted:
        transaction.on_commit(lambda: in_background(enqueue_processing, key))
    return inserted


def _json(payload: dict[str, Any]) -> str:
    import json

    return json.dumps(payload, separators=(",", ":"))


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


@dataclass(frozen=True)
class NotificationPlan:
    """A customer update an event means: `key` names the fact, so it is sent once."""

    kind: NotificationKind
    key: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreviousState:
    """What the plugin knew about the order before this event."""

    known: bool
    total_refunded: Decimal = Decimal(0)
    fulfillments: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # id -> (status, tracking)


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


def _process_event(key: str, *, settings: SupportSettings) -> list[Any]:
    from ..notifications.services import create_notifications

    with transaction.atomic():
        event = (
            OrderEvent.objects.select_for_update().filter(idempotency_key=key).first()
        )
        if event is None or event.processed_at is not None:
            return []
        result = EVENT_HANDLERS[OrderEventType(event.type)](event, settings)
        if not result.done:
            event.outcome = result.outcome
            event.save(update_fields=["outcome"])
            return []
        notifications = []
        if result.snapshot is not None and result.plans:
            notifications = create_notifications(
                result.plans, event=event, snapshot=result.snapshot, settings=settings
            )
        event.processed_at = timezone.now()
        event.outcome = result.outcome
        event.save(update_fields=["processed_at", "outcome"])
    return notifications


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


def upsert_snapshot(
    order: OrderData, observed_at: datetime
) -> tuple[OrderSnapshot, PreviousState]:
    """Store the order as of `observed_at`, never replacing newer state with older."""
    snapshot = _lock_snapshot(order.order_id)
    if snapshot is None:
        try:
            with transaction.atomic():
                snapshot = OrderSnapshot.objects.create(
                    **_order_fields(order), observed_at=observed_at
                )
        except IntegrityError:
            # Another worker created it first; take its row, locked.
            snapshot = _lock_snapshot(order.order_id)
            assert snapshot is not None
        else:
            _upsert_children(snapshot, order, observed_at)
            return snapshot, PreviousState(known=False)
    previous = PreviousState(
        known=True,
        total_refunded=snapshot.total_refunded,
        fulfillments={
            f.fulfillment_id: (f.status, f.tracking_number)
            for f in snapshot.fulfillments.all()
        },
    )
    if observed_at >= snapshot.observed_at:
        for name, value in _order_fields(order).items():
            setattr(snapshot, name, value)
        snapshot.observed_at = observed_at
        snapshot.save()
        _upsert_children(snapshot, order, observed_at)
    return snapshot, previous


def _order_fields(order: OrderData) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "number": order.number,
        "channel_slug": order.channel_slug,
        "status": order.status,
        "placed_at": order.created_at,
        "customer_email": order.customer_email,
        "customer_first_name": order.customer_first_name,
        "user_id": order.user_id,
        "language_code": order.language_code,
        "currency": order.currency,
        "total_gross": order.total_gross,
        "total_refunded": order.total_refunded,
    }


def _upsert_children(
    snapshot: OrderSnapshot, order: OrderData, observed_at: datetime
) -> None:
    OrderLineSnapshot.objects.bulk_create(
        [
            OrderLineSnapshot(
                order=snapshot,
                line_id=line.line_id,
                variant_id=line.variant_id,
                sku=line.sku,
                product_name=line.product_name,
                variant_name=line.variant_name,
                quantity=line.quantity,
                quantity_fulfilled=line.quantity_fulfilled,
                currency=line.currency,
                unit_price_gross=line.unit_price_gross,
                undiscounted_unit_price_gross=line.undiscounted_unit_price_gross,
            )
            for line in order.lines
        ],
        update_conflicts=True,
        unique_fields=["line_id"],
        update_fields=[
            "variant_id",
            "sku",
            "product_name",
            "variant_name",
            "quantity",
            "quantity_fulfilled",
        ],
    )
    for fulfillment in order.fulfillments:
        upsert_fulfillment(snapshot, fulfillment, observed_at)


def upsert_fulfillment(
    snapshot: OrderSnapshot, fulfillment: FulfillmentData, observed_at: datetime
) -> FulfillmentSnapshot:
    lines = [
        {"line_id": line.line_id, "quantity": line.quantity}
        for line in fulfillment.lines
    ]
    row, created = FulfillmentSnapshot.objects.get_or_create(
        fulfillment_id=fulfillment.fulfillment_id,
        defaults={
            "order": snapshot,
            "composed_id": fulfillment.composed_id,
            "status": fulfillment.status,
            "tracking_number": fulfillment.tracking_number,
            "created_at": fulfillment.created_at,
            "lines": lines,
            "last_activity_at": fulfillment.created_at,
        },
    )
    if not created:
        changed = (
            row.status != fulfillment.status
            or row.tracking_number != fulfillment.tracking_number
        )
        if row.tracking_number != fulfillment.tracking_number:
            row.last_activity_at = max(row.last_activity_at, observed_at)
            row.tracking_changes += 1
        row.status = fulfillment.status
        row.tracking_number = fulfillment.tracking_number
        row.composed_id = fulfillment.composed_id
        row.lines = lines
        if changed or row.lines != lines:
            row.save()
    return row


# --- what each event means


def _order_event(
    planner: Callable[
        [OrderEvent, OrderData, OrderSnapshot, PreviousState, SupportSettings],
        list[NotificationPlan],
    ],
) -> Callable[[OrderEvent, SupportSettings], Processed]:
    def handle(event: OrderEvent, settings: SupportSettings) -> Processed:
        order = order_from_payload(event.payload["order"])
        snapshot, previous = upsert_snapshot(order, event.occurred_at)
        return Processed(
            event, snapshot, planner(event, order, snapshot, previous, settings)
        )

    return handle


def _nothing(event, order, snapshot, previous, settings) -> list[NotificationPlan]:
    return []


def _confirmed(event, order, snapshot, previous, settings) -> list[NotificationPlan]:
    return [NotificationPlan(NotificationKind.CONFIRMED, f"confirmed:{order.order_id}")]


def _cancelled(event, order, snapshot, previous, settings) -> list[NotificationPlan]:
    return [NotificationPlan(NotificationKind.CANCELLED, f"cancelled:{order.order_id}")]


def _shipped_plan(fulfillment: FulfillmentData) -> NotificationPlan:
    return NotificationPlan(
        NotificationKind.SHIPPED,
        f"shipped:{fulfillment.fulfillment_id}",
        {"fulfillment_id": fulfillment.fulfillment_id},
    )


def _fulfillment_created(
    event, order, snapshot, previous, settings
) -> list[NotificationPlan]:
    fulfillment = order.fulfillment(event.payload["extra"]["fulfillment_id"])
    if fulfillment is None or fulfillment.status != FULFILLED:
        return []  # waiting for approval, or already returned: not news of a shipment
    return [_shipped_plan(fulfillment)]


def _tracking_updated(
    event, order, snapshot, previous, settings
) -> list[NotificationPlan]:
    from ..notifications.models import Notification

    fulfillment = order.fulfillment(event.payload["extra"]["fulfillment_id"])
    if (
        fulfillment is None
        or fulfillment.status != FULFILLED
        or not fulfillment.tracking_number
    ):
        return []
    shipped_key = f"shipped:{fulfillment.fulfillment_id}"
    # orderFulfill with a tracking number calls this hook before fulfillment_created:
    # the first news of a shipment is "shipped", whichever hook brings it.
    if not Notification.objects.filter(
        dedupe_key__startswith=f"{shipped_key}:"
    ).exists():
        return [_shipped_plan(fulfillment)]
    _, previous_tracking = previous.fulfillments.get(
        fulfillment.fulfillment_id, ("", "")
    )
    if previous_tracking == fulfillment.tracking_number:
        return []
    row = FulfillmentSnapshot.objects.get(fulfillment_id=fulfillment.fulfillment_id)
    return [
        NotificationPlan(
            NotificationKind.TRACKING_UPDATED,
            f"tracking:{fulfillment.fulfillment_id}:{row.tracking_changes}",
            {"fulfillment_id": fulfillment.fulfillment_id},
        )
    ]


def _refunded(event, order, snapshot, previous, settings) -> list[NotificationPlan]:
    refunded_now = order.total_refunded - (
        previous.total_refunded if previous.known else Decimal(0)
    )
    if refunded_now <= 0:
        return []
    return [
        NotificationPlan(
            NotificationKind.REFUND_ISSUED,
            f"refund:{order.order_id}:{order.total_refunded}",
            {
                "refund_amount": str(refunded_now),
                "refund_total": str(order.total_refunded),
            },
        )
    ]


def _updated(event, order, snapshot, previous, settings) -> list[NotificationPlan]:
    """Detect returns: fulfillments newly in a returned/replaced status, each reported once."""
    plans = []
    for fulfillment in order.fulfillments:
        if fulfillment.status not in RETURN_STATUSES:
            continue
        known_status, _ = previous.fulfillments.get(
            fulfillment.fulfillment_id, ("", "")
        )
        if known_status == fulfillment.status:
            continue
        if (
            not previous.known
            and event.occurred_at - fulfillment.created_at > RETURN_NEWS_WINDOW
        ):
            continue
        plans.append(
            NotificationPlan(
                NotificationKind.RETURN_RECEIVED,
                f"return:{fulfillment.fulfillment_id}",
                {
                    "fulfillment_id": fulfillment.fulfillment_id,
                    "return_status": fulfillment.status,
                },
            )
        )
    return plans


def _carrier(event: OrderEvent, settings: SupportSettings) -> Processed:
    data = event.payload["extra"]
    row = (
        FulfillmentSnapshot.objects.select_for_update()
        .filter(tracking_number=data["tracking_number"])
        .select_related("order")
        .order_by("-created_at")
        .first()
    )
    if row is None:
        if timezone.now() - event.created_at < UNMATCHED_CARRIER_EVENT_WAIT:
            return Processed(
                event,
                None,
                [],
                outcome="waiting for the shipment's tracking number",
                done=False,
            )
        return Processed(event, None, [], outcome="unknown tracking number")
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
    if stale or (row.delivered_at is not None and data["status"] != "delivered"):
        return Processed(
            event,
            row.order,
            [],
            outcome="older than the shipment's latest carrier news",
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
    snapshot = _lock_snapshot(event.order_id or "")
    if snapshot is None or snapshot.status not in UNSHIPPED_ORDER_STATUSES:
        return Processed(event, snapshot, [], outcome="shipped or cancelled meanwhile")
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
    row = (
        FulfillmentSnapshot.objects.select_related("order")
        .filter(fulfillment_id=fulfillment_id)
        .first()
    )
    if row is None or row.delivered_at is not None:
        return Processed(event, None, [], outcome="delivered meanwhile")
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


EVENT_HANDLERS: dict[
    OrderEventType, Callable[[OrderEvent, SupportSettings], Processed]
] = {
    OrderEventType.PLACED: _order_event(_nothing),
    OrderEventType.CONFIRMED: _order_event(_confirmed),
    OrderEventType.FULLY_PAID: _order_event(_nothing),
    OrderEventType.FULFILLMENT_CREATED: _order_event(_fulfillment_created),
    OrderEventType.TRACKING_UPDATED: _order_event(_tracking_updated),
    OrderEventType.FULFILLED: _order_event(_nothing),
    OrderEventType.CANCELLED: _order_event(_cancelled),
    OrderEventType.REFUNDED: _order_event(_refunded),
    OrderEventType.UPDATED: _order_event(_updated),
    OrderEventType.CARRIER: _carrier,
    OrderEventType.DELAY_UNSHIPPED: _delay_unshipped,
    OrderEventType.DELAY_TRACKING_SILENT: _delay_tracking_silent,
}
