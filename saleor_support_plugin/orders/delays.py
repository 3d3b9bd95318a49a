"""Delay detection: find late orders and silent shipments before customers ask."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat

from ..conf import SupportSettings
from ..core.calendar import BusinessCalendar
from ..notifications.models import Notification
from .models import (
    FulfillmentSnapshot,
    OrderEvent,
    OrderEventSource,
    OrderEventType,
    OrderSnapshot,
)
from .services import FULFILLED, UNSHIPPED_ORDER_STATUSES, record_event


def detect_delays(*, now: datetime, settings: SupportSettings) -> list[str]:
    """Record one delay event per late order and per silent shipment; return their keys."""
    calendar = BusinessCalendar.from_settings(settings)
    keys = []
    threshold = settings.delay_threshold_days
    # Business days are at least as long as calendar days: a cheap, indexed pre-filter.
    late_candidates = (
        OrderSnapshot.objects.filter(
            status__in=UNSHIPPED_ORDER_STATUSES,
            placed_at__lt=now - timedelta(days=threshold),
        )
        .annotate(
            flagged=Exists(
                OrderEvent.objects.filter(
                    order_id=OuterRef("order_id"), type=OrderEventType.DELAY_UNSHIPPED
                )
            ),
            shipped=Exists(
                FulfillmentSnapshot.objects.filter(
                    order=OuterRef("pk"), status=FULFILLED
                )
            ),
        )
        .filter(flagged=False, shipped=False)
        .only("order_id", "placed_at")
    )
    for order in late_candidates.iterator(chunk_size=500):
        ship_by = calendar.ship_by(order.placed_at, threshold)
        if now >= ship_by:
            key = f"delay:unshipped:{order.order_id}"
            if record_event(
                type=OrderEventType.DELAY_UNSHIPPED,
                key=key,
                source=OrderEventSource.SYSTEM,
                order_id=order.order_id,
                extra={"ship_by": ship_by.isoformat()},
                occurred_at=now,
            ):
                keys.append(key)

    silent = (
        FulfillmentSnapshot.objects.filter(
            status=FULFILLED,
            delivered_at__isnull=True,
            last_activity_at__lt=now - timedelta(days=settings.tracking_silence_days),
        )
        .exclude(tracking_number="")
        .annotate(
            flagged=Exists(
                OrderEvent.objects.filter(
                    idempotency_key=Concat(
                        Value("delay:silent:"), OuterRef("fulfillment_id")
                    )
                )
            ),
            # A carrier problem already sent this shipment's one delay-class update.
            announced=Exists(
                Notification.objects.filter(
                    dedupe_key=Concat(
                        Value("delayed:"), OuterRef("fulfillment_id"), Value(":email")
                    )
                )
            ),
        )
        .filter(flagged=False, announced=False)
        .select_related("order")
    )
    for fulfillment in silent.iterator(chunk_size=500):
        key = f"delay:silent:{fulfillment.fulfillment_id}"
        if record_event(
            type=OrderEventType.DELAY_TRACKING_SILENT,
            key=key,
            source=OrderEventSource.SYSTEM,
            order_id=fulfillment.order.order_id,
            extra={
                "fulfillment_id": fulfillment.fulfillment_id,
                "last_activity_at": fulfillment.last_activity_at.isoformat(),
            },
            occurred_at=now,
        ):
            keys.append(key)
    return keys
