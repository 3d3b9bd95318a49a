"""Which orders and tickets are owed a survey, and when; decided again at send time.

Level, not edge: a periodic task plans a survey for every fully shipped order
and every solved ticket that has none (the unique constraints make that once),
and sends the due ones after checking the facts as they are then — the order
cancelled, refunded or returned, the ticket reopened, an open ticket about the
order, the customer's quiet period. Nothing depends on which event came first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from ..conf import SupportSettings
from ..notifications.kinds import NotificationKind
from ..notifications.models import Notification
from ..notifications.services import create_ticket_notification, is_opted_out
from ..notifications.unsubscribe import public_base_url
from ..orders.models import OrderSnapshot
from ..tickets.models import UNCOUNTED_TAGS, Ticket, TicketStatus
from .links import survey_context
from .models import Survey, SurveyKind, SurveyState

logger = logging.getLogger(__name__)

SOLVED = (TicketStatus.SOLVED, TicketStatus.CLOSED)
# Tags staff put on tickets that must not be surveyed.
NO_SURVEY_TAGS = UNCOUNTED_TAGS
# Orders or tickets older than this when first seen are not surveyed late.
TOO_LATE = timedelta(days=7)
FULFILLED = "fulfilled"
# Order statuses of a fully shipped order: a partly returned one was shipped in
# full and the customer kept something (a full return is "returned").
SHIPPED_ORDER_STATUSES = (FULFILLED, "partially_returned")
# Why a CSAT survey did not go when its ticket reopened; the next solving revives it.
REOPENED = "the ticket was reopened before the survey went"
NO_PUBLIC_URL = (
    "no public URL for the survey links: set the plugin's public URL "
    "(or the host's PUBLIC_URL)"
)


@dataclass(frozen=True)
class Planned:
    nps: int
    csat: int


def plan_surveys(*, settings: SupportSettings, now: datetime | None = None) -> Planned:
    """Create the scheduled surveys that fully shipped orders and solved tickets are owed."""
    if not (settings.active and settings.surveys_enabled):
        return Planned(0, 0)
    now = now or timezone.now()
    return Planned(_plan_nps(settings, now), _plan_csat(settings, now))


def _nps_start(
    order: Any, settings: SupportSettings, now: datetime
) -> tuple[str, datetime, datetime] | None:
    """(trigger, triggered at, due at) for a shipped order, or None while it must wait."""
    delay = timedelta(days=settings.survey_delay_days)
    shipped_at = order.shipped_at
    if settings.survey_start == "fulfillment":
        return ("fulfillment", shipped_at, shipped_at + delay)
    if order.undelivered == 0 and order.delivered_at is not None:
        return ("delivery", order.delivered_at, order.delivered_at + delay)
    wait = timedelta(days=settings.survey_carrier_wait_days)
    if now - shipped_at >= wait:
        # No delivery news for some shipment within the wait: count from shipping.
        return (
            "fulfillment (no delivery news)",
            shipped_at,
            shipped_at + max(delay, wait),
        )
    return None


def _plan_nps(settings: SupportSettings, now: datetime) -> int:
    shipped = Q(fulfillments__status=FULFILLED)
    horizon = now - timedelta(
        days=settings.survey_delay_days + settings.survey_carrier_wait_days
    )
    orders = (
        OrderSnapshot.objects.filter(status__in=SHIPPED_ORDER_STATUSES)
        .exclude(surveys__kind=SurveyKind.NPS)
        .annotate(
            shipped_at=Max("fulfillments__created_at", filter=shipped),
            delivered_at=Max("fulfillments__delivered_at", filter=shipped),
            undelivered=Count(
                "fulfillments",
                filter=shipped & Q(fulfillments__delivered_at__isnull=True),
            ),
        )
        .filter(shipped_at__gte=horizon - TOO_LATE)
        .order_by("shipped_at")
    )
    created = 0
    for order in orders[:2000]:
        start = _nps_start(order, settings, now)
        if start is None:
            continue
        trigger, triggered_at, due_at = start
        late = due_at < now - TOO_LATE
        _, was_created = Survey.objects.get_or_create(
            kind=SurveyKind.NPS,
            order=order,
            defaults={
                "customer_email": order.customer_email,
                "customer_user_id": order.user_id,
                "channel_slug": order.channel_slug,
                "language_code": order.language_code,
                "trigger": trigger,
                "triggered_at": triggered_at,
                "due_at": due_at,
                "state": SurveyState.CANCELLED if late else SurveyState.SCHEDULED,
                "reason": "too late: it was due more than a week before the plugin saw it"
                if late
                else "",
            },
        )
        created += int(was_created)
    return created


def _plan_csat(settings: SupportSettings, now: datetime) -> int:
    delay = timedelta(hours=settings.csat_delay_hours)
    tickets = (
        Ticket.objects.filter(status__in=SOLVED, solved_at__gte=now - delay - TOO_LATE)
        .exclude(surveys__kind=SurveyKind.CSAT)
        .select_related("order")
    )
    created = 0
    for ticket in tickets[:2000]:
        assert ticket.solved_at is not None
        excluded = set(ticket.tags or ()) & set(NO_SURVEY_TAGS)
        _, was_created = Survey.objects.get_or_create(
            kind=SurveyKind.CSAT,
            ticket=ticket,
            defaults={
                "order": None,
                "customer_email": ticket.customer_email,
                "customer_user_id": ticket.customer_user_id,
                "channel_slug": ticket.order.channel_slug if ticket.order else "",
                "language_code": ticket.order.language_code if ticket.order else "en",
                "trigger": "ticket solved",
                "triggered_at": ticket.solved_at,
                "due_at": ticket.solved_at + delay,
                "state": SurveyState.CANCELLED if excluded else SurveyState.SCHEDULED,
                "reason": f"the ticket is tagged {', '.join(sorted(excluded))}"
                if excluded
                else "",
            },
        )
        created += int(was_created)
    return created + _revive_reopened(delay, now)


def _revive_reopened(delay: timedelta, now: datetime) -> int:
    """Schedule again the CSAT a reopening cancelled, once its ticket is solved again.

    It was never sent, so the ticket's one survey is still owed: it counts from
    the last solving, like a first one.
    """
    revivable = Survey.objects.filter(
        kind=SurveyKind.CSAT,
        state=SurveyState.CANCELLED,
        reason=REOPENED,
        ticket__status__in=SOLVED,
        ticket__solved_at__gt=F("triggered_at"),
        ticket__solved_at__gte=now - delay - TOO_LATE,
    ).values_list("pk", "ticket__solved_at")
    revived = 0
    for pk, solved_at in revivable[:2000]:
        assert solved_at is not None  # filtered: solved after the first solving
        revived += Survey.objects.filter(
            pk=pk, state=SurveyState.CANCELLED, reason=REOPENED
        ).update(
            state=SurveyState.SCHEDULED,
            reason="",
            triggered_at=solved_at,
            due_at=solved_at + delay,
            updated_at=now,
        )
    return revived


# --- sending


def send_due_surveys(*, settings: SupportSettings, now: datetime | None = None) -> int:
    """Send every scheduled survey that is due and still owed; return how many went out."""
    if not (settings.active and settings.surveys_enabled):
        return 0
    now = now or timezone.now()
    due = list(
        Survey.objects.filter(state=SurveyState.SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:1000]
    )
    sent = 0
    for pk in due:
        sent += int(_send_one(pk, settings, now))
    return sent


def _send_one(pk: Any, settings: SupportSettings, now: datetime) -> bool:
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("order", "ticket", "ticket__order")
            .filter(pk=pk, state=SurveyState.SCHEDULED)
            .first()
        )
        if survey is None:
            return False
        if _solved_again_later(survey, settings, now):
            return False
        if survey.customer_email:
            # One customer's surveys are decided one at a time: two workers
            # sending two of their surveys must not both pass the quiet period
            # or the gap, each before the other's commit.
            _lock_customer(survey.customer_email)
        decision = _decide(survey, settings, now)
        if decision.cancel:
            survey.state = SurveyState.CANCELLED
            survey.reason = decision.cancel[:255]
            survey.save(update_fields=["state", "reason", "updated_at"])
            return False
        if decision.wait:
            if survey.reason != decision.wait:
                survey.reason = decision.wait[:255]
                survey.save(update_fields=["reason", "updated_at"])
            return False
        survey.state = SurveyState.SENT
        survey.sent_at = now
        survey.expires_at = now + timedelta(days=settings.survey_link_days)
        survey.reason = ""
        survey.save(
            update_fields=["state", "sent_at", "expires_at", "reason", "updated_at"]
        )
        order = survey.order or (survey.ticket.order if survey.ticket else None)
        key = f"survey:{survey.pk}"
        queued = create_ticket_notification(
            kind=_notification_kind(survey),
            key=key,
            recipients=[survey.customer_email],
            context=survey_context(survey, settings),
            order_id=order.order_id if order is not None else None,
            language_code=survey.language_code,
            settings=settings,
        )
        if not queued:
            # Suppressed (no address, …): never sent, so it counts neither as
            # sent nor for the quiet period; the outbox row keeps the detail.
            why = (
                Notification.objects.filter(
                    dedupe_key=f"{key}:{survey.customer_email.lower()}:email"
                )
                .values_list("reason", flat=True)
                .first()
            )
            survey.state = SurveyState.CANCELLED
            survey.sent_at = survey.expires_at = None
            survey.reason = f"the email was not sent: {why or 'suppressed'}"[:255]
            survey.save(
                update_fields=["state", "sent_at", "expires_at", "reason", "updated_at"]
            )
            return False
    logger.info("Survey %s (%s) sent to the customer", survey.pk, survey.kind)
    return True


def _lock_customer(email: str) -> None:
    """Hold the customer's survey lock until the transaction ends (advisory, no row)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"saleor-support-plugin:survey-customer:{email.lower()}"],
        )


def _notification_kind(survey: Survey) -> NotificationKind:
    return (
        NotificationKind.SURVEY_NPS
        if survey.kind == SurveyKind.NPS
        else NotificationKind.SURVEY_CSAT
    )


def _solved_again_later(
    survey: Survey, settings: SupportSettings, now: datetime
) -> bool:
    """Count a CSAT from its ticket's last solving; True while that makes it not due.

    A ticket reopened and solved again between two runs never looked reopened
    to the task: its survey still waits a full delay after the last solving.
    """
    ticket = survey.ticket
    if (
        survey.kind != SurveyKind.CSAT
        or ticket is None
        or ticket.status not in SOLVED
        or ticket.solved_at is None
        or ticket.solved_at <= survey.triggered_at
    ):
        return False
    survey.triggered_at = ticket.solved_at
    survey.due_at = ticket.solved_at + timedelta(hours=settings.csat_delay_hours)
    survey.save(update_fields=["triggered_at", "due_at", "updated_at"])
    return survey.due_at > now


@dataclass(frozen=True)
class Decision:
    cancel: str = ""
    wait: str = ""


def _decide(survey: Survey, settings: SupportSettings, now: datetime) -> Decision:
    if not survey.customer_email:
        return Decision(cancel="there is no customer email address")
    if is_opted_out(survey.customer_email):
        return Decision(cancel="the customer unsubscribed from our emails")
    kind = _notification_kind(survey)
    if not settings.kind_enabled(kind):
        # The merchant switched this email off: the survey never goes.
        return Decision(cancel=f"'{kind.label}' emails are switched off")
    if not public_base_url(settings):
        # The score links would be relative: no mail client can open them.
        return Decision(cancel=NO_PUBLIC_URL)
    if survey.kind == SurveyKind.CSAT:
        ticket = survey.ticket
        if ticket is None:
            return Decision(cancel="the ticket was deleted")
        if ticket.status not in SOLVED:
            return Decision(cancel=REOPENED)
        tags = set(ticket.tags or ()) & set(NO_SURVEY_TAGS)
        if tags:
            return Decision(cancel=f"the ticket is tagged {', '.join(sorted(tags))}")
        return _gap(survey, settings, now)
    order = survey.order
    if order is None:
        return Decision(cancel="the order was deleted")
    if order.status == "canceled":
        return Decision(cancel="the order was cancelled")
    if order.total_refunded >= order.total_gross > 0:
        return Decision(cancel="the order was fully refunded")
    if not order.lines.filter(quantity_kept__gt=0).exists() and order.lines.exists():
        return Decision(cancel="everything was returned")
    quiet_since = now - timedelta(days=settings.survey_quiet_days)
    if (
        Survey.objects.filter(
            kind=SurveyKind.NPS,
            customer_email=survey.customer_email,
            sent_at__gte=quiet_since,
        )
        .exclude(pk=survey.pk)
        .exists()
    ):
        return Decision(
            cancel=f"the customer got a survey in the last {settings.survey_quiet_days} days"
        )
    open_ticket = (
        Ticket.objects.filter(order=order)
        .exclude(status__in=SOLVED)
        .order_by("number")
        .first()
    )
    if open_ticket is not None:
        return Decision(
            wait=f"waiting: ticket {open_ticket.reference} about the order is open"
        )
    return _gap(survey, settings, now)


def _gap(survey: Survey, settings: SupportSettings, now: datetime) -> Decision:
    """Wait while the customer got another survey (of either kind) within the gap."""
    if not settings.survey_gap_days:
        return Decision()
    last = (
        Survey.objects.filter(
            customer_email=survey.customer_email,
            sent_at__gt=now - timedelta(days=settings.survey_gap_days),
        )
        .exclude(pk=survey.pk)
        .aggregate(last=Max("sent_at"))["last"]
    )
    if last is None:
        return Decision()
    until = last + timedelta(days=settings.survey_gap_days)
    return Decision(
        wait=f"waiting: the customer got another survey on {last:%Y-%m-%d %H:%M} UTC; "
        f"this one goes after {until:%Y-%m-%d %H:%M} UTC"
    )
