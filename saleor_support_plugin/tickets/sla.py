"""SLA: due times in business hours by priority, and breaches reported once each.

While a ticket waits for the customer (pending customer) its clocks stand
still: the wait's business time moves the due times of the targets not yet
met, and is left out of the first-response and resolution durations kept on
the ticket for the statistics.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from ..conf import SupportSettings
from ..core.calendar import BusinessCalendar
from ..notifications.identity import message_id_domain, ticket_thread_id
from ..notifications.kinds import NotificationKind
from ..notifications.services import create_ticket_notification
from .models import Ticket, TicketStatus

DONE_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)
PAUSED = TicketStatus.PENDING_CUSTOMER


def _paused_before_first_response(ticket: Ticket, calendar: BusinessCalendar) -> int:
    if ticket.first_responded_at is None:
        return ticket.paused_business_seconds
    if ticket.first_response_business_seconds is None:
        return 0  # answered before waits were kept
    elapsed = calendar.business_seconds(ticket.created_at, ticket.first_responded_at)
    return max(0, elapsed - ticket.first_response_business_seconds)


def apply_sla(ticket: Ticket, settings: SupportSettings) -> None:
    """Set due times from when the ticket was opened, its priority and its ended waits (not saved)."""
    calendar = BusinessCalendar.from_settings(settings)
    first_response, resolution = settings.sla_targets(ticket.priority)
    ticket.first_response_due_at = calendar.add_business_hours(
        ticket.created_at,
        first_response + _paused_before_first_response(ticket, calendar) / 3600,
    )
    ticket.resolution_due_at = calendar.add_business_hours(
        ticket.created_at, resolution + ticket.paused_business_seconds / 3600
    )


def _paused_so_far(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> int:
    running = (
        calendar.business_seconds(ticket.paused_at, now)
        if ticket.paused_at is not None
        else 0
    )
    return ticket.paused_business_seconds + running


def record_first_response(
    ticket: Ticket, now: datetime, settings: SupportSettings
) -> None:
    """Note the first public staff reply and its business-hours duration (not saved)."""
    if ticket.first_responded_at is not None:
        return
    calendar = BusinessCalendar.from_settings(settings)
    ticket.first_responded_at = now
    ticket.first_response_business_seconds = max(
        0,
        calendar.business_seconds(ticket.created_at, now)
        - _paused_so_far(ticket, calendar, now),
    )
    if ticket.paused_at is not None and ticket.first_response_due_at is not None:
        # Answered during a wait: the wait so far counts for this target now,
        # as the end of the wait no longer moves a target that is met.
        running = calendar.business_seconds(ticket.paused_at, now)
        ticket.first_response_due_at = calendar.add_business_hours(
            ticket.first_response_due_at, running / 3600
        )


def track_status_change(
    ticket: Ticket, previous: str, now: datetime, settings: SupportSettings
) -> None:
    """Stop or restart the SLA clocks and note the resolution for `ticket.status` (not saved).

    Call after setting the new status, with the status it had before.
    """
    status = ticket.status
    if status == previous:
        return
    calendar = BusinessCalendar.from_settings(settings)
    if previous == PAUSED:
        started = ticket.paused_at or now
        paused = calendar.business_seconds(started, now)
        ticket.paused_at = None
        ticket.paused_business_seconds += paused
        # A due time moves by the whole wait, also one that had passed: the
        # work time spent is what counts, so a missed target stays missed.
        if (
            paused
            and ticket.first_responded_at is None
            and ticket.first_response_due_at
        ):
            ticket.first_response_due_at = calendar.add_business_hours(
                ticket.first_response_due_at, paused / 3600
            )
        if paused and ticket.resolution_due_at:
            ticket.resolution_due_at = calendar.add_business_hours(
                ticket.resolution_due_at, paused / 3600
            )
    if status == PAUSED:
        ticket.paused_at = now
    if status in DONE_STATUSES and previous not in DONE_STATUSES:
        ticket.resolution_business_seconds = max(
            0,
            calendar.business_seconds(ticket.created_at, now)
            - ticket.paused_business_seconds,
        )
    elif status not in DONE_STATUSES and previous in DONE_STATUSES:
        ticket.resolution_business_seconds = None


def _breach_context(ticket: Ticket, what: str, due: datetime) -> dict:
    return {
        "ticket": {
            "number": ticket.number,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
        },
        "breach": {"target": what, "due_at": due.isoformat(timespec="minutes")},
        "customer_email": ticket.customer_email,
        "order": {"number": ticket.order.number} if ticket.order is not None else {},
    }


def check_sla_breaches(
    *, now: datetime, settings: SupportSettings
) -> list[tuple[int, str]]:
    """Mark tickets past a target and tell the assignee (or the team), once per breach."""
    breached: list[tuple[int, str]] = []
    # A ticket waiting for the customer has its clocks stopped.
    open_tickets = Ticket.objects.exclude(status__in=(*DONE_STATUSES, PAUSED))
    first = open_tickets.filter(
        first_responded_at__isnull=True,
        first_response_due_at__lt=now,
        first_response_breached_at__isnull=True,
    )
    resolution = open_tickets.filter(
        resolution_due_at__lt=now, resolution_breached_at__isnull=True
    )
    for what, candidates, field in (
        ("first response", first, "first_response_breached_at"),
        ("resolution", resolution, "resolution_breached_at"),
    ):
        for pk in candidates.values_list("pk", flat=True)[:1000]:
            with transaction.atomic():
                ticket = (
                    Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("order")
                    .filter(pk=pk)
                    .filter(**{f"{field}__isnull": True})
                    .first()
                )
                if ticket is None:
                    continue
                setattr(ticket, field, now)
                ticket.save(update_fields=[field])
                due = (
                    ticket.first_response_due_at
                    if what == "first response"
                    else ticket.resolution_due_at
                )
                assert due is not None
                recipients = (
                    [ticket.assignee_email]
                    if ticket.assignee_email
                    else list(settings.support_staff_addresses)
                )
                create_ticket_notification(
                    kind=NotificationKind.TICKET_SLA_BREACH,
                    key=f"sla:{ticket.pk}:{field}",
                    recipients=recipients,
                    context=_breach_context(ticket, what, due),
                    order_id=ticket.order.order_id
                    if ticket.order is not None
                    else None,
                    language_code="en",
                    settings=settings,
                    references=[
                        ticket_thread_id(ticket.pk, message_id_domain(settings))
                    ],
                )
                breached.append((ticket.number, what))
    return breached


def sla_breached_q() -> Q:
    return Q(first_response_breached_at__isnull=False) | Q(
        resolution_breached_at__isnull=False
    )
