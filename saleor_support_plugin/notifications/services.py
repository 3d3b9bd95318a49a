"""The outbox: write notifications with the event, deliver each exactly once.

Exactly once, concretely:
- a notification's `dedupe_key` is unique, so repeated events create nothing;
- delivery holds the row lock (SELECT … FOR UPDATE) while it talks to SMTP and
  marks the row sent in the same transaction. A worker killed mid-delivery
  drops its connection: PostgreSQL rolls back and releases the lock, the SMTP
  server discards the unfinished message, and the row is pending again for the
  sweeper. Two workers never deliver the same row (SKIP LOCKED).
- The one window left is between the SMTP server's "250 accepted" and our
  COMMIT (microseconds); a crash exactly there resends. The Message-ID header is
  stable across attempts so mail systems can recognise the resend.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import SupportSettings
from ..core.background import in_background
from ..orders.models import OrderEvent, OrderSnapshot
from .context import build_context
from .delivery import PermanentDeliveryError, TransientDeliveryError, deliver
from .identity import (
    EMAIL_HEADERS_KEY,
    email_headers,
    message_id_domain,
    order_reply_address,
)
from .kinds import (
    PRICE_KINDS,
    SURVEY_KINDS,
    TICKET_KINDS,
    TRANSACTIONAL_KINDS,
    NotificationKind,
)
from .models import EmailOptOut, Notification, NotificationChannel, NotificationStatus

logger = logging.getLogger(__name__)


def retry_base_seconds() -> float:
    return float(getattr(django_settings, "SUPPORT_RETRY_BASE_SECONDS", 30))


def max_attempts() -> int:
    return int(getattr(django_settings, "SUPPORT_MAX_DELIVERY_ATTEMPTS", 10))


def stuck_after() -> timedelta:
    """Return how long a pending, due row waits before the sweeper dispatches it again."""
    return timedelta(
        seconds=float(getattr(django_settings, "SUPPORT_STUCK_AFTER_SECONDS", 120))
    )


def backoff(attempts: int) -> timedelta:
    """Exponential: base, 2×base, 4×base … capped at 6 hours."""
    return timedelta(
        seconds=min(retry_base_seconds() * 2 ** max(attempts - 1, 0), 6 * 3600)
    )


def is_opted_out(email: str) -> bool:
    return EmailOptOut.objects.filter(email=email.lower()).exists()


def _suppression(
    kind: NotificationKind, channel: str, recipient: str, settings: SupportSettings
) -> str:
    if kind in TICKET_KINDS:
        if not settings.tickets_enabled:
            return "support tickets are switched off"
    elif kind in PRICE_KINDS:
        if not settings.price_protection_enabled:
            return "price protection is switched off"
    elif kind in SURVEY_KINDS:
        if not settings.surveys_enabled:
            return "surveys are switched off"
    elif kind is NotificationKind.WEEKLY_REPORT:
        if not settings.weekly_report_enabled:
            return "the weekly report is switched off"
    elif not settings.proactive_updates_enabled:
        return "proactive order updates are switched off"
    if not settings.kind_enabled(kind):
        return f"'{kind.label}' updates are switched off"
    if channel == NotificationChannel.EMAIL and not recipient:
        return "the order has no customer email"
    return ""


def create_notifications(
    plans: list[Any],
    *,
    event: OrderEvent | None,
    snapshot: OrderSnapshot,
    settings: SupportSettings,
) -> list[Notification]:
    """Write the outbox rows for an event's plans (in the event's transaction).

    Rows that must not go out are kept as suppressed, with the reason, so the
    merchant can see why a customer got nothing.
    """
    created = []
    now = timezone.now()
    opted_out = bool(snapshot.customer_email) and is_opted_out(snapshot.customer_email)
    domain = message_id_domain(settings)
    reply_to = order_reply_address(snapshot.order_id, snapshot.number, settings)
    for plan in plans:
        context = build_context(plan, snapshot, settings)
        channels = [(NotificationChannel.EMAIL, snapshot.customer_email)]
        if settings.outgoing_webhook_url:
            channels.append(
                (NotificationChannel.WEBHOOK, settings.outgoing_webhook_url)
            )
        for channel, recipient in channels:
            reason = getattr(plan, "suppressed", "") or _suppression(
                plan.kind, channel, recipient, settings
            )
            if not reason and opted_out and plan.kind not in TRANSACTIONAL_KINDS:
                reason = "the customer unsubscribed from shipping updates"
            row_id = uuid.uuid4()
            row_context = context
            if channel == NotificationChannel.EMAIL:
                row_context = {
                    **context,
                    EMAIL_HEADERS_KEY: email_headers(row_id, domain, []),
                }
                if reply_to:
                    row_context["reply_to"] = reply_to
            notification, was_created = Notification.objects.get_or_create(
                dedupe_key=f"{plan.key}:{channel}",
                defaults={
                    "id": row_id,
                    "kind": plan.kind.value,
                    "channel": channel,
                    "event": event,
                    "order_id": snapshot.order_id,
                    "recipient": recipient,
                    "language_code": snapshot.language_code,
                    "context": row_context,
                    "status": NotificationStatus.SUPPRESSED
                    if reason
                    else NotificationStatus.PENDING,
                    "reason": reason,
                    "next_attempt_at": now,
                    "last_dispatched_at": None if reason else now,
                },
            )
            if was_created and not reason:
                created.append(notification)
    ids = [notification.pk for notification in created]
    if ids:
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return created


def enqueue_deliveries(ids: list[Any]) -> None:
    from ..tasks import deliver_notification_task

    for notification_id in ids:
        try:
            deliver_notification_task.delay(str(notification_id))
        except Exception:
            logger.warning(
                "Could not enqueue notification %s; the sweeper will retry.",
                notification_id,
                exc_info=True,
            )


@dataclass(frozen=True)
class DeliveryResult:
    status: str
    retry_at: datetime | None = None


def deliver_notification(
    notification_id: Any, *, settings: SupportSettings
) -> DeliveryResult:
    """Deliver one outbox row if it is pending and due; safe to call any number of times."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return DeliveryResult(
                "busy"
            )  # another worker holds it (or it does not exist)
        if notification.status != NotificationStatus.PENDING:
            return DeliveryResult(notification.status)
        now = timezone.now()
        if notification.next_attempt_at > now:
            return DeliveryResult("not_due", retry_at=notification.next_attempt_at)
        kind = NotificationKind(notification.kind)
        reason = _suppression(
            kind, notification.channel, notification.recipient, settings
        )
        if (
            not reason
            and kind not in TRANSACTIONAL_KINDS
            and notification.channel == NotificationChannel.EMAIL
        ):
            if is_opted_out(notification.recipient):
                reason = "the customer unsubscribed from shipping updates"
        if reason:
            notification.status, notification.reason = (
                NotificationStatus.SUPPRESSED,
                reason,
            )
            notification.save(update_fields=["status", "reason"])
            return DeliveryResult(notification.status)
        notification.attempts += 1
        try:
            deliver(notification, settings)
        except PermanentDeliveryError as exc:
            notification.status = NotificationStatus.FAILED
            notification.reason = str(exc)[:255]
            notification.last_error = str(exc)
        except TransientDeliveryError as exc:
            notification.last_error = str(exc)
            if notification.attempts >= max_attempts():
                notification.status = NotificationStatus.FAILED
                notification.reason = (
                    f"gave up after {notification.attempts} attempts: {exc}"[:255]
                )
            else:
                notification.next_attempt_at = now + backoff(notification.attempts)
                notification.last_dispatched_at = notification.next_attempt_at
        else:
            notification.status = NotificationStatus.SENT
            notification.sent_at = timezone.now()
            notification.reason = ""
        notification.save()
        if notification.status == NotificationStatus.PENDING:
            logger.info(
                "Notification %s will be retried at %s",
                notification.pk,
                notification.next_attempt_at,
            )
            return DeliveryResult("retry", retry_at=notification.next_attempt_at)
        return DeliveryResult(notification.status)


@dataclass(frozen=True)
class SweepResult:
    events: list[str]
    notifications: list[str]


def sweep_outbox(*, now: datetime | None = None) -> SweepResult:
    """Find work that a lost message, a dead worker or a down broker left behind."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=10)
    events = list(
        OrderEvent.objects.filter(processed_at__isnull=True, created_at__lt=grace)
        .order_by("created_at")
        .values_list("idempotency_key", flat=True)[:500]
    )
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            .filter(
                Q(last_dispatched_at__isnull=True)
                | Q(last_dispatched_at__lt=now - stuck_after())
            )
            .order_by("next_attempt_at")[:500]
        )
        ids = [notification.pk for notification in due]
        Notification.objects.filter(pk__in=ids).update(last_dispatched_at=now)
    return SweepResult(events=events, notifications=[str(pk) for pk in ids])


def create_ticket_notification(
    *,
    kind: NotificationKind,
    key: str,
    recipients: list[str],
    context: dict[str, Any],
    order_id: str | None,
    language_code: str,
    settings: SupportSettings,
    references: list[str] | None = None,
) -> list[Notification]:
    """Outbox rows for a ticket update, one per recipient, in the caller's transaction.

    `references`: the Message-IDs the email answers, oldest first (the ticket's
    thread root, then the customer's email it replies to); they become its
    References and In-Reply-To.
    """
    created = []
    now = timezone.now()
    domain = message_id_domain(settings)
    for recipient in dict.fromkeys(
        address.lower() for address in recipients if address
    ):
        reason = _suppression(kind, NotificationChannel.EMAIL, recipient, settings)
        row_id = uuid.uuid4()
        notification, was_created = Notification.objects.get_or_create(
            dedupe_key=f"{key}:{recipient}:email",
            defaults={
                "id": row_id,
                "kind": kind.value,
                "channel": NotificationChannel.EMAIL,
                "order_id": order_id,
                "recipient": recipient,
                "language_code": language_code,
                "context": {
                    **context,
                    EMAIL_HEADERS_KEY: email_headers(row_id, domain, references or []),
                },
                "status": NotificationStatus.SUPPRESSED
                if reason
                else NotificationStatus.PENDING,
                "reason": reason,
                "next_attempt_at": now,
                "last_dispatched_at": None if reason else now,
            },
        )
        if was_created and not reason:
            created.append(notification)
    ids = [notification.pk for notification in created]
    if ids:
        transaction.on_commit(lambda: in_background(enqueue_deliveries, ids))
    return created
